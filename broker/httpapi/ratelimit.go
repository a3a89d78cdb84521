package httpapi

import (
	"context"
	"math"
	"strconv"
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
func (s *Server) rateLimit(c *fiber.Ctx) error {
	if s.opts.RateLimiter == nil || c.Method() == fiber.MethodOptions {
		return c.Next()
	}
	subject, _ := c.Locals(subjectKey).(string)
	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
	defer cancel()
	ok, wait, err := s.opts.RateLimiter.Allow(ctx, subject)
	if err != nil {
		s.log.Warn("rate limiter unavailable; request let through", "request_id", c.Locals(requestIDKey), "err", err)
		return c.Next()
	}
	if !ok {
		secs := int(math.Ceil(wait.Seconds()))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
		return broker.Errorf(broker.CodeRateLimited, "too many requests for this subject: retry after %d s", max(secs, 1))
	}
	return c.Next()
}
