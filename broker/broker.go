// Package broker holds Chute's use cases — create an upload, sign part
// URLs, record part reports, complete, abort, hand out download URLs — and
// the policies around them (profiles, ownership, limits). It is written
// against small interfaces: an ObjectStore per backend and a
// session.Store; it knows nothing of HTTP. Package broker/httpapi serves
// it over HTTP.
//
// Every use case takes the caller's subject: a session belongs to the
// subject that created it, and any other subject is told it does not
// exist.
package broker

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// Limits of the API.
const (
	// FirstBatch is how many part URLs a create returns.
	FirstBatch = 32
	// MaxBatch is the most part URLs one part-urls call may ask for.
	MaxBatch = 1000
	// MaxMetadata bounds the user metadata: entries, and bytes of keys plus values
	// (S3 allows 2 KiB of user metadata in all).
	MaxMetadataEntries = 32
	MaxMetadataBytes   = 2048
	// MaxFilenameLen bounds the filename hint, in bytes.
	MaxFilenameLen = 4096
)

// Config wires a Service.
type Config struct {
	// Profiles by name; "default" is used when a request names none.
	Profiles map[string]Profile
	// Backends by name, as profiles refer to them.
	Backends map[string]ObjectStore
	// Capabilities of each backend, by the same names. A backend missing
	// here gets ResolveCapabilities of its store; wire the undecorated
	// store's capabilities here when Backends holds decorated stores.
	Capabilities map[string]Capabilities
	// Sessions is the session store.
	Sessions session.Store
	// TTL is how long a session lives (and a completed one is remembered).
	TTL time.Duration
	// CompleteTimeout bounds a complete once started, even if the client
	// goes away (default 2m).
	CompleteTimeout time.Duration
	// Logger receives server-side details of failures (never URLs or secrets).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxOpenSessions caps each subject's open sessions when the session
	// store is a session.OpenLimiter (0: no cap; see limits.go).
	MaxOpenSessions int
	// Authorizer, when set, is asked before every upload is created
	// (see authorize.go).
	Authorizer Authorizer
	// AuthorizerHeaders names the client request headers passed on to the
	// Authorizer (see Service.ClientHeaderNames).
	AuthorizerHeaders []string
	// Events, when set, receives an Event when a session ends
	// (see events.go).
	Events EventSink
	// SignCache tunes the cache that signs part URLs without a session
	// store read (see signcache.go).
	SignCache SignCacheConfig
	// Verifier asks the profiles' verify hooks (see verify.go); required
	// when a profile has one.
	Verifier Verifier
	// Quotas keeps the byte quotas of QuotaLimits (quota.go); required
	// when a limit is set.
	Quotas      Quotas
	QuotaLimits []QuotaLimit
}

