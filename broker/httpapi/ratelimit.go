package httpapi

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/chute-dev/chute/broker"
)

// RateLimiter decides whether a subject may make one more request; when
// not, it says how long to wait. sessions.RateLimiter (kept in Redis, so
// shared by replicas) implements it.
type RateLimiter interface {
	Allow(ctx context.Context, subject string) (ok bool, retryAfter time.Duration, err error)
}

// rateLimit runs after authentication on /v1 and /s3: a subject over its
// budget gets 429 rate_limited with Retry-After (whole seconds, at least
// 1). If the limiter itself fails, the request goes through (the failure
// is logged): the limiter protects the service, it must not take it down.
//
// A request that signs part URLs (isSignRequest) is limited by SignLimiter
// when one is set: an in-process budget, so that signing stays free of
// Redis round trips (shared/API.md "Signing survives a Redis outage").
func (s *Server) rateLimit(c *fiber.Ctx) error {
	limiter := s.opts.RateLimiter
	if s.opts.SignLimiter != nil && isSignRequest(c.Method(), c.Path()) {
		limiter = s.opts.SignLimiter
	}
	if limiter == nil || c.Method() == fiber.MethodOptions {
		return c.Next()
	}
	subject := infoOf(c).subject
	if l, ok := limiter.(*LocalLimiter); ok {
		// No I/O: no context and timer to build.
		return s.rateDecision(c, l.Take(subject))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
	defer cancel()
	ok, wait, err := limiter.Allow(ctx, subject)
	if err != nil {
		s.log.Warn("rate limiter unavailable; request let through", "request_id", infoOf(c).id, "err", err)
		return c.Next()
	}
	if !ok {
		return s.rateDecision(c, wait)
	}
	return c.Next()
}

// rateDecision lets the request through when wait is 0, else answers 429
// rate_limited with Retry-After.
func (s *Server) rateDecision(c *fiber.Ctx, wait time.Duration) error {
	if wait <= 0 {
		return c.Next()
	}
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return broker.Errorf(broker.CodeRateLimited, "too many requests for this subject: retry after %d s", secs)
}

// isSignRequest reports whether a request signs part URLs: POST
// /v1/uploads/{id}/part-urls, or GET .../s3/multipart/{uploadId}/{n} (the
// Uppy part route, also under /t/{token}).
func isSignRequest(method, path string) bool {
	switch method {
	case fiber.MethodPost:
		rest, ok := strings.CutPrefix(path, "/v1/uploads/")
		id, tail, _ := strings.Cut(rest, "/")
		return ok && id != "" && tail == "part-urls"
	case fiber.MethodGet:
		const route = "/s3/multipart/"
		i := strings.Index(path, route)
		if i < 0 || (i > 0 && !strings.HasPrefix(path, "/t/")) {
			return false
		}
		id, n, ok := strings.Cut(path[i+len(route):], "/")
		return ok && id != "" && n != "" && !strings.Contains(n, "/")
	}
	return false
}
