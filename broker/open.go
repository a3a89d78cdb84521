package broker

// Uploads of unknown size: the use cases behind the Uppy-compatible
// routes (package broker/companion translates Companion's protocol into
// these calls), usable by any protocol that learns a file's size late.
//
// An upload made here is open-ended (multipart.OpenEnded): it has no part
// plan and its status shows size 0 until complete learns it, and:
//
//   - part URLs have no Content-Length signed in (the store caps a part at
//     S3's 5 GiB); part numbers are bounded by the profile's max_size
//     (multipart.OpenPlan), since every part but the last holds at least
//     5 MiB;
//   - complete learns the plan from the store's own part list (ListParts,
//     OpenPlan.Resolve): the client's list must name parts 1..N, the parts
//     must be of one size except a shorter last one, the ETags must match,
//     and the total must fit max_size (else the upload is aborted, 413).
//     The plan is then recorded on the session (session.PlanSetter) and
//     the usual completion check and object check run on it;
//   - a single upload is a POST policy (SignPost): the store itself
//     enforces the key, the Content-Type and content-length-range
//     0..max_size, and the form writes a staging key (staging.go) that
//     complete, or the promoter (promoter.go), copies into place.
//
// Every use case here names an upload by its session id, as /v1 does;
// Locate tells a protocol adapter the upload's key and bucket, so that it
// can check a second name of its own (Companion's key).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/multipart"
)

// OpenRequest asks for an upload whose size is not told: a Companion
// multipart create, or a request for POST policy parameters.
type OpenRequest struct {
	Filename    string
	ContentType string
	// Profile defaults to "default".
	Profile  string
	Metadata map[string]string
	// ClientHeaders are the allowlisted request headers for the Authorizer.
	ClientHeaders map[string]string
	// Size, when set, is the file's size in bytes. SignPost needs it for
	// a store without POST policy uploads (it then signs a PUT with this
	// Content-Length); the POST policy ignores it.
	Size *int64
}

// OpenUpload is a multipart upload created without a size.
type OpenUpload struct {
	// ID is the session id (Companion's uploadId).
	ID     string
	Key    string
	Bucket string
}

// PostUpload is a POST policy for a single upload, or, for a store
// without POST policy uploads, a presigned PUT (Method PUT, Headers set,
// Fields empty).
type PostUpload struct {
	ID        string
	Key       string
	Bucket    string
	Method    string // POST or PUT
	URL       string
	Fields    map[string]string
	Headers   map[string]string
	ExpiresAt time.Time
}

// openSession validates req, takes an open-session slot and builds a
// session of unknown size; it returns the session and its profile. The
// caller gives the slot back unless it creates the session
// (releaseUnless).
func (s *Service) openSession(ctx context.Context, subject string, req OpenRequest, strategy session.Strategy) (*session.Session, Profile, error) {
	name := req.Profile
	if name == "" {
		name = "default"
	}
	prof, ok := s.profiles[name]
	if !ok {
		return nil, prof, Errorf(CodeInvalidRequest, "profile %q does not exist", name)
	}
	size := int64(0)
	if req.Size != nil {
		size = *req.Size
	}
	cr := CreateRequest{Filename: req.Filename, ContentType: req.ContentType, Size: &size, Metadata: req.Metadata}
	if err := validateCreate(&cr, &prof); err != nil {
		return nil, prof, err
	}
	if err := admit(&prof, subject, nil); err != nil {
		return nil, prof, err
	}
	now := s.now().UTC()
	id := NewID()
	sess := &session.Session{
		ID: id, Subject: subject, Profile: name, Backend: prof.Backend,
		Strategy: strategy, State: session.StatePending, Filename: cr.Filename,
		ContentType: cr.ContentType, Kind: multipart.OpenEnded,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.ttl),
	}
	// The open-session slot (Redis) before the Authorizer (the app): a
	// Redis outage then costs the app no calls. A multipart session holds
	// it until it expires; a single one (POST policy or staged PUT), which
	// no one may complete, as long as its URL can be used.
	until := sess.ExpiresAt
	if strategy == session.StrategySingle {
		until = now.Add(s.urlTTL(&prof, sess))
	}
	if err := s.reserveOpen(ctx, sess, until); err != nil {
		return nil, prof, err
	}
	grant, err := s.authorize(ctx, subject, name, &cr, nil, req.ClientHeaders)
	if err != nil {
		s.releaseOpen(ctx, sess)
		return nil, prof, err
	}
	sess.Metadata = grant.metadata
	if grant.maxSize > 0 && grant.maxSize < prof.MaxSize {
		prof.MaxSize = grant.maxSize // the returned copy only: see CreateOpen
	}
	key, err := RenderKey(prof.KeyTemplate, KeyFields{Subject: subject, ID: id, Profile: name, Filename: cr.Filename, Now: now})
	if err == nil {
		key, err = grant.applyKey(key)
	} else {
		err = wrap(CodeInternal, err, "Internal error.")
	}
	if err != nil {
		s.releaseOpen(ctx, sess)
		return nil, prof, err
	}
	sess.Key = key
	return sess, prof, nil
}

