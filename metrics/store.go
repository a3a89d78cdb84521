package metrics

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// storeOp is an object store operation: an index of storeOps.
type storeOp int

const (
	opCreateMultipart storeOp = iota
	opPresignPart
	opPresignPut
	opPresignGet
	opListParts
	opCompleteMultipart
	opAbortMultipart
	opStat
	opRemove
	opPing
	opPresignPost
	opPresignPartUnsized
	opReadHead
	opOpen
	opCopy
	numStoreOps
)

// The op label values of the object store metrics, by storeOp.
var storeOps = [numStoreOps]string{
	"create_multipart", "presign_part", "presign_put", "presign_get", "list_parts",
	"complete_multipart", "abort_multipart", "stat", "remove", "ping",
	"presign_post", "presign_part_unsized", "read_head", "open", "copy",
}

// The kind label values of chute_store_errors_total, in the order
// errorKind tells them.
var errorKinds = [...]string{"not_found", "unavailable", "access_denied", "invalid_part", "other"}

// Store returns s instrumented as backend name: every call is timed in
// chute_store_request_duration_seconds and every failure counted in
// chute_store_errors_total; every part URL signed counts in
// chute_parts_signed_total. Errors and results pass through unchanged.
//
// The result has only the ObjectStore methods: instrument the backend's
// optional abilities with Capabilities, each on its own.
func (m *Metrics) Store(name string, s broker.ObjectStore) broker.ObjectStore {
	return &instrumentedStore{m: m, series: m.storeSeries(name), next: s}
}

// backendSeries holds the series of one backend, resolved ahead of the
// calls so that a call only reads the clock twice and updates its series.
type backendSeries struct {
	name string
	// duration is resolved at an operation's first call: a histogram
	// appears when its operation is first used, as with WithLabelValues
	// per call.
	duration [numStoreOps]observerOnce
	errors   [numStoreOps][len(errorKinds)]prometheus.Counter
}

// storeSeries creates the error series of backend name, so that they read
// 0 before the first failure, and returns them with its (lazy) duration
// series.
func (m *Metrics) storeSeries(name string) *backendSeries {
	ss := &backendSeries{name: name}
	for op, o := range storeOps {
		for k, kind := range errorKinds {
			ss.errors[op][k] = m.storeErrors.WithLabelValues(name, o, kind)
		}
	}
	return ss
}

// Capabilities returns c with each ability instrumented like Store's
// calls; an absent ability stays absent, a present one stays present.
func (m *Metrics) Capabilities(name string, c broker.Capabilities) broker.Capabilities {
	is := &instrumentedStore{m: m, series: m.storeSeries(name)}
	if c.Heads != nil {
		c.Heads = headReader{is, c.Heads}
	}
	if c.Reader != nil {
		c.Reader = objectReader{is, c.Reader}
	}
	if c.Copier != nil {
		c.Copier = copier{is, c.Copier}
	}
	if c.Post != nil {
		c.Post = postPresigner{is, c.Post}
	}
	if c.UnsizedParts != nil {
		c.UnsizedParts = unsizedPresigner{is, c.UnsizedParts}
	}
	return c
}

type instrumentedStore struct {
	m      *Metrics
	series *backendSeries
	next   broker.ObjectStore
}

// observe records one call of op that started at start (a monotonic
// reading) and ended with err.
func (s *instrumentedStore) observe(op storeOp, start time.Duration, err error) {
	s.duration(op).Observe((monotonic() - start).Seconds())
	if err != nil {
		s.series.errors[op][errorKind(err)].Inc()
	}
}

// duration returns the duration series of op.
func (s *instrumentedStore) duration(op storeOp) prometheus.Observer {
	return s.series.duration[op].get(s.m.storeDuration, s.series.name, storeOps[op])
}

// observerOnce is one series of a histogram vector, resolved at its first
// use and then kept: WithLabelValues hashes the label values and looks
// the series up under a lock at every call. The vector's series must not
// be deleted (no Reset or Delete: none is, in this package).
type observerOnce struct {
	p atomic.Pointer[prometheus.Observer]
}

// get returns the series of vec with label values lvs, the same at every
// call.
func (o *observerOnce) get(vec *prometheus.HistogramVec, lvs ...string) prometheus.Observer {
	if p := o.p.Load(); p != nil {
		return *p
	}
	obs := vec.WithLabelValues(lvs...)
	o.p.Store(&obs)
	return obs
}

