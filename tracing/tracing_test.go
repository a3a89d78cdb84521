package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/broker/verifyhttp"
	"github.com/chute-dev/chute/broker/webhook"
	"github.com/chute-dev/chute/events"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/tracing"
)

const (
	apiKey        = "sk-test-API-KEY-never-in-a-span"
	hookSecret    = "hook-SECRET-never-in-a-span"
	verifySecret  = "verify-SECRET-never-in-a-span"
	authzToken    = "authz-TOKEN-never-in-a-span"
	webhookToken  = "webhook-TOKEN-never-in-a-span"
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// hookServer records the traceparent of every call it gets.
type hookServer struct {
	*httptest.Server
	mu  sync.Mutex
	tps []string
}

func newHook(t *testing.T, answer string) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.tps = append(h.tps, r.Header.Get("Traceparent"))
		if b := r.Header.Get("Baggage"); b != "" {
			h.tps = append(h.tps, "baggage: "+b) // a call with baggage fails the tests
		}
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) traceparents() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.tps)
}

// rig is a broker behind its HTTP API with every port traced into an
// in-memory exporter: sessions on miniredis, an in-memory object store,
// an authorizer, a verify hook and a webhook on local servers.
type rig struct {
	srv                   *httpapi.Server
	exp                   *tracetest.InMemoryExporter
	store                 *memStore
	authz, verify, events *hookServer
	deliverer             *events.Deliverer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{exp: tracetest.NewInMemoryExporter(), store: newMemStore()}
	tr := tracing.NewWithProcessor(tracing.Config{SampleRatio: 1, ServiceName: "chute-test"}, sdktrace.NewSimpleSpanProcessor(r.exp))
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })

	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })

	r.authz = newHook(t, `{"allow": true}`)
	r.verify = newHook(t, `{"accept": true}`)
	r.events = newHook(t, `{}`)
	az, err := webhook.New(webhook.Config{URL: r.authz.URL + "/authorize/" + authzToken, Client: tr.Client("authorizer")})
	if err != nil {
		t.Fatal(err)
	}
	hooks := []events.Webhook{{URL: r.events.URL + "/hook?token=" + webhookToken, Secret: hookSecret}}
	outbox := events.NewOutbox(rc, "chute", hooks, 0)
	outbox.SetPropagator(tr.Propagator())
	r.deliverer = events.NewDeliverer(rc, "chute", hooks, events.DeliveryConfig{
		Poll: 20 * time.Millisecond, Transport: tr.Transport("webhook", nil), Propagator: tr.Propagator(),
	}, nil, nil)

	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
			PartSize: 5 * multipart.MiB, SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"*/*"},
			URLTTL: time.Minute, KeyTemplate: "{subject}/{id}{ext}",
			Verify: &broker.VerifyHook{URL: r.verify.URL + "/verify", Secret: verifySecret, Timeout: 5 * time.Second}}},
		Backends:     map[string]broker.ObjectStore{"main": tr.Store("main", r.store)},
		Capabilities: map[string]broker.Capabilities{"main": tr.Capabilities("main", broker.ResolveCapabilities(r.store))},
		Sessions:     tr.Sessions(sessions.NewRedisStore(rc)),
		TTL:          time.Hour,
		Authorizer:   az,
		Verifier:     verifyhttp.New(tr.Client("verify_hook")),
		Events:       outbox,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewAPIKeys([]auth.APIKey{{Key: apiKey, Subject: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httpapi.New(svc, tr.Authenticator(authn), httpapi.Options{
		Logger:      slog.New(slog.DiscardHandler),
		Middleware:  []fiber.Handler{tr.Middleware()},
		RateLimiter: tr.RateLimiter(sessions.NewRateLimiter(rc, "chute", 100, 100)),
	})
	return r
}

// call sends one request and decodes the answer into out (when not nil).
func (r *rig) call(t *testing.T, method, path string, body any, header map[string]string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := r.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// upload runs one multipart upload of three parts: create (with
// header), part-urls, three reports, complete. It returns the session id
// and the object key.
func (r *rig) upload(t *testing.T, header map[string]string) (id, key string) {
	t.Helper()
	const size = 12 * multipart.MiB
	var created struct {
		ID, Key   string
		PartCount int `json:"part_count"`
	}
	if st := r.call(t, "POST", "/v1/uploads", map[string]any{"filename": "clip.mp4", "content_type": "video/mp4", "size": size}, header, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if created.PartCount != 3 {
		t.Fatalf("part_count %d, want 3", created.PartCount)
	}
	if st := r.call(t, "POST", "/v1/uploads/"+created.ID+"/part-urls", map[string]any{"part_numbers": []int{2, 3}}, nil, nil); st != 200 {
		t.Fatalf("part-urls: %d", st)
	}
	r.store.mu.Lock()
	var uploadID string
	for u := range r.store.uploads {
		uploadID = u
	}
	r.store.mu.Unlock()
	for n, sz := range []int64{5 * multipart.MiB, 5 * multipart.MiB, 2 * multipart.MiB} {
		etag := r.store.put(uploadID, n+1, sz)
		if st := r.call(t, "PUT", fmt.Sprintf("/v1/uploads/%s/parts/%d", created.ID, n+1), map[string]any{"etag": etag, "size": sz}, nil, nil); st != 200 {
			t.Fatalf("report part %d: %d", n+1, st)
		}
	}
	if st := r.call(t, "POST", "/v1/uploads/"+created.ID+"/complete", nil, nil, nil); st != 200 {
		t.Fatalf("complete: %d", st)
	}
	return created.ID, created.Key
}

// deliver runs the webhook deliverer until the webhook got n calls.
func (r *rig) deliver(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.deliverer.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	// Until the webhook got the calls and their client spans ended (with
	// the answer: stopping the deliverer earlier cancels a call).
	ended := func() int {
		k := 0
		for _, s := range r.exp.GetSpans() {
			if s.Name == "POST webhook" {
				k++
			}
		}
		return k
	}
	for len(r.events.traceparents()) < n || ended() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got %d calls, want %d", len(r.events.traceparents()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type spans = tracetest.SpanStubs

// serverSpan returns the one server span named name.
func serverSpan(t *testing.T, all spans, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range all {
		if s.SpanKind == trace.SpanKindServer && s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d server spans named %q, want 1; spans: %v", len(found), name, names(all))
	}
	return found[0]
}

// descendants returns the names of the spans under root, each once.
func descendants(all spans, root tracetest.SpanStub) []string {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	for _, s := range all {
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	var out []string
	var walk func(id trace.SpanID)
	walk = func(id trace.SpanID) {
		for _, c := range children[id] {
			if c.SpanContext.TraceID() != root.SpanContext.TraceID() {
				continue
			}
			if !slices.Contains(out, c.Name) {
				out = append(out, c.Name)
			}
			walk(c.SpanContext.SpanID())
		}
	}
	walk(root.SpanContext.SpanID())
	return out
}

func names(all spans) []string {
	var out []string
	for _, s := range all {
		out = append(out, s.Name)
	}
	return out
}

// TestUploadTrace: one upload gives a server span per request, named by
// its route, each with the spans of authentication, Redis and the store
// under it.
func TestUploadTrace(t *testing.T) {
	r := newRig(t)
	id, _ := r.upload(t, nil)
	all := r.exp.GetSpans()
	t.Logf("the spans of one upload:\n%s", tree(all))

	want := map[string][]string{
		"POST /v1/uploads":               {"auth.authenticate", "ratelimit.allow", "session.create", "store.create_multipart", "store.presign_part", "POST authorizer"},
		"POST /v1/uploads/:id/part-urls": {"auth.authenticate", "ratelimit.allow", "store.presign_part"}, // signed from the cache: no session read
		"PUT /v1/uploads/:id/parts/:n":   {"auth.authenticate", "session.put_part"},
		"POST /v1/uploads/:id/complete":  {"auth.authenticate", "session.try_lock", "session.transition", "store.list_parts", "store.complete_multipart", "store.presign_get", "POST verify_hook"},
	}
	for name, kids := range want {
		if name == "PUT /v1/uploads/:id/parts/:n" {
			continue // three of them: checked below
		}
		root := serverSpan(t, all, name)
		got := descendants(all, root)
		for _, k := range kids {
			if !slices.Contains(got, k) {
				t.Errorf("%s: no %s span under it; it has %v", name, k, got)
			}
		}
		if root.Parent.IsValid() {
			t.Errorf("%s: has a parent %v, want a root span (no traceparent was sent)", name, root.Parent)
		}
		if v := attr(root, "chute.upload_id"); v != id {
			t.Errorf("%s: chute.upload_id %q, want %q", name, v, id)
		}
		if v := attr(root, "http.response.status_code"); v != "200" && v != "201" {
			t.Errorf("%s: http.response.status_code %q", name, v)
		}
	}
	// The three reports: one span each, with its part number.
	var parts []string
	for _, s := range all {
		if s.Name == "PUT /v1/uploads/:id/parts/:n" {
			parts = append(parts, attr(s, "chute.part_number"))
			if got := descendants(all, s); !slices.Contains(got, "session.put_part") || !slices.Contains(got, "auth.authenticate") {
				t.Errorf("report part: children %v", got)
			}
		}
	}
	slices.Sort(parts)
	if !slices.Equal(parts, []string{"1", "2", "3"}) {
		t.Errorf("report spans' part numbers %v, want 1 2 3", parts)
	}
	// Span names never hold an id.
	for _, s := range all {
		if strings.Contains(s.Name, id) || strings.Contains(s.Name, "mpu-") {
			t.Errorf("span name %q holds an id", s.Name)
		}
	}
	create := serverSpan(t, all, "POST /v1/uploads")
	if v := attr(create, "chute.profile"); v != "default" {
		t.Errorf("create span: chute.profile %q", v)
	}
	if got := create.Resource.Attributes(); !slices.ContainsFunc(got, func(kv attribute.KeyValue) bool {
		return string(kv.Key) == "service.name" && kv.Value.AsString() == "chute-test"
	}) {
		t.Errorf("resource %v has no service.name chute-test", got)
	}
}

// TestIncomingTraceparentIsParent: a client's traceparent becomes the
// parent of the request's server span.
func TestIncomingTraceparentIsParent(t *testing.T) {
	r := newRig(t)
	r.upload(t, map[string]string{"traceparent": "00-" + clientTraceID + "-" + clientSpanID + "-01", "tracestate": "vendor=abc"})
	create := serverSpan(t, r.exp.GetSpans(), "POST /v1/uploads")
	if got := create.SpanContext.TraceID().String(); got != clientTraceID {
		t.Errorf("trace id %s, want the client's %s", got, clientTraceID)
	}
	if got := create.Parent.SpanID().String(); got != clientSpanID || !create.Parent.IsRemote() {
		t.Errorf("parent %s (remote %v), want the client's span %s", got, create.Parent.IsRemote(), clientSpanID)
	}
	if got := create.SpanContext.TraceState().Get("vendor"); got != "abc" {
		t.Errorf("tracestate vendor=%q, want abc", got)
	}
	// A request without one starts a trace of its own.
	complete := serverSpan(t, r.exp.GetSpans(), "POST /v1/uploads/:id/complete")
	if complete.SpanContext.TraceID().String() == clientTraceID {
		t.Error("the complete (sent without a traceparent) joined the client's trace")
	}
}

// TestOutgoingCallsCarryTraceparent: the authorizer, the verify hook and
// the webhook each get a traceparent of the trace of the request that
// caused the call, naming the client span of that call.
func TestOutgoingCallsCarryTraceparent(t *testing.T) {
	r := newRig(t)
	// The client's baggage is not passed on to the application's hooks.
	r.upload(t, map[string]string{"traceparent": "00-" + clientTraceID + "-" + clientSpanID + "-01", "baggage": "user=alice"})
	r.deliver(t, 1)
	all := r.exp.GetSpans()
	complete := serverSpan(t, all, "POST /v1/uploads/:id/complete")
	for _, c := range []struct {
		hook    *hookServer
		span    string
		traceID string
	}{
		{r.authz, "POST authorizer", clientTraceID},
		{r.verify, "POST verify_hook", complete.SpanContext.TraceID().String()},
		{r.events, "POST webhook", complete.SpanContext.TraceID().String()},
	} {
		tps := c.hook.traceparents()
		if len(tps) != 1 {
			t.Fatalf("%s: %d calls, want 1", c.span, len(tps))
		}
		parts := strings.Split(tps[0], "-")
		if len(parts) != 4 || parts[0] != "00" {
			t.Fatalf("%s: traceparent %q", c.span, tps[0])
		}
		if parts[1] != c.traceID {
			t.Errorf("%s: traceparent's trace %s, want %s", c.span, parts[1], c.traceID)
		}
		var client *tracetest.SpanStub
		for i := range all {
			if all[i].Name == c.span && all[i].SpanKind == trace.SpanKindClient {
				client = &all[i]
			}
		}
		if client == nil {
			t.Fatalf("no %s span", c.span)
		}
		if parts[2] != client.SpanContext.SpanID().String() {
			t.Errorf("%s: traceparent's span %s, want the client span %s", c.span, parts[2], client.SpanContext.SpanID())
		}
		if v := attr(*client, "http.response.status_code"); v != "200" {
			t.Errorf("%s: status attribute %q", c.span, v)
		}
	}
}

// TestNoSecretsInSpans: no span name, attribute or status holds a token,
// a secret, a presigned URL, an object key or a hook's path and query.
func TestNoSecretsInSpans(t *testing.T) {
	r := newRig(t)
	_, key := r.upload(t, nil)
	r.deliver(t, 1)
	// A refused token, too.
	req := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer wrong-"+apiKey)
	resp, err := r.srv.App().Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if key == "" {
		t.Fatal("no key in the create answer")
	}
	forbidden := []string{apiKey, hookSecret, verifySecret, authzToken, webhookToken, presignSecret, "X-Amz-", "store.test", key, "/authorize", "/verify", "/hook"}
	all := r.exp.GetSpans()
	if len(all) < 20 {
		t.Fatalf("only %d spans", len(all))
	}
	refused := false
	for _, s := range all {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, text := range texts {
			for _, f := range forbidden {
				if strings.Contains(text, f) {
					t.Errorf("span %q holds %q: %q", s.Name, f, text)
				}
			}
		}
		if s.Name == "auth.authenticate" && attr(s, "chute.outcome") == "refused" {
			refused = true
			if p := serverSpanOf(all, s); p == nil || p.Name != "POST /v1/uploads" || attr(*p, "http.response.status_code") != "401" {
				t.Errorf("the refused authentication is not under a 401 POST /v1/uploads span")
			}
		}
	}
	if !refused {
		t.Error("no auth.authenticate span with outcome refused")
	}
}

// serverSpanOf returns the parent of s if it is a server span.
func serverSpanOf(all spans, s tracetest.SpanStub) *tracetest.SpanStub {
	for i := range all {
		if all[i].SpanContext.SpanID() == s.Parent.SpanID() && all[i].SpanKind == trace.SpanKindServer {
			return &all[i]
		}
	}
	return nil
}

// attr returns the value of attribute key of s, as text ("" if absent).
func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// tree renders the spans of all as an indented tree with durations, for
// the log (go test -v -run TestUploadTrace).
func tree(all spans) string {
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	ids := map[trace.SpanID]bool{}
	for _, s := range all {
		ids[s.SpanContext.SpanID()] = true
	}
	for _, s := range all {
		if !s.Parent.IsValid() || !ids[s.Parent.SpanID()] {
			roots = append(roots, s)
			continue
		}
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	byStart := func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) }
	slices.SortFunc(roots, byStart)
	var b strings.Builder
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		extra := ""
		for _, k := range []string{"http.response.status_code", "chute.upload_id", "chute.part_number", "chute.outcome", "chute.hook"} {
			if v := attr(s, k); v != "" {
				extra += " " + strings.TrimPrefix(k, "chute.") + "=" + v
			}
		}
		fmt.Fprintf(&b, "%s%-*s %9s %s%s\n", strings.Repeat("  ", depth), 44-2*depth, s.Name,
			s.EndTime.Sub(s.StartTime).Round(time.Microsecond), strings.ToLower(s.SpanKind.String()), extra)
		kids := children[s.SpanContext.SpanID()]
		slices.SortFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}
