package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/chute-dev/chute/broker/auth"
)

func TestStaticFiles(t *testing.T) {
	site := fstest.MapFS{
		"index.html":     {Data: []byte("<!doctype html><title>demo</title>")},
		"app.js":         {Data: []byte("export {};")},
		"style.css":      {Data: []byte("body{}")},
		"sub/hidden.txt": {Data: []byte("not served")},
	}
	s := New(nil, auth.None{}, Options{Static: site})
	get := func(path string, hdr ...string) (int, map[string]string, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := s.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		h := map[string]string{}
		for _, k := range []string{"Content-Type", "Cache-Control", "ETag", "Content-Security-Policy", "X-Content-Type-Options"} {
			h[k] = resp.Header.Get(k)
		}
		return resp.StatusCode, h, string(body)
	}
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/app.js", "text/javascript; charset=utf-8", "export {};"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
	} {
		status, h, body := get(c.path)
		if status != 200 || h["Content-Type"] != c.ctype || body != c.body {
			t.Errorf("GET %s: %d %q %q", c.path, status, h["Content-Type"], body)
		}
		if h["Cache-Control"] != "no-cache" || h["ETag"] == "" || h["X-Content-Type-Options"] != "nosniff" {
			t.Errorf("GET %s: headers %v", c.path, h)
		}
		if strings.HasPrefix(c.ctype, "text/html") != (h["Content-Security-Policy"] != "") {
			t.Errorf("GET %s: CSP %q", c.path, h["Content-Security-Policy"])
		}
		if status, _, body := get(c.path, "If-None-Match", h["ETag"]); status != 304 || body != "" {
			t.Errorf("GET %s with its ETag: %d %q, want 304", c.path, status, body)
		}
	}
	for _, path := range []string{"/nope.js", "/sub/hidden.txt", "/sub", "/v1"} {
		status, h, body := get(path)
		if status != 404 || !strings.HasPrefix(h["Content-Type"], "application/json") || !strings.Contains(body, `"not_found"`) {
			t.Errorf("GET %s: %d %q %s, want the JSON not_found", path, status, h["Content-Type"], body)
		}
	}
	// Without Static nothing is served at /.
	bare := New(nil, auth.None{}, Options{})
	resp, err := bare.App().Test(httptest.NewRequest("GET", "/", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET / without Static: %d", resp.StatusCode)
	}
}