// ErrorKind classifies an object store error for chute_store_errors_total:
// not_found, unavailable (including a deadline exceeded), access_denied,
// invalid_part or other.
func ErrorKind(err error) string { return errorKinds[errorKind(err)] }

// errorKind is ErrorKind as an index of errorKinds.
func errorKind(err error) int {
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return 0
	case errors.Is(err, backends.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return 1
	case errors.Is(err, backends.ErrAccessDenied):
		return 2
	case errors.Is(err, backends.ErrInvalidPart):
		return 3
	}
	return 4
}

func (s *instrumentedStore) CreateMultipart(ctx context.Context, key string, opts backends.ObjectOptions) (string, error) {
	start := monotonic()
	id, err := s.next.CreateMultipart(ctx, key, opts)
	s.observe(opCreateMultipart, start, err)
	return id, err
}

func (s *instrumentedStore) PresignPart(ctx context.Context, key, uploadID string, partNumber int, opts broker.PartOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := monotonic()
	r, err := s.next.PresignPart(ctx, key, uploadID, partNumber, opts, ttl)
	s.observe(opPresignPart, start, err)
	if err == nil {
		s.m.partsSigned.Inc()
	}
	return r, err
}

func (s *instrumentedStore) PresignPut(ctx context.Context, key string, size int64, opts backends.ObjectOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := monotonic()
	r, err := s.next.PresignPut(ctx, key, size, opts, ttl)
	s.observe(opPresignPut, start, err)
	return r, err
}

func (s *instrumentedStore) PresignGet(ctx context.Context, key string, opts backends.GetOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := monotonic()
	r, err := s.next.PresignGet(ctx, key, opts, ttl)
	s.observe(opPresignGet, start, err)
	return r, err
}

func (s *instrumentedStore) ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	start := monotonic()
	p, err := s.next.ListParts(ctx, key, uploadID)
	s.observe(opListParts, start, err)
	return p, err
}

func (s *instrumentedStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part, opts broker.CompleteOptions) (broker.ObjectInfo, error) {
	start := monotonic()
	info, err := s.next.CompleteMultipart(ctx, key, uploadID, parts, opts)
	s.observe(opCompleteMultipart, start, err)
	return info, err
}

func (s *instrumentedStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	start := monotonic()
	err := s.next.AbortMultipart(ctx, key, uploadID)
	s.observe(opAbortMultipart, start, err)
	return err
}

func (s *instrumentedStore) Stat(ctx context.Context, key string) (backends.ObjectInfo, error) {
	start := monotonic()
	info, err := s.next.Stat(ctx, key)
	s.observe(opStat, start, err)
	return info, err
}

func (s *instrumentedStore) Remove(ctx context.Context, key string) error {
	start := monotonic()
	err := s.next.Remove(ctx, key)
	s.observe(opRemove, start, err)
	return err
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	start := monotonic()
	err := s.next.Ping(ctx)
	s.observe(opPing, start, err)
	return err
}

type headReader struct {
	*instrumentedStore
	next broker.HeadReader
}

func (h headReader) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	start := monotonic()
	b, err := h.next.ReadHead(ctx, key, n)
	h.observe(opReadHead, start, err)
	return b, err
}

type objectReader struct {
	*instrumentedStore
	next broker.ObjectReader
}

func (r objectReader) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	start := monotonic()
	rc, err := r.next.Open(ctx, key)
	r.observe(opOpen, start, err)
	return rc, err
}

type copier struct {
	*instrumentedStore
	next broker.Copier
}

func (c copier) Copy(ctx context.Context, src, dst string, opts broker.CopyOptions) (broker.ObjectInfo, error) {
	start := monotonic()
	info, err := c.next.Copy(ctx, src, dst, opts)
	c.observe(opCopy, start, err)
	return info, err
}

type postPresigner struct {
	*instrumentedStore
	next broker.PostPresigner
}

func (p postPresigner) PresignPost(ctx context.Context, key string, opts broker.PostOptions, ttl time.Duration) (broker.PresignedPost, error) {
	start := monotonic()
	r, err := p.next.PresignPost(ctx, key, opts, ttl)
	p.observe(opPresignPost, start, err)
	return r, err
}

type unsizedPresigner struct {
	*instrumentedStore
	next broker.UnsizedPartPresigner
}

func (u unsizedPresigner) PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (broker.PresignedRequest, error) {
	start := monotonic()
	r, err := u.next.PresignPartUnsized(ctx, key, uploadID, partNumber, ttl)
	u.observe(opPresignPartUnsized, start, err)
	if err == nil {
		u.m.partsSigned.Inc()
	}
	return r, err
}
