package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chute-dev/chute/broker/auth"
)

// TestMethodNotAllowed: a known route under an unknown method is a 405
// with the JSON error invalid_request and an Allow header listing what the
// route answers; an unknown path stays a 404.
func TestMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, io.Discard)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	const id = "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PATCH", "/v1/uploads/" + id, 405, "GET, HEAD, DELETE"},
		{"PUT", "/v1/uploads", 405, "POST"},
		{"GET", "/v1/uploads/" + id + "/complete", 405, "POST"},
		{"POST", "/v1/uploads/" + id + "/parts/1", 405, "PUT"},
		{"DELETE", "/v1/uploads/" + id + "/part-urls", 405, "POST"},
		{"POST", "/v1/uploads/" + id + "/download-url/", 405, "GET, HEAD"},
		// Two patterns match: /s3/multipart/{id}/{n} and .../complete.
		{"DELETE", "/s3/multipart/" + id + "/complete", 405, "GET, HEAD, POST"},
		{"PUT", "/t/" + tok + "/s3/multipart", 405, "POST"},
		{"PATCH", "/healthz", 405, "GET, HEAD"},
		{"POST", "/openapi.json", 405, "GET, HEAD"},
		{"GET", "/v1/uploads/" + id + "/nothing", 404, ""},
		{"PATCH", "/v1/uploads/" + id + "/parts", 404, ""},
		{"PATCH", "/nope", 404, ""},
		{"PATCH", "/v1/", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path[:min(len(c.path), 40)], func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			status, e, h := do(t, s, req)
			if status != c.status {
				t.Fatalf("got %d %s %q, want %d", status, e.Error.Code, e.Error.Message, c.status)
			}
			if c.status == 405 && (e.Error.Code != "invalid_request" || !strings.Contains(e.Error.Message, c.method)) {
				t.Errorf("error %s %q", e.Error.Code, e.Error.Message)
			}
			if got := h.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}
}

// TestMethodNotAllowedBesideTheDemoPage: the demo page's /:file route
// makes no path a known route.
func TestMethodNotAllowedBesideTheDemoPage(t *testing.T) {
	s := New(nil, auth.None{}, Options{Static: fstest.MapFS{"index.html": {Data: []byte("x")}}, Logger: newTestServer(t, io.Discard).log})
	for _, path := range []string{"/", "/index.html", "/anything"} {
		status, _, h := do(t, s, httptest.NewRequest("PATCH", path, nil))
		if status != 404 || h.Get("Allow") != "" {
			t.Errorf("PATCH %s: %d, Allow %q; want 404", path, status, h.Get("Allow"))
		}
	}
	if status, _, h := do(t, s, httptest.NewRequest("DELETE", "/readyz", nil)); status != 405 || h.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE /readyz: %d, Allow %q", status, h.Get("Allow"))
	}
}

func TestMatchSegments(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/v1/uploads/:id", "/v1/uploads/x", true},
		{"/v1/uploads/:id", "/v1/uploads/x/", true},
		{"/v1/uploads/:id", "/v1/uploads/", false},
		{"/v1/uploads/:id", "/v1/uploads", false},
		{"/v1/uploads/:id", "/v1/uploads/x/y", false},
		{"/v1/uploads/:id", "/v1//uploads/x", false},
		{"/v1/uploads", "/v1/uploads", true},
		{"/v1/uploads", "/v1/upload", false},
		{"/v1/uploads", "/V1/Uploads", true},
		{"/healthz", "/", false},
	} {
		if got := matchSegments(splitPath(c.pattern), c.path); got != c.want {
			t.Errorf("%s ~ %s: %v", c.pattern, c.path, got)
		}
	}
}