// bucketOf names the bucket of a backend.
func (s *Service) bucketOf(backend string) string { return s.caps[backend].Bucket }

// CreateOpen starts a multipart upload of unknown size (Companion's POST
// /s3/multipart).
func (s *Service) CreateOpen(ctx context.Context, subject string, req OpenRequest) (*OpenUpload, error) {
	sess, prof, err := s.openSession(ctx, subject, req, session.StrategyMultipart)
	if err != nil {
		return nil, err
	}
	created := false
	defer s.releaseUnless(ctx, &created, sess)
	if prof.MaxSize < s.profiles[sess.Profile].MaxSize {
		// A lower limit from the Authorizer cannot be kept for a multipart
		// upload of unknown size (the session records no limit): refuse.
		return nil, s.refuse(subject, fmt.Errorf("authorizer: max_size cannot be enforced on a multipart upload of unknown size"))
	}
	store := s.backends[prof.Backend]
	if s.caps[prof.Backend].UnsizedParts == nil {
		return nil, wrap(CodeInternal, fmt.Errorf("backend %s cannot sign unsized parts", prof.Backend), "Internal error.")
	}
	uploadID, err := store.CreateMultipart(ctx, sess.Key, ObjectOptions{ContentType: sess.ContentType, Metadata: sess.Metadata})
	if err != nil {
		return nil, s.storeError(err, "create multipart upload")
	}
	sess.UploadID = uploadID
	if err := s.sessions.Create(ctx, sess); err != nil {
		s.abandon(store, sess.Key, uploadID)
		return nil, s.sessionError(err, "create session")
	}
	created = true
	s.rememberSigning(sess)
	return &OpenUpload{ID: sess.ID, Key: sess.Key, Bucket: s.bucketOf(prof.Backend)}, nil
}

// SignPost creates a single-upload session of unknown size and returns a
// POST policy for it (Companion's GET /s3/params): exactly the session's
// key and content type, 0..max_size bytes (at most S3's 5 GiB).
func (s *Service) SignPost(ctx context.Context, subject string, req OpenRequest) (*PostUpload, error) {
	if !s.postPolicyOf(s.profiles[profileName(req.Profile)].Backend) {
		return s.signPutForPost(ctx, subject, req)
	}
	sess, prof, err := s.openSession(ctx, subject, req, session.StrategySingle)
	if err != nil {
		return nil, err
	}
	// No one completes most POST policy sessions: the slot (taken by
	// openSession) lasts as long as the policy can be used.
	created := false
	defer s.releaseUnless(ctx, &created, sess)
	pp := s.caps[prof.Backend].Post
	if pp == nil {
		return nil, wrap(CodeInternal, fmt.Errorf("backend %s cannot sign POST policies", prof.Backend), "Internal error.")
	}
	post, err := pp.PresignPost(ctx, StagingKey(sess.Key, sess.ID), PostOptions{
		ContentType: sess.ContentType, Metadata: sess.Metadata,
		MinSize: prof.MinSize, MaxSize: min(prof.MaxSize, multipart.MaxSingleSize),
	}, s.urlTTL(&prof, sess))
	if err != nil {
		return nil, s.storeError(err, "presign post")
	}
	if err := s.sessions.Create(ctx, sess); err != nil {
		return nil, s.sessionError(err, "create session")
	}
	created = true
	s.stage(ctx, sess.ID, post.ExpiresAt)
	return &PostUpload{
		ID: sess.ID, Key: sess.Key, Bucket: s.bucketOf(prof.Backend), Method: "POST",
		URL: post.URL, Fields: post.Fields, ExpiresAt: post.ExpiresAt,
	}, nil
}