// Service runs the use cases. It is safe for concurrent use and holds no
// per-upload state of its own: any number of replicas can share one
// session store.
type Service struct {
	profiles map[string]Profile
	backends map[string]ObjectStore
	caps     map[string]Capabilities
	sessions session.Store
	ttl      time.Duration
	complete time.Duration
	log      *slog.Logger
	now      func() time.Time
	maxOpen  int

	authorizer Authorizer
	headers    []string
	events     EventSink
	signs      *signCache
	// signReadTimeout bounds a signing read without a deadline (signcache.go).
	signReadTimeout time.Duration
	verifier        Verifier
	quota           quotaPolicy
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Sessions == nil {
		return nil, errors.New("broker: no session store")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("broker: session ttl must be positive")
	}
	if _, ok := cfg.Profiles["default"]; !ok {
		return nil, errors.New("broker: no default profile")
	}
	caps := make(map[string]Capabilities, len(cfg.Backends))
	for name, store := range cfg.Backends {
		c, ok := cfg.Capabilities[name]
		if !ok {
			c = ResolveCapabilities(store)
		}
		caps[name] = c
	}
	for name, p := range cfg.Profiles {
		if _, ok := cfg.Backends[p.Backend]; !ok {
			return nil, fmt.Errorf("broker: profile %q uses unknown backend %q", name, p.Backend)
		}
		if p.URLTTL <= 0 || p.PartSize <= 0 || p.MaxSize <= 0 {
			return nil, fmt.Errorf("broker: profile %q needs positive url_ttl, part_size and max_size", name)
		}
		if p.Sniff && caps[p.Backend].Heads == nil {
			return nil, fmt.Errorf("broker: profile %q sniffs, but backend %q cannot read object heads", name, p.Backend)
		}
	}
	s := &Service{
		profiles: cfg.Profiles,
		backends: cfg.Backends,
		caps:     caps,
		sessions: cfg.Sessions,
		ttl:      cfg.TTL,
		complete: cfg.CompleteTimeout,
		log:      cfg.Logger,
		now:      cfg.Now,
		maxOpen:  cfg.MaxOpenSessions,

		authorizer:      cfg.Authorizer,
		headers:         cfg.AuthorizerHeaders,
		events:          cfg.Events,
		signs:           newSignCache(cfg.SignCache),
		signReadTimeout: cmp.Or(max(cfg.SignCache.ReadTimeout, 0), DefaultSignReadTimeout),
		verifier:        cfg.Verifier,
	}
	if s.complete <= 0 {
		s.complete = 2 * time.Minute
	}
	if err := checkVerify(cfg.Profiles, cfg.Verifier, s.complete); err != nil {
		return nil, err
	}
	var err error
	if s.quota, err = newQuotaPolicy(cfg.Quotas, cfg.QuotaLimits, cfg.Profiles); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// NewID returns a fresh session id: "upl_" and 26 base32 characters
// (128 random bits).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "upl_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Create validates the request against its profile, creates the upload on
// the store (multipart) and the session, and returns the first presigned
// URLs.
func (s *Service) Create(ctx context.Context, subject string, req CreateRequest) (*CreateResult, error) {
	name := req.Profile
	if name == "" {
		name = "default"
	}
	prof, ok := s.profiles[name]
	if !ok {
		return nil, Errorf(CodeInvalidRequest, "profile %q does not exist", name)
	}
	if err := validateCreate(&req, &prof); err != nil {
		return nil, err
	}
	if err := admit(&prof, subject, req.Size); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	id := NewID()
	// The open-session slot (Redis) before the Authorizer (the app): a
	// Redis outage then costs the app no calls.
	slot := &session.Session{ID: id, Subject: subject, Profile: name, Size: *req.Size} // Profile and Size for the quotas
	if err := s.reserveOpen(ctx, slot, now.Add(s.ttl)); err != nil {
		return nil, err
	}
	created := false
	defer s.releaseUnless(ctx, &created, slot)
	grant, err := s.authorize(ctx, subject, name, &req, req.Size, req.ClientHeaders)
	if err != nil {
		return nil, err
	}
	req.Metadata = grant.metadata
	store := s.backends[prof.Backend]
	key, err := RenderKey(prof.KeyTemplate, KeyFields{Subject: subject, ID: id, Profile: name, Filename: req.Filename, Now: now})
	if err != nil {
		return nil, wrap(CodeInternal, err, "Internal error.")
	}
	if key, err = grant.applyKey(key); err != nil {
		return nil, err
	}
	alg, whole, err := s.checksumOf(prof.Backend, req.Checksum)
	if err != nil {
		return nil, err
	}
	sess := &session.Session{
		ID: id, Subject: subject, Profile: name, Backend: prof.Backend, Key: key,
		State: session.StatePending, Filename: req.Filename, ContentType: req.ContentType,
		Size: *req.Size, Metadata: req.Metadata,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.ttl),
		ChecksumAlgorithm: string(alg), Checksum: whole,
	}

	res := &CreateResult{
		ID: id, Key: key, State: string(session.StatePending), Size: sess.Size,
		ContentType: req.ContentType, ExpiresAt: sess.ExpiresAt,
	}
	ttl := s.urlTTL(&prof, sess)

	// Every native upload is a multipart upload, a single one too (of
	// one part): ending its upload id in the store (complete, abort,
	// expiry) kills every URL handed out for it (docs/guarantees.md).
	single := sess.Size <= prof.SingleMax && sess.Size <= multipart.MaxSingleSize
	opts := ObjectOptions{ContentType: req.ContentType, Metadata: req.Metadata}
	opts.Checksum, opts.ChecksumType = s.createOptions(prof.Backend, alg, single, whole)
	var plan multipart.Plan
	if single {
		sess.Strategy = session.StrategySingle
		plan = multipart.Plan{Size: sess.Size, PartSize: sess.Size, PartCount: 1}
	} else {
		if plan, err = multipart.NewPlan(sess.Size, prof.PartSize); err != nil {
			return nil, Errorf(CodeTooLarge, "size %d is over what S3 allows (%d bytes)", sess.Size, multipart.MaxObjectSize)
		}
		sess.Strategy = session.StrategyMultipart
		sess.PartSize, sess.PartCount = plan.PartSize, plan.PartCount
	}
	uploadID, err := store.CreateMultipart(ctx, key, opts)
	if err != nil {
		return nil, s.storeError(err, "create multipart upload")
	}
	sess.UploadID = uploadID
	n := min(plan.PartCount, FirstBatch)
	parts := make([]PartURL, 0, n)
	for i := 1; i <= n; i++ {
		po := PartOptions{Size: plan.PartSizeOf(i)}
		if single {
			// The one URL carries what a plain PUT would sign: the type,
			// and the whole file's checksum when declared.
			po.ContentType = req.ContentType
			if whole != "" {
				po.Checksum = checksum.Value{Algorithm: alg, Value: whole}
			}
		}
		r, err := store.PresignPart(ctx, key, uploadID, i, po, ttl)
		if err != nil {
			s.abandon(store, key, uploadID)
			return nil, s.storeError(err, "presign part")
		}
		parts = append(parts, partURL(i, po.Size, r))
	}
	if err := s.sessions.Create(ctx, sess); err != nil {
		s.abandon(store, key, uploadID)
		return nil, s.sessionError(err, "create session")
	}
	created = true
	s.rememberSigning(sess)
	res.Strategy = string(sess.Strategy)
	if single {
		p := parts[0]
		res.Upload = &Upload{Method: p.Method, URL: p.URL, Headers: p.Headers, ExpiresAt: p.ExpiresAt}
		return res, nil
	}
	res.PartSize, res.PartCount, res.Parts = plan.PartSize, plan.PartCount, parts
	return res, nil
}

