package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// The op label values of the object store metrics.
var storeOps = []string{
	"create_multipart", "presign_part", "presign_put", "presign_get", "list_parts",
	"complete_multipart", "abort_multipart", "stat", "remove", "ping",
	"presign_post", "presign_part_unsized", "read_head", "open", "copy",
}

// The kind label values of chute_store_errors_total.
var errorKinds = []string{"not_found", "unavailable", "access_denied", "invalid_part", "other"}

// Store returns s instrumented as backend name: every call is timed in
// chute_store_request_duration_seconds and every failure counted in
// chute_store_errors_total; every part URL signed counts in
// chute_parts_signed_total. Errors and results pass through unchanged.
//
// The result has only the ObjectStore methods: instrument the backend's
// optional abilities with Capabilities, each on its own.
func (m *Metrics) Store(name string, s broker.ObjectStore) broker.ObjectStore {
	m.touchStore(name)
	return &instrumentedStore{m: m, name: name, next: s}
}

// touchStore creates the error series of backend name, so that they read
// 0 before the first failure.
func (m *Metrics) touchStore(name string) {
	for _, op := range storeOps {
		for _, k := range errorKinds {
			m.storeErrors.WithLabelValues(name, op, k)
		}
	}
}

// Capabilities returns c with each ability instrumented like Store's
// calls; an absent ability stays absent, a present one stays present.
func (m *Metrics) Capabilities(name string, c broker.Capabilities) broker.Capabilities {
	m.touchStore(name)
	is := &instrumentedStore{m: m, name: name}
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
	m    *Metrics
	name string
	next broker.ObjectStore
}

// observe records one call of op that started at start and ended with err.
func (s *instrumentedStore) observe(op string, start time.Time, err error) {
	s.m.storeDuration.WithLabelValues(s.name, op).Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.storeErrors.WithLabelValues(s.name, op, ErrorKind(err)).Inc()
	}
}

// ErrorKind classifies an object store error for chute_store_errors_total:
// not_found, unavailable (including a deadline exceeded), access_denied,
// invalid_part or other.
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return "not_found"
	case errors.Is(err, backends.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	case errors.Is(err, backends.ErrAccessDenied):
		return "access_denied"
	case errors.Is(err, backends.ErrInvalidPart):
		return "invalid_part"
	}
	return "other"
}

func (s *instrumentedStore) CreateMultipart(ctx context.Context, key string, opts backends.ObjectOptions) (string, error) {
	start := time.Now()
	id, err := s.next.CreateMultipart(ctx, key, opts)
	s.observe("create_multipart", start, err)
	return id, err
}

func (s *instrumentedStore) PresignPart(ctx context.Context, key, uploadID string, partNumber int, opts broker.PartOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.PresignPart(ctx, key, uploadID, partNumber, opts, ttl)
	s.observe("presign_part", start, err)
	if err == nil {
		s.m.partsSigned.Inc()
	}
	return r, err
}

func (s *instrumentedStore) PresignPut(ctx context.Context, key string, size int64, opts backends.ObjectOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.PresignPut(ctx, key, size, opts, ttl)
	s.observe("presign_put", start, err)
	return r, err
}

func (s *instrumentedStore) PresignGet(ctx context.Context, key string, opts backends.GetOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.PresignGet(ctx, key, opts, ttl)
	s.observe("presign_get", start, err)
	return r, err
}

func (s *instrumentedStore) ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	start := time.Now()
	p, err := s.next.ListParts(ctx, key, uploadID)
	s.observe("list_parts", start, err)
	return p, err
}

func (s *instrumentedStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part, opts broker.CompleteOptions) (broker.ObjectInfo, error) {
	start := time.Now()
	info, err := s.next.CompleteMultipart(ctx, key, uploadID, parts, opts)
	s.observe("complete_multipart", start, err)
	return info, err
}

func (s *instrumentedStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	start := time.Now()
	err := s.next.AbortMultipart(ctx, key, uploadID)
	s.observe("abort_multipart", start, err)
	return err
}

func (s *instrumentedStore) Stat(ctx context.Context, key string) (backends.ObjectInfo, error) {
	start := time.Now()
	info, err := s.next.Stat(ctx, key)
	s.observe("stat", start, err)
	return info, err
}

func (s *instrumentedStore) Remove(ctx context.Context, key string) error {
	start := time.Now()
	err := s.next.Remove(ctx, key)
	s.observe("remove", start, err)
	return err
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.next.Ping(ctx)
	s.observe("ping", start, err)
	return err
}

type headReader struct {
	*instrumentedStore
	next broker.HeadReader
}

func (h headReader) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	start := time.Now()
	b, err := h.next.ReadHead(ctx, key, n)
	h.observe("read_head", start, err)
	return b, err
}

type objectReader struct {
	*instrumentedStore
	next broker.ObjectReader
}

func (r objectReader) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := r.next.Open(ctx, key)
	r.observe("open", start, err)
	return rc, err
}

type copier struct {
	*instrumentedStore
	next broker.Copier
}

func (c copier) Copy(ctx context.Context, src, dst string, opts broker.CopyOptions) (broker.ObjectInfo, error) {
	start := time.Now()
	info, err := c.next.Copy(ctx, src, dst, opts)
	c.observe("copy", start, err)
	return info, err
}

type postPresigner struct {
	*instrumentedStore
	next broker.PostPresigner
}

func (p postPresigner) PresignPost(ctx context.Context, key string, opts broker.PostOptions, ttl time.Duration) (broker.PresignedPost, error) {
	start := time.Now()
	r, err := p.next.PresignPost(ctx, key, opts, ttl)
	p.observe("presign_post", start, err)
	return r, err
}

type unsizedPresigner struct {
	*instrumentedStore
	next broker.UnsizedPartPresigner
}

func (u unsizedPresigner) PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (broker.PresignedRequest, error) {
	start := time.Now()
	r, err := u.next.PresignPartUnsized(ctx, key, uploadID, partNumber, ttl)
	u.observe("presign_part_unsized", start, err)
	if err == nil {
		u.m.partsSigned.Inc()
	}
	return r, err
}
