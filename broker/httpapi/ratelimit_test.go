package httpapi

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/sessions"
)

func TestRateLimitPerSubject(t *testing.T) {
	s := newTestServer(t, io.Discard)
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	// Rebuild the server with a limiter: 1 request per minute, burst 3.
	s = New(s.svc, s.authn, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimiter: sessions.NewRateLimiter(rc, "t", 1.0/60, 3)})
	alice, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	bob, _ := auth.SignHS256(secret, "bob", time.Minute, "", "")
	get := func(path, tok string) (int, apiError, string) {
		req := httptest.NewRequest("GET", path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		st, e, h := do(t, s, req)
		return st, e, h.Get("Retry-After")
	}
	for i := range 3 {
		if st, e, _ := get("/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", alice); st != 404 {
			t.Fatalf("request %d: %d %s, want 404 (within the burst)", i+1, st, e.Error.Code)
		}
	}
	for _, path := range []string{"/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", "/s3/multipart/x?key=k", "/t/" + alice + "/s3/multipart/x?key=k"} {
		st, e, retry := get(path, alice)
		if st != 429 || e.Error.Code != "rate_limited" {
			t.Fatalf("%s over the budget: %d %s, want 429 rate_limited", path, st, e.Error.Code)
		}
		n, err := strconv.Atoi(retry)
		if err != nil || n < 1 || n > 60 {
			t.Errorf("%s: Retry-After %q, want 1..60 seconds", path, retry)
		}
		if !strings.Contains(e.Error.Message, "too many requests") {
			t.Errorf("message %q", e.Error.Message)
		}
	}
	// bob has his own budget; an unauthenticated request is refused before
	// it costs anyone's budget.
	if st, _, _ := get("/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", bob); st != 404 {
		t.Fatalf("bob: %d, want 404", st)
	}
	if st, e, _ := get("/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", ""); st != 401 {
		t.Fatalf("no token: %d %s, want 401", st, e.Error.Code)
	}
	// Health checks are not limited.
	if st, _, _ := get("/healthz", ""); st != 200 {
		t.Fatalf("/healthz: %d", st)
	}

	// A limiter that fails lets requests through.
	mr.Close()
	if st, e, _ := get("/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", alice); st == 429 {
		t.Fatalf("with the limiter's Redis down: %d %s, want the request let through", st, e.Error.Code)
	}
}
