package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// stubStore answers every call with err (nil: success).
type stubStore struct{ err error }

func (s stubStore) CreateMultipart(context.Context, string, backends.ObjectOptions) (string, error) {
	return "up1", s.err
}
func (s stubStore) PresignPart(context.Context, string, string, int, broker.PartOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{URL: "u"}, s.err
}
func (s stubStore) PresignPut(context.Context, string, int64, backends.ObjectOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, s.err
}
func (s stubStore) PresignGet(context.Context, string, backends.GetOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, s.err
}
func (s stubStore) ListParts(context.Context, string, string) ([]multipart.Part, error) {
	return []multipart.Part{{Number: 1}}, s.err
}
func (s stubStore) CompleteMultipart(context.Context, string, string, []multipart.Part, broker.CompleteOptions) (broker.ObjectInfo, error) {
	return broker.ObjectInfo{ETag: "etag"}, s.err
}
func (s stubStore) AbortMultipart(context.Context, string, string) error { return s.err }
func (s stubStore) Stat(context.Context, string) (backends.ObjectInfo, error) {
	return backends.ObjectInfo{Size: 7}, s.err
}
func (s stubStore) Remove(context.Context, string) error { return s.err }
func (s stubStore) Ping(context.Context) error           { return s.err }

func TestStoreCountsCallsAndErrorKinds(t *testing.T) {
	m := New()
	ctx := context.Background()
	ok := m.Store("main", stubStore{})
	if _, err := ok.PresignPart(ctx, "k", "u", 1, broker.PartOptions{Size: 5}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.PresignPart(ctx, "k", "u", 2, broker.PartOptions{Size: 5}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if info, err := ok.Stat(ctx, "k"); err != nil || info.Size != 7 {
		t.Fatalf("Stat result not passed through: %+v %v", info, err)
	}
	if got := testutil.ToFloat64(m.partsSigned); got != 2 {
		t.Errorf("parts signed = %v, want 2", got)
	}

	for _, tc := range []struct {
		err  error
		kind string
	}{
		{fmt.Errorf("stat: %w", backends.ErrNotFound), "not_found"},
		{fmt.Errorf("x: %w", backends.ErrUnavailable), "unavailable"},
		{context.DeadlineExceeded, "unavailable"},
		{backends.ErrAccessDenied, "access_denied"},
		{backends.ErrInvalidPart, "invalid_part"},
		{errors.New("boom"), "other"},
	} {
		bad := m.Store("other", stubStore{err: tc.err})
		_, err := bad.Stat(ctx, "k")
		if !errors.Is(err, tc.err) {
			t.Fatalf("error not passed through: %v", err)
		}
		if got := ErrorKind(tc.err); got != tc.kind {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.kind)
		}
	}
	for kind, want := range map[string]float64{"not_found": 1, "unavailable": 2, "access_denied": 1, "invalid_part": 1, "other": 1} {
		if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("other", "stat", kind)); got != want {
			t.Errorf("errors{other,stat,%s} = %v, want %v", kind, got, want)
		}
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("main", "stat", "other")); got != 0 {
		t.Errorf("a success counted as an error: %v", got)
	}
	// A failed presign is not a signed part.
	if _, err := m.Store("x", stubStore{err: backends.ErrUnavailable}).PresignPart(ctx, "k", "u", 1, broker.PartOptions{Size: 5}, time.Minute); err == nil {
		t.Fatal("want the error")
	}
	if got := testutil.ToFloat64(m.partsSigned); got != 2 {
		t.Errorf("parts signed after a failure = %v, want 2", got)
	}
	// Every call is timed: main has 2 presign_part observations, other 6 stat.
	if n := histCount(t, m, "chute_store_request_duration_seconds", `backend="main",op="presign_part"`); n != 2 {
		t.Errorf("presign_part observations = %d, want 2", n)
	}
	if n := histCount(t, m, "chute_store_request_duration_seconds", `backend="other",op="stat"`); n != 6 {
		t.Errorf("stat observations on other = %d, want 6", n)
	}
}