// abandon aborts a multipart upload that no session will know about.
func (s *Service) abandon(store ObjectStore, key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.AbortMultipart(ctx, key, uploadID); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("abort of abandoned multipart upload failed", "key", key, "err", err)
	}
}

// urlTTL is the profile's URL ttl, but never past the session's expiry.
func (s *Service) urlTTL(p *Profile, sess *session.Session) time.Duration {
	ttl := p.URLTTL
	if left := sess.ExpiresAt.Sub(s.now()); left < ttl {
		ttl = max(left, time.Second)
	}
	return ttl
}

// load returns the caller's session, or not_found for unknown sessions and
// for sessions of other subjects alike.
func (s *Service) load(ctx context.Context, subject, id string) (*session.Session, error) {
	return s.loadWith(ctx, subject, id, s.sessions.Get)
}

// loadWith is load with the given read of the session.
func (s *Service) loadWith(ctx context.Context, subject, id string, get func(context.Context, string) (*session.Session, error)) (*session.Session, error) {
	if !validID(id) {
		return nil, Errorf(CodeNotFound, "upload not found")
	}
	sess, err := get(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return nil, Errorf(CodeNotFound, "upload not found")
	}
	if err != nil {
		return nil, s.sessionError(err, "load session")
	}
	if sess.Subject != subject {
		return nil, Errorf(CodeNotFound, "upload not found")
	}
	return sess, nil
}

// sessionReader is what a session store may offer besides session.Store:
// a read of the session without its parts (session.RedisStore has it).
type sessionReader interface {
	GetSession(ctx context.Context, id string) (*session.Session, error)
}

