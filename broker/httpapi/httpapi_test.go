package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// downStore is an object store that is always down: enough to test the
// HTTP layer's parsing, auth and error rendering without a store.
type downStore struct{}

var errDown = backends.ErrUnavailable

func (downStore) CreateMultipart(context.Context, string, backends.ObjectOptions) (string, error) {
	return "", errDown
}
func (downStore) PresignPart(context.Context, string, string, int, broker.PartOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, errDown
}
func (downStore) PresignPut(context.Context, string, int64, backends.ObjectOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, errDown
}
func (downStore) PresignGet(context.Context, string, backends.GetOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, errDown
}
func (downStore) ListParts(context.Context, string, string) ([]multipart.Part, error) {
	return nil, errDown
}
func (downStore) CompleteMultipart(context.Context, string, string, []multipart.Part, broker.CompleteOptions) (broker.ObjectInfo, error) {
	return broker.ObjectInfo{}, errDown
}
func (downStore) AbortMultipart(context.Context, string, string) error { return errDown }
func (downStore) Stat(context.Context, string) (backends.ObjectInfo, error) {
	return backends.ObjectInfo{}, errDown
}
func (downStore) Remove(context.Context, string) error { return errDown }
func (downStore) Ping(context.Context) error {
	return errors.New("store: dial tcp 10.0.0.1:9000: refused")
}

const secret = "httpapi-test-secret-0123456789abcdef"

func newTestServer(t *testing.T, logs io.Writer) *Server {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
			PartSize: 16 * multipart.MiB, SingleMax: 16 * multipart.MiB, AllowedTypes: []string{"*/*"},
			URLTTL: time.Minute, KeyTemplate: "{subject}/{id}{ext}"}},
		Backends: map[string]broker.ObjectStore{"main": downStore{}},
		Sessions: sessions.NewRedisStore(rc),
		TTL:      time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewJWT(auth.JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return New(svc, authn, Options{BodyLimit: 4096, CORSOrigins: []string{"https://app.example"},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, s *Server, req *http.Request) (int, apiError, http.Header) {
	t.Helper()
	resp, err := s.App().Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e apiError
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("status %d: body is not a JSON error: %q", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("error content type %q", ct)
		}
	}
	return resp.StatusCode, e, resp.Header
}

func TestErrors(t *testing.T) {
	var logs strings.Builder
	s := newTestServer(t, &logs)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	expired, _ := auth.SignHS256(secret, "alice", -time.Hour, "", "")
	cases := []struct {
		name, method, path, auth, body string
		status                         int
		code                           string
	}{
		{"no token", "POST", "/v1/uploads", "", `{}`, 401, "unauthorized"},
		{"basic auth", "POST", "/v1/uploads", "Basic YTpi", `{}`, 401, "unauthorized"},
		{"expired", "POST", "/v1/uploads", "Bearer " + expired, `{}`, 401, "unauthorized"},
		{"empty body", "POST", "/v1/uploads", "Bearer " + tok, ``, 400, "invalid_request"},
		{"not an object", "POST", "/v1/uploads", "Bearer " + tok, `[1,2]`, 400, "invalid_request"},
		{"syntax", "POST", "/v1/uploads", "Bearer " + tok, `{"a":}`, 400, "invalid_request"},
		{"deep nesting", "POST", "/v1/uploads", "Bearer " + tok, strings.Repeat("[", 2000), 400, "invalid_request"},
		{"bad utf-8", "POST", "/v1/uploads", "Bearer " + tok, "{\"filename\":\"\xc3\x28\"}", 400, "invalid_request"},
		{"trailing", "POST", "/v1/uploads", "Bearer " + tok, `{} x`, 400, "invalid_request"},
		{"store down", "POST", "/v1/uploads", "Bearer " + tok, `{"filename":"a","content_type":"text/plain","size":1}`, 503, "storage_unavailable"},
		{"bad part number", "PUT", "/v1/uploads/upl_x/parts/abc", "Bearer " + tok, `{}`, 400, "invalid_request"},
		{"part number with plus", "PUT", "/v1/uploads/upl_x/parts/+1", "Bearer " + tok, `{}`, 400, "invalid_request"},
		{"unknown session", "GET", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", "Bearer " + tok, ``, 404, "not_found"},
		{"unknown route", "GET", "/nope", "", ``, 404, "not_found"},
		{"wrong method", "PATCH", "/v1/uploads", "Bearer " + tok, ``, 405, "invalid_request"},
		{"wrong method without a token", "PATCH", "/v1/uploads", "", ``, 401, "unauthorized"},
		{"unknown /v1 route", "GET", "/v1/uploads/upl_x/nothing", "Bearer " + tok, ``, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			status, e, _ := do(t, s, req)
			if status != c.status || e.Error.Code != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", status, e.Error.Code, e.Error.Message, c.status, c.code)
			}
		})
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), expired) {
		t.Fatal("a token reached the log")
	}
}

func TestReadyzHidesDetails(t *testing.T) {
	s := newTestServer(t, io.Discard)
	resp, err := s.App().Test(httptest.NewRequest("GET", "/readyz", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || strings.Contains(string(body), "10.0.0.1") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, _ = s.App().Test(httptest.NewRequest("GET", "/healthz", nil))
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
}

func TestRequestIDAndCORS(t *testing.T) {
	s := newTestServer(t, io.Discard)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	_, _, h := do(t, s, req)
	if h.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("request id %q", h.Get("X-Request-Id"))
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "bad id\nwith newline")
	_, _, h = do(t, s, req)
	if id := h.Get("X-Request-Id"); id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
	req = httptest.NewRequest("OPTIONS", "/v1/uploads", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := s.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestStatusMapping(t *testing.T) {
	want := map[broker.Code]int{
		broker.CodeInvalidRequest: 400, broker.CodeUnauthorized: 401, broker.CodeForbidden: 403,
		broker.CodeNotFound: 404, broker.CodeConflict: 409, broker.CodeTooLarge: 413,
		broker.CodeUnsupportedType: 415, broker.CodeIncomplete: 422, broker.CodeRejected: 422, broker.CodeRateLimited: 429, broker.CodeQuotaExceeded: 429,
		broker.CodeStorageUnavailable: 503, broker.CodeInternal: 500, "something-new": 500,
	}
	for code, status := range want {
		if got := Status(code); got != status {
			t.Errorf("%s: %d, want %d", code, got, status)
		}
	}
}
