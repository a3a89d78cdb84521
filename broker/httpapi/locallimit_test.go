package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker/auth"
)

func TestIsSignRequest(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v1/uploads/upl_a/part-urls", true},
		{"POST", "/v1/uploads//part-urls", false},
		{"POST", "/v1/uploads/upl_a/part-urls/x", false},
		{"POST", "/v1/uploads/upl_a/complete", false},
		{"POST", "/v1/uploads", false},
		{"GET", "/v1/uploads/upl_a/part-urls", false},
		{"GET", "/s3/multipart/upl_a/3", true},
		{"GET", "/t/tok/s3/multipart/upl_a/3", true},
		{"GET", "/s3/multipart/upl_a", false}, // list parts: reads Redis
		{"GET", "/s3/multipart/upl_a/3/x", false},
		{"GET", "/s3/multipart//3", false},
		{"GET", "/v1/x/s3/multipart/upl_a/3", false},
		{"POST", "/s3/multipart/upl_a/complete", false},
		{"GET", "/s3/params", false},
	} {
		if got := isSignRequest(c.method, c.path); got != c.want {
			t.Errorf("isSignRequest(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}

func TestLocalLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLocalLimiter(2, 3) // 2/s, bursts of 3
	l.now = func() time.Time { return now }
	for i := range 3 {
		if w := l.Take("alice"); w != 0 {
			t.Fatalf("request %d within the burst: wait %v", i+1, w)
		}
	}
	if w := l.Take("alice"); w <= 0 || w > 500*time.Millisecond {
		t.Fatalf("over the burst: wait %v, want (0, 500ms]", w)
	}
	if w := l.Take("bob"); w != 0 {
		t.Fatalf("bob has his own budget: wait %v", w)
	}
	now = now.Add(500 * time.Millisecond) // one request's worth
	if w := l.Take("alice"); w != 0 {
		t.Fatalf("after 500ms: wait %v", w)
	}
	if w := l.Take("alice"); w == 0 {
		t.Fatal("a second request after 500ms went through")
	}

	// A full table forgets whole budgets, and never grows past its bound.
	l = NewLocalLimiter(1000, 1)
	l.max = 4
	l.now = func() time.Time { return now }
	for _, s := range []string{"a", "b", "c", "d"} {
		l.Take(s)
	}
	now = now.Add(time.Second) // every budget is whole again
	l.Take("e")
	if len(l.tat) != 1 {
		t.Fatalf("table after a refill: %d entries, want 1", len(l.tat))
	}
	for _, s := range []string{"f", "g", "h", "i", "j"} {
		if w := l.Take(s); w != 0 {
			t.Fatalf("%s: wait %v", s, w)
		}
	}
	if len(l.tat) > l.max {
		t.Fatalf("table grew to %d entries, bound %d", len(l.tat), l.max)
	}
}

// countingLimiter counts its calls and refuses every request.
type countingLimiter struct{ calls atomic.Int64 }

func (c *countingLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	c.calls.Add(1)
	return false, time.Second, nil
}

// TestSignRequestsUseTheSignLimiter: with a SignLimiter, part-urls and the
// Uppy part route never ask the shared limiter (Redis); other routes do.
func TestSignRequestsUseTheSignLimiter(t *testing.T) {
	base := newTestServer(t, io.Discard)
	shared := &countingLimiter{}
	s := New(base.svc, base.authn, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimiter: shared, SignLimiter: NewLocalLimiter(1.0/60, 2)})
	alice, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	send := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("Content-Type", "application/json")
		st, e, _ := do(t, s, req)
		return st, e.Error.Code
	}
	// Within the sign budget: not refused, and the shared limiter (which
	// refuses everything) is not asked.
	if st, code := send("POST", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/part-urls", `{"part_numbers":[1]}`); st == 429 {
		t.Fatalf("part-urls: %d %s", st, code)
	}
	if st, code := send("GET", "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/1?key=k", ""); st == 429 {
		t.Fatalf("uppy part: %d %s", st, code)
	}
	if n := shared.calls.Load(); n != 0 {
		t.Fatalf("signing asked the shared limiter %d times", n)
	}
	// Over the sign budget (2): refused by the local limiter.
	if st, code := send("POST", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/part-urls", `{"part_numbers":[1]}`); st != 429 || code != "rate_limited" {
		t.Fatalf("part-urls over the sign budget: %d %s, want 429 rate_limited", st, code)
	}
	// Other routes ask the shared limiter.
	if st, code := send("GET", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", ""); st != 429 || code != "rate_limited" || shared.calls.Load() != 1 {
		t.Fatalf("status: %d %s, shared limiter calls %d; want 429 from it", st, code, shared.calls.Load())
	}
}