// profileName is name, or the default profile's when empty.
func profileName(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

// postPolicyOf reports whether the store of backend takes POST policy
// uploads.
func (s *Service) postPolicyOf(backend string) bool {
	c := s.caps[backend]
	return c.Post != nil && c.PostPolicy
}

// signPutForPost is SignPost for a store without POST policy uploads
// (Cloudflare R2, Backblaze B2): a single-upload session of the size the
// client tells (size=), and a presigned PUT with that Content-Length and
// the content type signed in, so that the store enforces both. Without a
// size nothing would bound the upload, so it is refused.
func (s *Service) signPutForPost(ctx context.Context, subject string, req OpenRequest) (*PostUpload, error) {
	backend := s.profiles[profileName(req.Profile)].Backend
	if req.Size == nil {
		return nil, Errorf(CodeInvalidRequest, "backend %s does not take POST policy uploads, so a single upload needs its size: send size=BYTES (a presigned PUT is returned), or use multipart uploads (Uppy: shouldUseMultipart: true)", backend)
	}
	sess, prof, err := s.openSession(ctx, subject, req, session.StrategySingle)
	if err != nil {
		return nil, err
	}
	created := false
	defer s.releaseUnless(ctx, &created, sess)
	size := *req.Size
	if size > multipart.MaxSingleSize {
		return nil, Errorf(CodeTooLarge, "size: %d bytes is over what one PUT may carry (%d): use a multipart upload", size, multipart.MaxSingleSize)
	}
	if size > prof.MaxSize {
		return nil, Errorf(CodeTooLarge, "size: %d bytes is over the limit of %d for this upload", size, prof.MaxSize)
	}
	if size < prof.MinSize {
		return nil, Errorf(CodeInvalidRequest, "size: %d bytes is under the profile's minimum of %d", size, prof.MinSize)
	}
	sess.Kind, sess.Size = multipart.Sized, size
	ttl := s.urlTTL(&prof, sess)
	if err := s.reserveQuota(ctx, sess, s.now().Add(ttl)); err != nil { // the size is known now: reserve it, not max_size
		return nil, err
	}
	put, err := s.backends[prof.Backend].PresignPut(ctx, StagingKey(sess.Key, sess.ID), size, ObjectOptions{ContentType: sess.ContentType, Metadata: sess.Metadata}, ttl)
	if err != nil {
		return nil, s.storeError(err, "presign put")
	}
	if err := s.sessions.Create(ctx, sess); err != nil {
		return nil, s.sessionError(err, "create session")
	}
	created = true
	s.stage(ctx, sess.ID, put.ExpiresAt)
	return &PostUpload{
		ID: sess.ID, Key: sess.Key, Bucket: s.bucketOf(prof.Backend), Method: "PUT",
		URL: put.URL, Fields: map[string]string{}, Headers: put.Headers, ExpiresAt: put.ExpiresAt,
	}, nil
}

// openPlan is the plan of an open-ended upload under p: at most max_size
// bytes, which bounds its part numbers (multipart.OpenPlan).
func openPlan(p *Profile) multipart.OpenPlan {
	return multipart.OpenPlan{Limit: min(p.MaxSize, multipart.MaxObjectSize)}
}

// SignPart presigns part n of the caller's multipart upload id, of either
// kind: for an open-ended upload no Content-Length is signed; for a sized
// one (created through /v1) it is PartURLs of one part.
func (s *Service) SignPart(ctx context.Context, subject, id string, n int) (*PartURL, error) {
	sess, err := s.signing(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if sess.Kind == multipart.Sized {
		res, err := s.partURLs(ctx, sess, PartURLsRequest{PartNumbers: []int{n}})
		if err != nil {
			return nil, err
		}
		return &res.Parts[0], nil
	}
	if sess.Strategy != session.StrategyMultipart {
		return nil, Errorf(CodeConflict, "a single upload has no parts")
	}
	if st := s.state(sess); !open(st) {
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}
	prof := s.profiles[sess.Profile]
	if plan := openPlan(&prof); !plan.Valid(n) {
		return nil, Errorf(CodeInvalidRequest, "part number %d is out of range 1..%d", n, plan.MaxParts())
	}
	up := s.caps[sess.Backend].UnsizedParts
	if up == nil {
		return nil, wrap(CodeInternal, fmt.Errorf("backend %s cannot sign unsized parts", sess.Backend), "Internal error.")
	}
	r, err := up.PresignPartUnsized(ctx, sess.Key, sess.UploadID, n, s.urlTTL(&prof, sess))
	if err != nil {
		return nil, s.storeError(err, "presign part")
	}
	p := partURL(n, 0, r)
	return &p, nil
}

// StoredParts returns the parts the store holds for the caller's open
// multipart upload id.
func (s *Service) StoredParts(ctx context.Context, subject, id string) ([]multipart.Part, error) {
	sess, err := s.loadHead(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if sess.Strategy != session.StrategyMultipart {
		return nil, Errorf(CodeConflict, "a single upload has no parts")
	}
	if st := s.state(sess); !open(st) {
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}
	parts, err := s.backends[sess.Backend].ListParts(ctx, sess.Key, sess.UploadID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "upload not found")
	}
	if err != nil {
		return nil, s.storeError(err, "list parts")
	}
	return parts, nil
}

// Location is where an upload's object goes.
type Location struct {
	Key    string
	Bucket string
}

// Locate returns the key and bucket of the caller's upload id, from the
// signing cache when it holds the session (a key never changes), else
// from one read of the session without its parts. A protocol that names
// an upload by (id, key), as Companion's does, checks its key with it.
func (s *Service) Locate(ctx context.Context, subject, id string) (*Location, error) {
	sess, err := s.signing(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	return &Location{Key: sess.Key, Bucket: s.bucketOf(sess.Backend)}, nil
}

// completeOpen is Complete for a session of unknown size: the plan is
// learned from the store, checked, recorded, and the upload finished as
// any other. It runs under the session lock like Complete.
func (s *Service) completeOpen(ctx context.Context, sess *session.Session, list []CompletePart) (*CompleteResult, error) {
	prof := s.profiles[sess.Profile]
	claimed, err := openClaims(sess, list, openPlan(&prof))
	if err != nil {
		return nil, err
	}
	if st := s.state(sess); st == session.StateAborted || st == session.StateExpired {
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}
	return s.completeLocked(ctx, sess.ID, func(work context.Context, sess *session.Session) (ObjectInfo, error) {
		return s.finishOpen(work, sess, &prof, claimed)
	})
}

// openClaims checks a client's part list for a session of unknown size:
// for multipart it must name parts 1..N once each, each a part number of
// plan.
func openClaims(sess *session.Session, list []CompletePart, plan multipart.OpenPlan) (map[int]string, error) {
	if sess.Strategy != session.StrategyMultipart {
		if len(list) > 0 {
			return nil, Errorf(CodeInvalidRequest, "parts: a single upload has no parts")
		}
		return nil, nil
	}
	if len(list) == 0 {
		return nil, Errorf(CodeInvalidRequest, "parts: the part list is required for an upload of unknown size")
	}
	out := make(map[int]string, len(list))
	for _, p := range list {
		if !plan.Valid(p.PartNumber) {
			return nil, Errorf(CodeInvalidRequest, "parts: part number %d is out of range 1..%d", p.PartNumber, plan.MaxParts())
		}
		if _, dup := out[p.PartNumber]; dup {
			return nil, Errorf(CodeInvalidRequest, "parts: part %d is listed twice", p.PartNumber)
		}
		if multipart.NormalizeETag(p.ETag) == "" {
			return nil, Errorf(CodeInvalidRequest, "parts: part %d has no etag", p.PartNumber)
		}
		out[p.PartNumber] = p.ETag
	}
	if len(out) != len(list) || !contiguous(out) {
		return nil, Errorf(CodeIncomplete, "parts: the list must name every part from 1 to %d", len(out))
	}
	return out, nil
}

func contiguous(m map[int]string) bool {
	for i := 1; i <= len(m); i++ {
		if _, ok := m[i]; !ok {
			return false
		}
	}
	return true
}

// finishOpen checks the stored upload of a session of unknown size
// against the profile, records the plan it learns and finishes the upload.
func (s *Service) finishOpen(ctx context.Context, sess *session.Session, prof *Profile, claimed map[int]string) (ObjectInfo, error) {
	store := s.backends[sess.Backend]
	if sess.Strategy != session.StrategyMultipart {
		return s.finishStaged(ctx, sess, prof)
	}
	stored, err := store.ListParts(ctx, sess.Key, sess.UploadID)
	if errors.Is(err, ErrNotFound) {
		return ObjectInfo{}, Errorf(CodeIncomplete, "the store no longer has this multipart upload")
	}
	if err != nil {
		return ObjectInfo{}, s.storeError(err, "list parts")
	}
	plan, err := openPlan(prof).Resolve(stored, len(claimed))
	if err != nil {
		if errors.Is(err, multipart.ErrIncomplete) {
			return ObjectInfo{}, Errorf(CodeIncomplete, "%s", err.Error())
		}
		return ObjectInfo{}, wrap(CodeInternal, err, "Internal error.")
	}
	if plan.Size > prof.MaxSize {
		return ObjectInfo{}, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("the upload is %d bytes, over the profile's limit of %d: upload aborted", plan.Size, prof.MaxSize), Err: errWrongObject}
	}
	if plan.Size < prof.MinSize {
		return ObjectInfo{}, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("the upload is %d bytes, under the profile's minimum of %d: upload aborted", plan.Size, prof.MinSize), Err: errWrongObject}
	}
	parts, err := multipart.Check(plan, stored, claimed)
	if err != nil {
		var ie *multipart.IncompleteError
		if errors.As(err, &ie) {
			return ObjectInfo{}, Errorf(CodeIncomplete, "%s", ie.Error())
		}
		return ObjectInfo{}, wrap(CodeInternal, err, "Internal error.")
	}
	// Record the plan before completing, so that a retry after a lost
	// answer finds a sized session and checks the object by its size.
	if err := s.setPlan(ctx, sess, plan); err != nil {
		return ObjectInfo{}, err
	}
	if _, err := store.CompleteMultipart(ctx, sess.Key, sess.UploadID, parts, CompleteOptions{IfNoneMatch: s.noOverwrite(sess)}); err != nil {
		switch {
		case errors.Is(err, ErrInvalidPart):
			return ObjectInfo{}, wrap(CodeIncomplete, err, "the store refused the part list")
		case errors.Is(err, ErrPrecondition):
			return ObjectInfo{}, &Error{Code: CodeConflict, Message: "an object already exists at this upload's key and is not replaced: upload aborted", Err: errors.Join(errWrongObject, err)}
		case errors.Is(err, ErrNotFound):
			return s.checkCompleted(ctx, store, sess, parts)
		}
		return ObjectInfo{}, s.storeError(err, "complete multipart upload")
	}
	return s.checkObject(ctx, store, sess, "the object has not been uploaded yet")
}

// setPlan records plan on the session, in the store when it can (a
// session.PlanSetter) and on sess in any case.
func (s *Service) setPlan(ctx context.Context, sess *session.Session, plan multipart.Plan) error {
	if ps, ok := session.AsPlanSetter(s.sessions); ok {
		if _, err := ps.SetPlan(ctx, sess.ID, plan.Size, plan.PartSize, plan.PartCount); err != nil {
			var se *session.StateError
			if errors.As(err, &se) {
				return Errorf(CodeConflict, "upload is %s", se.Current)
			}
			return s.sessionError(err, "record plan")
		}
	}
	sess.Kind, sess.Size, sess.PartSize, sess.PartCount = multipart.Sized, plan.Size, plan.PartSize, plan.PartCount
	s.forgetSigning(sess.ID)
	return nil
}