// loadHead is load for callers that need no parts: one cheaper read (a
// single hash, no part list to decode) when the store offers it. The
// session's Parts are then nil.
func (s *Service) loadHead(ctx context.Context, subject, id string) (*session.Session, error) {
	if r, ok := s.sessions.(sessionReader); ok {
		return s.loadWith(ctx, subject, id, r.GetSession)
	}
	return s.load(ctx, subject, id)
}

func validID(id string) bool {
	if len(id) != 30 || !strings.HasPrefix(id, "upl_") {
		return false
	}
	for _, c := range id[4:] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// state is the state a client sees: an open session past its expiry is
// expired even before the store forgets it.
func (s *Service) state(sess *session.Session) session.State {
	if open(sess.State) && !s.now().Before(sess.ExpiresAt) {
		return session.StateExpired
	}
	return sess.State
}

func open(st session.State) bool {
	return st == session.StatePending || st == session.StateUploading
}

func (s *Service) status(sess *session.Session) *Status {
	st := &Status{
		ID: sess.ID, Key: sess.Key, Strategy: string(sess.Strategy), State: string(s.state(sess)),
		Size: sess.Size, ContentType: sess.ContentType, PartSize: sess.PartSize, PartCount: sess.PartCount,
		Parts: sess.Parts, Reason: sess.Reason,
		CreatedAt: sess.CreatedAt, UpdatedAt: sess.UpdatedAt, ExpiresAt: sess.ExpiresAt,
		Checksum: s.checksumView(sess),
	}
	if st.Parts == nil {
		st.Parts = []multipart.Part{}
	}
	for _, p := range sess.Parts {
		st.UploadedBytes += p.Size
	}
	if sess.State == session.StateCompleted {
		st.UploadedBytes = sess.Size
	}
	return st
}

// Status returns the session. With sync, it first reconciles the reported
// parts with the store's own list: parts the store holds with their
// planned size are recorded as reported.
func (s *Service) Status(ctx context.Context, subject, id string, sync bool) (*Status, error) {
	sess, err := s.load(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if !sync || !open(s.state(sess)) {
		return s.status(sess), nil
	}
	store := s.backends[sess.Backend]
	if sess.Strategy == session.StrategySingle {
		st := s.status(sess)
		if sess.UploadID == "" { // an Uppy single upload: staged
			info, err := store.Stat(ctx, StagingKey(sess.Key, sess.ID))
			switch {
			case err == nil && info.Size == sess.Size:
				st.UploadedBytes = sess.Size
			case err != nil && !errors.Is(err, ErrNotFound):
				return nil, s.storeError(err, "stat object")
			}
			return st, nil
		}
		stored, err := store.ListParts(ctx, sess.Key, sess.UploadID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, s.storeError(err, "list parts")
		}
		if _, err := singlePart(sess, stored); err == nil {
			st.UploadedBytes = sess.Size
		}
		return st, nil
	}
	stored, err := store.ListParts(ctx, sess.Key, sess.UploadID)
	if err != nil {
		return nil, s.storeError(err, "list parts")
	}
	plan := sessPlan(sess)
	known := make(map[int]multipart.Part, len(sess.Parts))
	for _, p := range sess.Parts {
		known[p.Number] = p
	}
	for _, p := range stored {
		if !plan.Valid(p.Number) || p.Size != plan.PartSizeOf(p.Number) {
			continue
		}
		if k, ok := known[p.Number]; ok && multipart.SameETag(k.ETag, p.ETag) {
			continue
		}
		p.ETag = multipart.NormalizeETag(p.ETag)
		updated, err := s.sessions.PutPart(ctx, sess.ID, p)
		if err != nil {
			if errors.Is(err, session.ErrConflict) {
				break // the session moved on (completing, aborted): show it as it is
			}
			return nil, s.sessionError(err, "record part")
		}
		sess = updated
	}
	if fresh, err := s.sessions.Get(ctx, sess.ID); err == nil {
		sess = fresh
	}
	return s.status(sess), nil
}

func sessPlan(sess *session.Session) multipart.Plan {
	return multipart.Plan{Size: sess.Size, PartSize: sess.PartSize, PartCount: sess.PartCount}
}

// PartURLs presigns the requested parts of an open multipart session.
func (s *Service) PartURLs(ctx context.Context, subject, id string, req PartURLsRequest) (*PartURLsResult, error) {
	sess, err := s.signing(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	return s.partURLs(ctx, sess, req)
}

// partURLs is PartURLs for the caller's session sess (read-only: it may
// be the signing cache's).
func (s *Service) partURLs(ctx context.Context, sess *session.Session, req PartURLsRequest) (*PartURLsResult, error) {
	if sess.Strategy != session.StrategyMultipart {
		return nil, Errorf(CodeConflict, "a single upload has no parts: use its upload URL")
	}
	if st := s.state(sess); !open(st) {
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}
	if len(req.PartNumbers) == 0 {
		return nil, Errorf(CodeInvalidRequest, "part_numbers: at least one part number is required")
	}
	if len(req.PartNumbers) > MaxBatch {
		return nil, Errorf(CodeInvalidRequest, "part_numbers: at most %d per call", MaxBatch)
	}
	plan := sessPlan(sess)
	for _, n := range req.PartNumbers {
		if !plan.Valid(n) {
			return nil, Errorf(CodeInvalidRequest, "part_numbers: %d is out of range 1..%d", n, plan.PartCount)
		}
	}
	alg, sums, err := partChecksums(sess, plan, &req)
	if err != nil {
		return nil, err
	}
	prof := s.profiles[sess.Profile]
	ttl := s.urlTTL(&prof, sess)
	store := s.backends[sess.Backend]
	out := make([]PartURL, 0, len(req.PartNumbers))
	for _, n := range req.PartNumbers {
		size := plan.PartSizeOf(n)
		po := PartOptions{Size: size}
		if v, ok := sums[n]; ok {
			po.Checksum = checksum.Value{Algorithm: alg, Value: v}
		}
		r, err := store.PresignPart(ctx, sess.Key, sess.UploadID, n, po, ttl)
		if err != nil {
			return nil, s.storeError(err, "presign part")
		}
		out = append(out, partURL(n, size, r))
	}
	return &PartURLsResult{Parts: out}, nil
}

// ReportPart records that part n was uploaded. Reporting is idempotent.
func (s *Service) ReportPart(ctx context.Context, subject, id string, n int, req ReportRequest) (*Status, error) {
	// The checks below need only the session's fields; PutPart's reply
	// carries the parts for the status, so the part list is read once.
	sess, err := s.loadHead(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if sess.Strategy != session.StrategyMultipart {
		return nil, Errorf(CodeConflict, "a single upload has no parts to report")
	}
	plan := sessPlan(sess)
	if !plan.Valid(n) {
		return nil, Errorf(CodeInvalidRequest, "part number %d is out of range 1..%d", n, plan.PartCount)
	}
	etag := multipart.NormalizeETag(req.ETag)
	if etag == "" || len(etag) > 128 {
		return nil, Errorf(CodeInvalidRequest, "etag: required, at most 128 characters")
	}
	if req.Size == nil {
		return nil, Errorf(CodeInvalidRequest, "size: required")
	}
	if want := plan.PartSizeOf(n); *req.Size != want {
		return nil, Errorf(CodeInvalidRequest, "size: part %d is planned as %d bytes, not %d", n, want, *req.Size)
	}
	if st := s.state(sess); !open(st) {
		if st == session.StateCompleting || st == session.StateCompleted {
			if sess.Parts == nil { // read without its parts: read them now
				if sess, err = s.load(ctx, subject, id); err != nil {
					return nil, err
				}
			}
			if p, ok := findPart(sess.Parts, n); ok && multipart.SameETag(p.ETag, etag) {
				return s.status(sess), nil // a repeated report: nothing to change
			}
		}
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}
	updated, err := s.sessions.PutPart(ctx, sess.ID, multipart.Part{Number: n, ETag: etag, Size: *req.Size})
	if err != nil {
		var se *session.StateError
		if errors.As(err, &se) {
			return nil, Errorf(CodeConflict, "upload is %s", se.Current)
		}
		return nil, s.sessionError(err, "record part")
	}
	return s.status(updated), nil
}

func findPart(parts []multipart.Part, n int) (multipart.Part, bool) {
	i := sort.Search(len(parts), func(i int) bool { return parts[i].Number >= n })
	if i < len(parts) && parts[i].Number == n {
		return parts[i], true
	}
	return multipart.Part{}, false
}

// Abort ends an open session and aborts its upload in the store (a single
// upload's object, if already PUT, is removed). Aborting an aborted
// session is a no-op.
func (s *Service) Abort(ctx context.Context, subject, id string) (*Status, error) {
	sess, err := s.load(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	switch sess.State {
	case session.StateAborted, session.StateExpired:
		return s.status(sess), nil
	case session.StateCompleted:
		return nil, Errorf(CodeConflict, "upload is completed")
	case session.StateCompleting:
		return nil, Errorf(CodeConflict, "upload is completing")
	}
	// The store work must finish even if the client goes away now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.complete)
	defer cancel()
	updated, err := s.sessions.Transition(ctx, sess.ID, session.Change{
		From:  []session.State{session.StatePending, session.StateUploading},
		To:    session.StateAborted,
		Event: s.eventMark(EventAborted),
	})
	if err != nil {
		var se *session.StateError
		if errors.As(err, &se) {
			if se.Current == session.StateAborted {
				return s.status(sess), nil
			}
			return nil, Errorf(CodeConflict, "upload is %s", se.Current)
		}
		return nil, s.sessionError(err, "abort session")
	}
	s.releaseOpen(ctx, sess)
	s.emit(ctx, EventAborted, updated)
	store := s.backends[sess.Backend]
	switch {
	case sess.UploadID != "":
		// Ending the upload id kills every URL handed out for it.
		err = store.AbortMultipart(ctx, sess.Key, sess.UploadID)
	default:
		// An Uppy single upload: its staged object, if sent, goes.
		err = store.Remove(ctx, StagingKey(sess.Key, sess.ID))
	}
	if err == nil || errors.Is(err, ErrNotFound) {
		err = s.discardUnverified(ctx, store, sess) // verify.go
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		// The session is aborted; the store's lifecycle rule (or chute gc)
		// collects what is left. Tell the client the store failed.
		return nil, s.storeError(err, "abort upload in store")
	}
	return s.status(updated), nil
}

// DownloadURL returns a fresh presigned GET for a completed upload.
func (s *Service) DownloadURL(ctx context.Context, subject, id string) (*Download, error) {
	sess, err := s.load(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if sess.State != session.StateCompleted {
		return nil, Errorf(CodeConflict, "upload is %s, not completed", s.state(sess))
	}
	return s.download(ctx, sess)
}

func (s *Service) download(ctx context.Context, sess *session.Session) (*Download, error) {
	prof := s.profiles[sess.Profile]
	r, err := s.backends[sess.Backend].PresignGet(ctx, sess.Key, s.getOptions(sess), prof.URLTTL)
	if err != nil {
		return nil, s.storeError(err, "presign download")
	}
	return &Download{URL: r.URL, ExpiresAt: r.ExpiresAt}, nil
}

// Ready checks the session store and every backend.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.sessions.Ping(ctx); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	names := make([]string, 0, len(s.backends))
	for n := range s.backends {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := s.backends[n].Ping(ctx); err != nil {
			return fmt.Errorf("backend %s: %w", n, err)
		}
	}
	return nil
}

// storeError turns a store failure into an API error; the cause is kept
// for the log.
func (s *Service) storeError(err error, op string) error {
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return wrap(CodeStorageUnavailable, err, "the storage backend is unavailable, try again")
	case errors.Is(err, ErrAccessDenied):
		return wrap(CodeStorageUnavailable, err, "the storage backend refused Chute's credentials")
	}
	return wrap(CodeInternal, fmt.Errorf("%s: %w", op, err), "Internal error.")
}

func (s *Service) sessionError(err error, op string) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, session.ErrUnavailable) {
		return wrap(CodeStorageUnavailable, fmt.Errorf("%s: %w", op, err), "the session store is unavailable, try again")
	}
	return wrap(CodeInternal, fmt.Errorf("%s: %w", op, err), "Internal error.")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
