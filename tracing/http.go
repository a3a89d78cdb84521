package tracing

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/metrics"
)

// Middleware returns a Fiber handler that makes the server span of every
// request, or nil when tracing is off (install it only when not nil,
// before the other middleware so that its span holds theirs). The span is
// a child of the traceparent (and tracestate) the client sent, if valid;
// the request's user context carries it to the handlers, so the spans of
// authentication, Redis and the store are its children.
//
// The span is named "<METHOD> <route pattern>" (POST /v1/uploads/:id/complete),
// or "<METHOD> unmatched" for a path that matches no route. Its attributes
// are the method, the route pattern, the status, the request id, and the
// upload id and part number where the route has them; never the raw path
// (the /t/{token}/s3 routes carry a token in it), the query string or a
// header other than the trace context. An error returned by the handlers
// is rendered with the app's error handler first, as metrics.Middleware
// does; a status of 500 or more marks the span failed.
func (t *Tracer) Middleware() fiber.Handler {
	if !t.Enabled() {
		return nil
	}
	var (
		once  sync.Once
		route func(method, path string) string
	)
	return func(c *fiber.Ctx) error {
		method := methodName(c.Method())
		ctx := t.prop.Extract(c.UserContext(), fiberCarrier{c})
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.scheme", c.Protocol())))
		defer span.End()
		c.SetUserContext(ctx)
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		// The routes are all registered by the time requests arrive.
		once.Do(func() { route = metrics.RoutePatterns(c.App().GetRoutes(true)) })
		pattern := route(c.Method(), c.Path())
		span.SetName(method + " " + pattern)
		status := c.Response().StatusCode()
		attrs := []attribute.KeyValue{
			attribute.String("http.route", pattern),
			attribute.Int("http.response.status_code", status),
		}
		if id := c.GetRespHeader("X-Request-Id"); id != "" {
			attrs = append(attrs, AttrRequestID.String(strings.Clone(id)))
		}
		if strings.HasPrefix(pattern, "/v1/uploads/:id") { // on /s3 routes, :id is the store's upload id
			attrs = append(attrs, AttrUploadID.String(strings.Clone(c.Params("id"))))
		}
		if n, err := strconv.Atoi(c.Params("n")); err == nil { // /v1 and /s3 part routes
			attrs = append(attrs, partAttr(n))
		}
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}

// methodName returns a constant for method (the string Fiber returns is
// backed by a buffer it reuses): the standard ones as they are, others
// as "_OTHER", as the semantic conventions say.
func methodName(method string) string {
	for _, m := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions} {
		if method == m {
			return m
		}
	}
	return "_OTHER"
}

// fiberCarrier reads a request's headers for the propagator. Values are
// copied: Fiber reuses their bytes after the request.
type fiberCarrier struct{ c *fiber.Ctx }

func (f fiberCarrier) Get(key string) string { return strings.Clone(f.c.Get(key)) }
func (f fiberCarrier) Set(string, string)    {}
func (f fiberCarrier) Keys() []string        { return nil }

// Authenticator returns a traced a: each call is a span
// "auth.authenticate" with its outcome (ok, refused) and, when ok, the
// subject. The token is never recorded, nor the reason of a refusal. Off,
// a itself is returned.
//
// When a answers tokens it verified recently from memory (a Cached
// method, as auth.JWT and auth.None have), so does the result, untraced:
// the HTTP layer asks the cache first, and a hit does no work worth a
// span.
func (t *Tracer) Authenticator(a auth.Authenticator) auth.Authenticator {
	if !t.Enabled() || a == nil {
		return a
	}
	ta := tracedAuth{t: t, next: a}
	if c, ok := a.(cachedAuth); ok {
		return tracedCachedAuth{ta, c}
	}
	return ta
}

// cachedAuth is the cache of verified tokens the HTTP layer looks for
// (httpapi's cachedAuthenticator).
type cachedAuth interface {
	Cached(token string) (subject string, ok bool)
}

// tracedCachedAuth is a tracedAuth whose authenticator has a cache.
type tracedCachedAuth struct {
	tracedAuth
	cache cachedAuth
}

// Cached answers from the authenticator's cache.
func (a tracedCachedAuth) Cached(token string) (string, bool) { return a.cache.Cached(token) }

type tracedAuth struct {
	t    *Tracer
	next auth.Authenticator
}

func (a tracedAuth) Authenticate(ctx context.Context, token string) (string, error) {
	ctx, span := a.t.start(ctx, "auth.authenticate", trace.SpanKindInternal)
	defer span.End()
	subject, err := a.next.Authenticate(ctx, token)
	if err != nil {
		span.SetAttributes(AttrOutcome.String("refused"))
		return subject, err
	}
	span.SetAttributes(AttrOutcome.String("ok"), AttrSubject.String(subject))
	return subject, nil
}

// RateLimiter returns a traced l: each call is a client span
// "ratelimit.allow" (a Redis call) with its outcome (allowed, limited).
// Off, or for a nil l, l itself is returned.
func (t *Tracer) RateLimiter(l httpapi.RateLimiter) httpapi.RateLimiter {
	if !t.Enabled() || l == nil {
		return l
	}
	return tracedLimiter{t: t, next: l}
}

type tracedLimiter struct {
	t    *Tracer
	next httpapi.RateLimiter
}

func (l tracedLimiter) Allow(ctx context.Context, subject string) (bool, time.Duration, error) {
	ctx, span := l.t.start(ctx, "ratelimit.allow", trace.SpanKindClient, dbRedis)
	ok, wait, err := l.next.Allow(ctx, subject)
	outcome := "allowed"
	if !ok {
		outcome = "limited"
	}
	span.SetAttributes(AttrOutcome.String(outcome))
	end(span, err, "unavailable")
	return ok, wait, err
}

// Transport returns rt (nil: http.DefaultTransport) traced as calls to
// hook (authorizer, verify_hook, webhook): each request is a client span
// "<METHOD> <hook>" with the server's host and port and the answer's
// status, and carries the span's trace context (traceparent, tracestate)
// to the server. The URL's path and query are never recorded: hook URLs
// often carry tokens. Off, rt itself is returned.
func (t *Tracer) Transport(hook string, rt http.RoundTripper) http.RoundTripper {
	if !t.Enabled() {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{t: t, hook: hook, next: rt}
}

// Client returns an HTTP client whose calls are traced as calls to hook
// and that follows no redirect (an answer of the hook's own), or nil when
// tracing is off (the callers then build their own default client).
func (t *Tracer) Client(hook string) *http.Client {
	if !t.Enabled() {
		return nil
	}
	return &http.Client{
		Transport: t.Transport(hook, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type transport struct {
	t    *Tracer
	hook string
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := methodName(req.Method)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method), AttrHook.String(tr.hook),
		attribute.String("server.address", req.URL.Hostname()),
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, attribute.Int("server.port", n))
		}
	}
	ctx, span := tr.t.start(req.Context(), method+" "+tr.hook, trace.SpanKindClient, attrs...)
	defer span.End()
	// A RoundTripper must not change the request it is given.
	out := req.Clone(ctx)
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := tr.next.RoundTrip(out)
	if err != nil {
		kind := "request_failed"
		var ne net.Error
		if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
			kind = "timeout"
		}
		span.SetStatus(codes.Error, kind)
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}
