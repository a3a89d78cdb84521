package httpapi

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker/auth"
)

// TestAccessLogLine: every request logs one info line "request" with its
// request id, method, route pattern (never the path's values or the
// query), status and duration.
func TestAccessLogLine(t *testing.T) {
	var logs strings.Builder
	s := newTestServer(t, &logs)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	req := httptest.NewRequest("GET", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa?secret=x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Request-Id", "req-123")
	if status, _, _ := do(t, s, req); status != 404 {
		t.Fatalf("status %d", status)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=request ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d access lines, want 1:\n%s", len(lines), logs.String())
	}
	want := regexp.MustCompile(`^time=\S+ level=INFO msg=request request_id=req-123 method=GET route=/v1/uploads/:id status=404 duration_ms=[0-9.e+-]+$`)
	if !want.MatchString(lines[0]) {
		t.Fatalf("access line %q does not match %v", lines[0], want)
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), "secret=x") || strings.Contains(logs.String(), "upl_aaaa") {
		t.Fatalf("the log holds the token, the query or the id:\n%s", logs.String())
	}
}
