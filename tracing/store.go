package tracing

import (
	"context"
	"errors"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// Store returns s traced as backend name: every call is a span
// "store.<op>" (create_multipart, presign_part, list_parts,
// complete_multipart, stat, ...) with the backend, the part number where
// there is one, and on failure the kind of error (not_found, unavailable,
// ...). Signing is local work (no request to the store): its spans are
// internal, the others client spans. Neither keys nor URLs are recorded.
// Off, s itself is returned.
//
// The result has only the ObjectStore methods: trace the backend's
// optional abilities with Capabilities.
func (t *Tracer) Store(name string, s broker.ObjectStore) broker.ObjectStore {
	if !t.Enabled() {
		return s
	}
	return &tracedStore{t: t, backend: attribute.String(string(AttrBackend), name), next: s}
}

// Capabilities returns c with each present ability traced like Store's
// calls; an absent ability stays absent. Off, c itself is returned.
func (t *Tracer) Capabilities(name string, c broker.Capabilities) broker.Capabilities {
	if !t.Enabled() {
		return c
	}
	ts := &tracedStore{t: t, backend: attribute.String(string(AttrBackend), name)}
	if c.Heads != nil {
		c.Heads = headReader{ts, c.Heads}
	}
	if c.Reader != nil {
		c.Reader = objectReader{ts, c.Reader}
	}
	if c.Copier != nil {
		c.Copier = copier{ts, c.Copier}
	}
	if c.Post != nil {
		c.Post = postPresigner{ts, c.Post}
	}
	if c.UnsizedParts != nil {
		c.UnsizedParts = unsizedPresigner{ts, c.UnsizedParts}
	}
	return c
}

type tracedStore struct {
	t       *Tracer
	backend attribute.KeyValue
	next    broker.ObjectStore
}

// span starts the span of one store call.
func (s *tracedStore) span(ctx context.Context, op string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := s.t.start(ctx, "store."+op, kind, s.backend, attribute.String("chute.store.op", op))
	if len(attrs) > 0 {
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// storeErrorKind names the kind of an object store error for a span
// status.
func storeErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, broker.ErrNotFound):
		return "not_found"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, broker.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, broker.ErrAccessDenied):
		return "access_denied"
	case errors.Is(err, broker.ErrInvalidPart):
		return "invalid_part"
	case errors.Is(err, broker.ErrPrecondition):
		return "precondition"
	case errors.Is(err, broker.ErrBadDigest):
		return "bad_digest"
	case errors.Is(err, broker.ErrNotSupported):
		return "not_supported"
	}
	return "other"
}

func endStore(span trace.Span, err error) { end(span, err, storeErrorKind(err)) }

func partAttr(n int) attribute.KeyValue { return AttrPartNumber.Int(n) }

func (s *tracedStore) CreateMultipart(ctx context.Context, key string, opts broker.ObjectOptions) (string, error) {
	ctx, span := s.span(ctx, "create_multipart", trace.SpanKindClient)
	id, err := s.next.CreateMultipart(ctx, key, opts)
	endStore(span, err)
	return id, err
}

func (s *tracedStore) PresignPart(ctx context.Context, key, uploadID string, partNumber int, opts broker.PartOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	ctx, span := s.span(ctx, "presign_part", trace.SpanKindInternal, partAttr(partNumber))
	r, err := s.next.PresignPart(ctx, key, uploadID, partNumber, opts, ttl)
	endStore(span, err)
	return r, err
}

func (s *tracedStore) PresignPut(ctx context.Context, key string, size int64, opts broker.ObjectOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	ctx, span := s.span(ctx, "presign_put", trace.SpanKindInternal)
	r, err := s.next.PresignPut(ctx, key, size, opts, ttl)
	endStore(span, err)
	return r, err
}

func (s *tracedStore) PresignGet(ctx context.Context, key string, opts broker.GetOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	ctx, span := s.span(ctx, "presign_get", trace.SpanKindInternal)
	r, err := s.next.PresignGet(ctx, key, opts, ttl)
	endStore(span, err)
	return r, err
}

func (s *tracedStore) ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	ctx, span := s.span(ctx, "list_parts", trace.SpanKindClient)
	p, err := s.next.ListParts(ctx, key, uploadID)
	if err == nil {
		span.SetAttributes(AttrPartCount.Int(len(p)))
	}
	endStore(span, err)
	return p, err
}

func (s *tracedStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part, opts broker.CompleteOptions) (broker.ObjectInfo, error) {
	ctx, span := s.span(ctx, "complete_multipart", trace.SpanKindClient, AttrPartCount.Int(len(parts)))
	info, err := s.next.CompleteMultipart(ctx, key, uploadID, parts, opts)
	endStore(span, err)
	return info, err
}

func (s *tracedStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	ctx, span := s.span(ctx, "abort_multipart", trace.SpanKindClient)
	err := s.next.AbortMultipart(ctx, key, uploadID)
	endStore(span, err)
	return err
}

func (s *tracedStore) Stat(ctx context.Context, key string) (broker.ObjectInfo, error) {
	ctx, span := s.span(ctx, "stat", trace.SpanKindClient)
	info, err := s.next.Stat(ctx, key)
	endStore(span, err)
	return info, err
}

func (s *tracedStore) Remove(ctx context.Context, key string) error {
	ctx, span := s.span(ctx, "remove", trace.SpanKindClient)
	err := s.next.Remove(ctx, key)
	endStore(span, err)
	return err
}

func (s *tracedStore) Ping(ctx context.Context) error {
	ctx, span := s.span(ctx, "ping", trace.SpanKindClient)
	err := s.next.Ping(ctx)
	endStore(span, err)
	return err
}

type headReader struct {
	*tracedStore
	next broker.HeadReader
}

func (h headReader) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	ctx, span := h.span(ctx, "read_head", trace.SpanKindClient)
	b, err := h.next.ReadHead(ctx, key, n)
	endStore(span, err)
	return b, err
}

type objectReader struct {
	*tracedStore
	next broker.ObjectReader
}

// Open's span covers opening the object, not reading it.
func (r objectReader) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	ctx, span := r.span(ctx, "open", trace.SpanKindClient)
	rc, err := r.next.Open(ctx, key)
	endStore(span, err)
	return rc, err
}

type copier struct {
	*tracedStore
	next broker.Copier
}

func (c copier) Copy(ctx context.Context, src, dst string, opts broker.CopyOptions) (broker.ObjectInfo, error) {
	ctx, span := c.span(ctx, "copy", trace.SpanKindClient)
	info, err := c.next.Copy(ctx, src, dst, opts)
	endStore(span, err)
	return info, err
}

type postPresigner struct {
	*tracedStore
	next broker.PostPresigner
}

func (p postPresigner) PresignPost(ctx context.Context, key string, opts broker.PostOptions, ttl time.Duration) (broker.PresignedPost, error) {
	ctx, span := p.span(ctx, "presign_post", trace.SpanKindInternal)
	r, err := p.next.PresignPost(ctx, key, opts, ttl)
	endStore(span, err)
	return r, err
}

type unsizedPresigner struct {
	*tracedStore
	next broker.UnsizedPartPresigner
}

func (u unsizedPresigner) PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (broker.PresignedRequest, error) {
	ctx, span := u.span(ctx, "presign_part_unsized", trace.SpanKindInternal, partAttr(partNumber))
	r, err := u.next.PresignPartUnsized(ctx, key, uploadID, partNumber, ttl)
	endStore(span, err)
	return r, err
}