// histCount returns the sample count of the histogram series of name
// whose labels hold sel, read from the exposition text.
func histCount(t *testing.T, m *Metrics, name, sel string) int {
	t.Helper()
	text := scrape(t, m)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"_count{") && strings.Contains(line, sel) {
			var n int
			if _, err := fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%d", &n); err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

// stubSessions answers with canned sessions, or err.
type stubSessions struct {
	err  error
	sess *sessions.Session
}

func (s stubSessions) Create(context.Context, *sessions.Session) error { return s.err }
func (s stubSessions) Get(context.Context, string) (*sessions.Session, error) {
	return s.sess, s.err
}
func (s stubSessions) PutPart(context.Context, string, multipart.Part) (*sessions.Session, error) {
	return s.sess, s.err
}
func (s stubSessions) Transition(_ context.Context, _ string, c sessions.Change) (*sessions.Session, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := *s.sess
	out.State = c.To
	return &out, nil
}
func (s stubSessions) TryLock(context.Context, string, time.Duration) (string, bool, error) {
	return "t", true, s.err
}
func (s stubSessions) Unlock(context.Context, string, string) error { return s.err }
func (s stubSessions) Ping(context.Context) error                   { return s.err }

func TestSessionsCounters(t *testing.T) {
	m := New()
	ctx := context.Background()
	sess := &sessions.Session{ID: "upl_x", Strategy: sessions.StrategyMultipart, Size: 1000}
	st := m.Sessions(stubSessions{sess: sess})
	if err := st.Create(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, &sessions.Session{Strategy: sessions.StrategySingle}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutPart(ctx, "upl_x", multipart.Part{Number: 1}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []sessions.State{sessions.StateCompleting, sessions.StateCompleted, sessions.StateAborted} {
		if _, err := st.Transition(ctx, "upl_x", sessions.Change{To: to}); err != nil {
			t.Fatal(err)
		}
	}
	checks := map[string]float64{
		"created multipart":  testutil.ToFloat64(m.created.WithLabelValues("multipart")),
		"created single":     testutil.ToFloat64(m.created.WithLabelValues("single")),
		"completed multi":    testutil.ToFloat64(m.completed.WithLabelValues("multipart")),
		"completed single":   testutil.ToFloat64(m.completed.WithLabelValues("single")),
		"bytes":              testutil.ToFloat64(m.bytesDone),
		"aborted":            testutil.ToFloat64(m.aborted),
		"to pending":         testutil.ToFloat64(m.transitions.WithLabelValues("pending")),
		"to completing":      testutil.ToFloat64(m.transitions.WithLabelValues("completing")),
		"to completed":       testutil.ToFloat64(m.transitions.WithLabelValues("completed")),
		"to uploading":       testutil.ToFloat64(m.transitions.WithLabelValues("uploading")),
		"parts reported":     testutil.ToFloat64(m.partsReport),
		"redis errors (get)": testutil.ToFloat64(m.redisErrors.WithLabelValues("get")),
	}
	want := map[string]float64{
		"created multipart": 1, "created single": 1, "completed multi": 1, "completed single": 0,
		"bytes": 1000, "aborted": 1, "to pending": 2, "to completing": 1, "to completed": 1,
		"to uploading": 0, "parts reported": 1, "redis errors (get)": 0,
	}
	for k, w := range want {
		if checks[k] != w {
			t.Errorf("%s = %v, want %v", k, checks[k], w)
		}
	}
}

func TestSessionsUnknownSizeAddsNoBytes(t *testing.T) {
	m := New()
	st := m.Sessions(stubSessions{sess: &sessions.Session{Strategy: sessions.StrategySingle, Kind: multipart.OpenEnded}})
	if _, err := st.Transition(context.Background(), "upl_x", sessions.Change{To: sessions.StateCompleted}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.bytesDone); got != 0 {
		t.Errorf("bytes = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.completed.WithLabelValues("single")); got != 1 {
		t.Errorf("completed = %v, want 1", got)
	}
}

func TestSessionsErrors(t *testing.T) {
	m := New()
	ctx := context.Background()
	// Answers of the store are not Redis failures, and change nothing.
	for _, err := range []error{sessions.ErrNotFound, &sessions.StateError{Current: sessions.StateAborted}, sessions.ErrExists} {
		st := m.Sessions(stubSessions{err: err})
		if _, got := st.Transition(ctx, "upl_x", sessions.Change{To: sessions.StateCompleted}); !errors.Is(got, err) {
			t.Fatalf("error not passed through: %v", got)
		}
		if got := st.Create(ctx, &sessions.Session{Strategy: sessions.StrategySingle}); !errors.Is(got, err) {
			t.Fatalf("error not passed through: %v", got)
		}
	}
	if got := testutil.ToFloat64(m.redisErrors.WithLabelValues("transition")); got != 0 {
		t.Errorf("store answers counted as Redis errors: %v", got)
	}
	if got := testutil.ToFloat64(m.completed.WithLabelValues("single")) + testutil.ToFloat64(m.created.WithLabelValues("single")); got != 0 {
		t.Errorf("failed changes were counted: %v", got)
	}
	down := m.Sessions(stubSessions{err: fmt.Errorf("%w: dial tcp: refused", sessions.ErrUnavailable)})
	_, _ = down.Get(ctx, "upl_x")
	_, _ = down.Get(ctx, "upl_x")
	_ = down.Ping(ctx)
	if got := testutil.ToFloat64(m.redisErrors.WithLabelValues("get")); got != 2 {
		t.Errorf("redis errors{get} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.redisErrors.WithLabelValues("ping")); got != 1 {
		t.Errorf("redis errors{ping} = %v, want 1", got)
	}
}

// planStub is a session store with the PlanSetter capability.
type planStub struct{ stubSessions }

func (p planStub) SetPlan(context.Context, string, int64, int64, int) (*sessions.Session, error) {
	return p.sess, nil
}

func TestSessionsKeepsPlanSetter(t *testing.T) {
	m := New()
	if _, ok := sessions.AsPlanSetter(m.Sessions(stubSessions{})); ok {
		t.Fatal("a store without SetPlan gained it")
	}
	ps, ok := sessions.AsPlanSetter(m.Sessions(planStub{stubSessions{sess: &sessions.Session{ID: "a"}}}))
	if !ok {
		t.Fatal("PlanSetter hidden by the decorator")
	}
	if s, err := ps.SetPlan(context.Background(), "a", 1, 1, 1); err != nil || s.ID != "a" {
		t.Fatalf("SetPlan: %+v %v", s, err)
	}
}

func TestMiddlewareLabelsByRoutePattern(t *testing.T) {
	m := New()
	app := fiber.New(fiber.Config{
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return c.Status(418).SendString("rendered")
		},
	})
	app.Use(m.Middleware())
	v1 := app.Group("/v1", func(c *fiber.Ctx) error {
		if c.Get("Authorization") == "" {
			return c.Status(401).SendString("no")
		}
		return c.Next()
	})
	v1.Get("/uploads/:id", func(c *fiber.Ctx) error { return c.SendString("status") })
	v1.Post("/uploads/:id/complete", func(c *fiber.Ctx) error { return errors.New("fails") })
	v1.Get("/uploads/:id/download-url", func(c *fiber.Ctx) error { return c.SendString("dl") })
	app.Get("/metrics", func(c *fiber.Ctx) error { return c.SendString("m") })
	app.Use(func(c *fiber.Ctx) error { return c.Status(404).SendString("none") })

	do := func(method, path string, auth bool) int {
		req := httptest.NewRequest(method, path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer x")
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	do("GET", "/v1/uploads/upl_aaaa", true)
	do("GET", "/v1/uploads/upl_bbbb?sync=true", true)
	do("GET", "/v1/uploads/upl_bbbb", false) // refused before its handler
	do("GET", "/v1/uploads/upl_cccc/download-url", true)
	if got := do("POST", "/v1/uploads/upl_aaaa/complete", true); got != 418 {
		t.Fatalf("error not rendered by the app's handler: %d", got)
	}
	do("GET", "/v1/nothing/here", true)
	do("DELETE", "/metrics", true)

	for _, tc := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/v1/uploads/:id", "GET", "200", 2},
		{"/v1/uploads/:id", "GET", "401", 1},
		{"/v1/uploads/:id/download-url", "GET", "200", 1},
		{"/v1/uploads/:id/complete", "POST", "418", 1},
		{Unmatched, "GET", "404", 1},
		{Unmatched, "DELETE", "404", 1},
	} {
		if got := testutil.ToFloat64(m.httpRequests.WithLabelValues(tc.route, tc.method, tc.status)); got != tc.want {
			t.Errorf("requests{%s,%s,%s} = %v, want %v", tc.route, tc.method, tc.status, got, tc.want)
		}
	}
	text := scrape(t, m)
	for _, raw := range []string{"upl_aaaa", "upl_bbbb", "sync=true", "/v1/nothing"} {
		if strings.Contains(text, raw) {
			t.Errorf("a raw path leaked into a label: %q", raw)
		}
	}
	if methodLabel("BREW") != "other" || methodLabel("PATCH") != "PATCH" {
		t.Error("an unknown method is not labelled other")
	}
	if n := histCount(t, m, "chute_http_request_duration_seconds", `method="GET",route="/v1/uploads/:id"`); n != 3 {
		t.Errorf("duration observations = %d, want 3", n)
	}
}

func TestRouteMatching(t *testing.T) {
	rs := []fiber.Route{
		{Method: "GET", Path: "/s3/multipart/:uploadId/:partNumber"},
		{Method: "POST", Path: "/s3/multipart/:uploadId/complete"},
		{Method: "GET", Path: "/s3/multipart/:uploadId"},
		{Method: "GET", Path: "/files/*"},
		{Method: "GET", Path: "/opt/:a?"},
		{Method: "GET", Path: "/"},
		{Method: "GET", Path: "/t/:token/s3/params"},
		{Method: "GET", Path: "/x/:id"},
		{Method: "GET", Path: "/x/static"},
	}
	tbl := newRouteTable(rs)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/s3/multipart/abc/3", "/s3/multipart/:uploadId/:partNumber"},
		{"POST", "/s3/multipart/abc/complete", "/s3/multipart/:uploadId/complete"},
		{"GET", "/s3/multipart/abc", "/s3/multipart/:uploadId"},
		{"GET", "/s3/multipart/abc/", "/s3/multipart/:uploadId"},
		{"GET", "/S3/Multipart/abc", "/s3/multipart/:uploadId"},
		{"GET", "/files/a/b/c", "/files/*"},
		{"GET", "/opt", "/opt/:a?"},
		{"GET", "/opt/1", "/opt/:a?"},
		{"GET", "/opt/1/2", Unmatched},
		{"GET", "/", "/"},
		{"GET", "/t/secret-token/s3/params", "/t/:token/s3/params"},
		{"GET", "/x/static", "/x/static"},
		{"GET", "/x/other", "/x/:id"},
		{"PUT", "/x/other", Unmatched},
		{"GET", "/s3", Unmatched},
	} {
		if got := tbl.match(tc.method, tc.path); got != tc.want {
			t.Errorf("match(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestHandlerServesOwnRegistryOnly(t *testing.T) {
	m := New()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	for _, name := range []string{
		"chute_sessions_created_total", "chute_sessions_completed_total", "chute_sessions_aborted_total",
		"chute_sessions_state_transitions_total", "chute_bytes_completed_total", "chute_parts_signed_total",
		"chute_redis_errors_total", "go_goroutines",
	} {
		if !strings.Contains(text, name) {
			t.Errorf("%s missing from a fresh registry", name)
		}
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP chute_sessions_aborted_total Upload sessions aborted, by a client or because the stored object could never match.
# TYPE chute_sessions_aborted_total counter
chute_sessions_aborted_total 0
`), "chute_sessions_aborted_total"); err != nil {
		t.Error(err)
	}
	var _ broker.ObjectStore = m.Store("main", stubStore{})
	var _ sessions.Store = m.Sessions(stubSessions{})
}
