package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIDocumentIsValid loads the embedded document and validates it
// as OpenAPI 3.1 (kin-openapi checks the document's structure, references,
// operation ids, path parameters and examples; schemas are JSON Schema
// 2020-12).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	// Every operation documents its errors with the one error shape.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			if strings.HasPrefix(path, "/v1/") || strings.Contains(path, "/s3/") {
				for _, st := range []string{"400", "401", "404", "500", "503"} {
					if op.Responses.Value(st) == nil {
						t.Errorf("%s %s: status %s not documented", method, path, st)
					}
				}
			}
		}
	}
}

// TestOpenAPISchemasAreStrict checks that the schemas hold what the
// public contract fixes: the enums of states, strategies and error codes.
func TestOpenAPISchemasAreStrict(t *testing.T) {
	doc := loadOpenAPI(t)
	enum := func(name string) []string {
		s := doc.Components.Schemas[name]
		if s == nil || s.Value == nil {
			t.Fatalf("schema %s missing", name)
		}
		var out []string
		for _, v := range s.Value.Enum {
			out = append(out, v.(string))
		}
		sort.Strings(out)
		return out
	}
	for name, want := range map[string][]string{
		"State":     {"aborted", "completed", "completing", "expired", "pending", "rejected", "uploading"},
		"Strategy":  {"multipart", "single"},
		"ErrorCode": {"conflict", "forbidden", "incomplete", "internal", "invalid_request", "not_found", "quota_exceeded", "rate_limited", "rejected", "storage_unavailable", "too_large", "unauthorized", "unsupported_type"},
	} {
		if got := enum(name); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s enum = %v, want %v", name, got, want)
		}
	}
	// A status answer that lacks a required field, or has an unknown
	// state, must not validate.
	status := doc.Components.Schemas["Status"].Value
	good := map[string]any{
		"id": "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", "key": "a/b", "strategy": "single", "state": "pending",
		"size": 1.0, "content_type": "text/plain", "parts": []any{}, "uploaded_bytes": 0.0,
		"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
	}
	opt := openapi3.EnableJSONSchema2020()
	if err := status.VisitJSON(good, opt); err != nil {
		t.Fatalf("a good status does not validate: %v", err)
	}
	for field, bad := range map[string]any{"state": "sleeping", "id": "x", "size": -2.0, "uploaded_bytes": -1.0, "strategy": "chunked"} {
		v := map[string]any{}
		for k, x := range good {
			v[k] = x
		}
		v[field] = bad
		if err := status.VisitJSON(v, opt); err == nil {
			t.Errorf("a status with %s=%v validates", field, bad)
		}
	}
	rejected := map[string]any{}
	for k, x := range good {
		rejected[k] = x
	}
	rejected["state"], rejected["reason"] = "rejected", "video is too long"
	if err := status.VisitJSON(rejected, opt); err != nil {
		t.Errorf("a rejected status with its reason does not validate: %v", err)
	}
	delete(good, "uploaded_bytes")
	if err := status.VisitJSON(good, opt); err == nil {
		t.Error("a status without uploaded_bytes validates")
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}|:[A-Za-z0-9_]+`)

// shape is a route with its parameter names erased: /v1/uploads/{id} and
// /v1/uploads/:id are the same route.
func shape(method, path string) string {
	return method + " " + pathParam.ReplaceAllString(path, "{}")
}

// TestOpenAPIMatchesRoutes holds the document to the Fiber app: every
// documented operation is a route, and every /v1, /s3 and /t route and
// the operational routes are documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv := newTestServer(t, io.Discard)
	opts := srv.opts
	opts.Metrics = http.NotFoundHandler()
	srv = New(srv.svc, srv.authn, opts)

	app := map[string]bool{}
	for _, r := range srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == http.MethodOptions || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		app[shape(r.Method, r.Path)] = true
	}
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			k := shape(method, path)
			documented[k] = true
			if !app[k] {
				t.Errorf("documented but not served: %s %s", method, path)
			}
		}
	}
	for k := range app {
		path := strings.SplitN(k, " ", 2)[1]
		api := strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/s3/") || strings.HasPrefix(path, "/t/")
		ops := path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/openapi.json"
		if (api || ops) && !documented[k] {
			t.Errorf("served but not documented: %s", k)
		}
	}
	if !documented[shape("GET", "/v1/uploads/{id}")] || !documented[shape("POST", "/v1/uploads")] {
		t.Fatal("the comparison saw no /v1 routes")
	}
}

// TestOpenAPIServed checks GET /openapi.json answers the embedded
// document as JSON, without a token.
func TestOpenAPIServed(t *testing.T) {
	srv := newTestServer(t, io.Discard)
	resp, err := srv.App().Test(httptest.NewRequest("GET", "/openapi.json", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil || v["openapi"] != "3.1.0" {
		t.Fatalf("not the document: %v", err)
	}
}

// TestMetricsRoute checks Options.Metrics is served at /metrics without
// a token, and that without it there is no such route.
func TestMetricsRoute(t *testing.T) {
	base := newTestServer(t, io.Discard)
	opts := base.opts
	opts.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "chute_up 1\n")
	})
	calls := 0
	opts.Middleware = append(opts.Middleware, func(c *fiber.Ctx) error { calls++; return c.Next() })
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(base.svc, base.authn, opts)
	resp, err := srv.App().Test(httptest.NewRequest("GET", "/metrics", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "chute_up 1\n" {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, body)
	}
	if calls != 1 {
		t.Errorf("Options.Middleware ran %d times for one request", calls)
	}
	resp, err = base.App().Test(httptest.NewRequest("GET", "/metrics", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /metrics without Options.Metrics: %d, want 404", resp.StatusCode)
	}
}
