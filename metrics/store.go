package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// The op label values of the object store metrics.
var storeOps = []string{
	"create_multipart", "presign_part", "presign_put", "presign_get", "list_parts",
	"complete_multipart", "abort_multipart", "stat", "remove", "ping",
	"presign_post", "presign_part_unsized", "read_head",
}

// The kind label values of chute_store_errors_total.
var errorKinds = []string{"not_found", "unavailable", "access_denied", "invalid_part", "other"}

// postStore is the optional capability of the S3 adapter used by the
// Uppy-compatible routes. Store keeps it visible through the decorator.
type postStore interface {
	PresignPost(ctx context.Context, key string, opts backends.PostOptions, ttl time.Duration) (backends.PresignedPost, error)
	PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (backends.PresignedRequest, error)
}

// Store returns s instrumented as backend name: every call is timed in
// chute_store_request_duration_seconds and every failure counted in
// chute_store_errors_total; every part URL signed counts in
// chute_parts_signed_total. Errors and results pass through unchanged.
//
// If s also presigns POST policies and unsized parts (backends.S3 does),
// so does the result. Other optional methods of s are hidden: add them
// here when the broker starts to look for one.
func (m *Metrics) Store(name string, s broker.ObjectStore) broker.ObjectStore {
	for _, op := range storeOps {
		for _, k := range errorKinds {
			m.storeErrors.WithLabelValues(name, op, k)
		}
	}
	is := &instrumentedStore{m: m, name: name, next: s}
	if _, ok := s.(postStore); ok {
		return &instrumentedPostStore{is}
	}
	return is
}

type instrumentedStore struct {
	m    *Metrics
	name string
	next broker.ObjectStore
}

// Unwrap returns the store being instrumented.
func (s *instrumentedStore) Unwrap() broker.ObjectStore { return s.next }

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

func (s *instrumentedStore) PresignPart(ctx context.Context, key, uploadID string, partNumber int, size int64, checksumSHA256 string, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.PresignPart(ctx, key, uploadID, partNumber, size, checksumSHA256, ttl)
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

func (s *instrumentedStore) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.PresignGet(ctx, key, filename, ttl)
	s.observe("presign_get", start, err)
	return r, err
}

func (s *instrumentedStore) ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	start := time.Now()
	p, err := s.next.ListParts(ctx, key, uploadID)
	s.observe("list_parts", start, err)
	return p, err
}

func (s *instrumentedStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part) (string, error) {
	start := time.Now()
	etag, err := s.next.CompleteMultipart(ctx, key, uploadID, parts)
	s.observe("complete_multipart", start, err)
	return etag, err
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

// instrumentedPostStore is an instrumentedStore whose store also has the
// postStore capability.
type instrumentedPostStore struct {
	*instrumentedStore
}

func (s *instrumentedPostStore) PresignPost(ctx context.Context, key string, opts backends.PostOptions, ttl time.Duration) (backends.PresignedPost, error) {
	start := time.Now()
	p, err := s.next.(postStore).PresignPost(ctx, key, opts, ttl)
	s.observe("presign_post", start, err)
	return p, err
}

func (s *instrumentedPostStore) PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (backends.PresignedRequest, error) {
	start := time.Now()
	r, err := s.next.(postStore).PresignPartUnsized(ctx, key, uploadID, partNumber, ttl)
	s.observe("presign_part_unsized", start, err)
	if err == nil {
		s.m.partsSigned.Inc()
	}
	return r, err
}

// ReadHead forwards to the store's ReadHead (broker.HeadReader), timed as
// op read_head; a store without it gives an error wrapping
// errors.ErrUnsupported.
func (s *instrumentedStore) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	hr, ok := s.next.(broker.HeadReader)
	if !ok {
		return nil, fmt.Errorf("backend %s cannot read object heads: %w", s.name, errors.ErrUnsupported)
	}
	start := time.Now()
	b, err := hr.ReadHead(ctx, key, n)
	s.observe("read_head", start, err)
	return b, err
}
