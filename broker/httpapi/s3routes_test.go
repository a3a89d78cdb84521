package httpapi

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/companion"
	"github.com/chute-dev/chute/multipart"
)

func TestCompanionMetadata(t *testing.T) {
	got, err := companion.Metadata(map[string]any{
		"name": "clip.mp4", "type": "video/mp4", "relativePath": nil, "Title": "Holiday",
		"count": float64(3), "public": true, "gone": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"title": "Holiday", "count": "3", "public": "true"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if md, err := companion.Metadata(map[string]any{"name": "a", "type": "b"}); err != nil || md != nil {
		t.Fatalf("only Uppy's own fields: %v %v", md, err)
	}
	if _, err := companion.Metadata(map[string]any{"tags": []any{"a"}}); err == nil {
		t.Fatal("an array value was accepted")
	}
}

func TestCompanionShapes(t *testing.T) {
	parts := companion.Parts([]multipart.Part{{Number: 1, ETag: "abc", Size: 5}, {Number: 2, ETag: `"def"`, Size: 1}})
	b, err := marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"PartNumber":1,"ETag":"\"abc\"","Size":5},{"PartNumber":2,"ETag":"\"def\"","Size":1}]`; string(b) != want {
		t.Fatalf("parts: %s, want %s", b, want)
	}
	b, _ = marshal(companion.Upload{Key: "k", UploadID: "upl_x", Bucket: "b"})
	if want := `{"key":"k","uploadId":"upl_x","bucket":"b"}`; string(b) != want {
		t.Fatalf("create: %s", b)
	}
	b, _ = marshal(companion.Params{Method: "POST", URL: "http://s/b", Fields: map[string]string{"key": "k"}, Expires: 60})
	if want := `{"method":"POST","url":"http://s/b","fields":{"key":"k"},"expires":60}`; string(b) != want {
		t.Fatalf("params: %s", b)
	}
	b, _ = marshal(companion.Params{Method: "PUT", URL: "http://s/b/k", Fields: map[string]string{}, Headers: map[string]string{"Content-Length": "5"}, Expires: 60})
	if want := `{"method":"PUT","url":"http://s/b/k","fields":{},"headers":{"Content-Length":"5"},"expires":60}`; string(b) != want {
		t.Fatalf("params as PUT: %s", b)
	}
	b, _ = marshal(companion.Completed{Location: "http://s/b/k?x=1&y=2", Key: "k", Bucket: "b"})
	if want := `{"location":"http://s/b/k?x=1&y=2","key":"k","bucket":"b"}`; string(b) != want {
		t.Fatalf("complete: %s", b)
	}
	now := time.Now()
	if got := companion.SecondsUntil(now.Add(90*time.Second+500*time.Millisecond), now); got != 90 {
		t.Fatalf("secondsUntil = %d", got)
	}
	if got := companion.SecondsUntil(now.Add(-time.Minute), now); got != 0 {
		t.Fatalf("secondsUntil past = %d", got)
	}
}

func TestS3RoutesAuthAndErrors(t *testing.T) {
	var logs strings.Builder
	s := newTestServer(t, &logs)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		code                           string
	}{
		{"no token", "GET", "/s3/params?filename=a.txt&type=text/plain", "", ``, 401, "unauthorized"},
		{"bad path token", "GET", "/t/nope/s3/params?filename=a.txt&type=text/plain", "", ``, 401, "unauthorized"},
		// downStore has no optional ability: past auth, a 500 (no unsized
		// parts) or a 400 (no POST policies: a PUT needs size=).
		{"path token, no capability", "POST", "/t/" + tok + "/s3/multipart", "", `{"filename":"a.bin","type":"application/octet-stream"}`, 500, "internal"},
		{"header token, no POST policies and no size", "GET", "/s3/params?filename=a.txt&type=text/plain", "Bearer " + tok, ``, 400, "invalid_request"},
		{"type not allowed before the store", "GET", "/s3/params?filename=a.txt&type=bogus", "Bearer " + tok, ``, 400, "invalid_request"},
		{"size not a number", "GET", "/s3/params?filename=a.txt&type=text/plain&size=12x", "Bearer " + tok, ``, 400, "invalid_request"},
		{"size negative", "GET", "/s3/params?filename=a.txt&type=text/plain&size=-1", "Bearer " + tok, ``, 400, "invalid_request"},
		{"size over max_size", "GET", "/s3/params?filename=a.txt&type=text/plain&size=2147483648", "Bearer " + tok, ``, 413, "too_large"},
		{"bad metadata", "POST", "/t/" + tok + "/s3/multipart", "", `{"filename":"a.bin","type":"text/plain","metadata":{"x":{}}}`, 400, "invalid_request"},
		{"no key", "GET", "/t/" + tok + "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/1", "", ``, 400, "invalid_request"},
		{"bad part number", "GET", "/t/" + tok + "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/0?key=k", "", ``, 400, "invalid_request"},
		{"unknown upload", "GET", "/t/" + tok + "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa?key=k", "", ``, 404, "not_found"},
		{"unknown upload abort", "DELETE", "/t/" + tok + "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa?key=k", "", ``, 404, "not_found"},
		{"complete without body", "POST", "/t/" + tok + "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/complete?key=k", "", ``, 400, "invalid_request"},
		{"unknown s3 route", "GET", "/t/" + tok + "/s3/nope", "", ``, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			status, e, _ := do(t, s, req)
			if status != c.status || e.Error.Code != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", status, e.Error.Code, e.Error.Message, c.status, c.code)
			}
		})
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("a path token reached the log")
	}
}

func TestS3RoutesPreflight(t *testing.T) {
	s := newTestServer(t, io.Discard)
	// Uppy's multipart create is a JSON POST without credentials: the
	// preflight asks for content-type only, and needs no token.
	req := httptest.NewRequest("OPTIONS", "/t/whatever/s3/multipart", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := s.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// A simple GET carries the CORS answer too, even when it fails.
	req = httptest.NewRequest("GET", "/t/bad/s3/params?filename=a&type=text/plain", nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err = s.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	var body apiError
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || body.Error.Code != "unauthorized" {
		t.Fatalf("GET: %d %v %+v", resp.StatusCode, resp.Header, body)
	}
}
