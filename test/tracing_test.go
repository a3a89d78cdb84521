package test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chute-dev/chute/test/containers"
)

// otlpReceiver is a small OTLP/HTTP trace receiver: it decodes every
// export request (protobuf) and keeps its spans.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
	requests int
	bad      []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			r.fail(fmt.Sprintf("%s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type")))
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusNotFound)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				r.fail("gzip: " + err.Error())
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var msg coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &msg)
		}
		if err != nil {
			r.fail("decode: " + err.Error())
			http.Error(w, "bad protobuf", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests++
		for _, rs := range msg.ResourceSpans {
			r.resource = rs.GetResource().GetAttributes()
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) fail(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, s)
}

// TestTracingOTLP runs `chute serve` with tracing exported to an
// in-test OTLP/HTTP receiver, on a real Redis and store, and uploads one
// file of three parts with a client traceparent on the create. The
// batching delay is set far beyond the test, so the spans can only arrive
// through the flush at graceful shutdown: after SIGTERM the receiver must
// hold the server span of every request, named by route, with the spans
// of authentication, Redis and the store under them, in the client's
// trace for the create, and no token, key or presigned URL anywhere.
func TestTracingOTLP(t *testing.T) {
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	rcv := newOTLPReceiver(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`server:
  listen: %q
sessions:
  redis_url: %q
auth:
  mode: jwt
  jwt:
    secret: %q
backends:
  main:
    endpoint: %q
    region: %q
    bucket: %q
    access_key: %q
    path_style: true
    provider: %q
profiles:
  default:
    backend: main
    max_size: 1GiB
    part_size: 5MiB
    single_max: 5MiB
tracing:
  enabled: true
  otlp_endpoint: %q
  sample_ratio: 1
  service_name: chute-it
`, addr, redisURL, jwtSecret, "http://"+s3.Endpoint, s3.Region, s3.Bucket, s3.AccessKey, s3.Kind, rcv.URL)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "CHUTE_BACKENDS_MAIN_SECRET_KEY="+s3.SecretKey,
		// Spans wait in the batch for a minute: only the shutdown flush
		// sends them within this test.
		"OTEL_BSP_SCHEDULE_DELAY=60000")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("chute output:\n%s", logs.String())
		}
	})
	waitReady(t, addr, exited, logs)
	tg := &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs, provider: s3.Kind}
	tok := tg.token(t, "tracer")

	// Create, with the client's trace context.
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	data := randomBytes(t, 11*mib)
	js, _ := json.Marshal(map[string]any{"filename": "traced.bin", "content_type": "application/octet-stream", "size": len(data)})
	req, _ := http.NewRequest("POST", tg.base+"/v1/uploads", bytes.NewReader(js))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var c created
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || json.Unmarshal(raw, &c) != nil || c.PartCount != 3 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	// part-urls for the last two parts, then the bytes, the reports and
	// the complete.
	r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{2, 3}})
	var pu struct {
		Parts []partURL `json:"parts"`
	}
	r.decode(t, &pu)
	if r.status != 200 || len(pu.Parts) != 2 {
		t.Fatalf("part-urls: %d %s", r.status, r.body)
	}
	uploadParts(t, tg, tok, c, data, append(c.Parts[:1:1], pu.Parts...), 1, true)
	done := completeOK(t, tg, tok, c.ID, nil)

	// Nothing is exported before the shutdown (the batch waits a minute).
	time.Sleep(300 * time.Millisecond)
	rcv.mu.Lock()
	early := len(rcv.spans)
	rcv.mu.Unlock()
	if early != 0 {
		t.Errorf("%d spans arrived before the shutdown, with a batch delay of a minute", early)
	}

	stopped = true
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("chute exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("chute did not stop within 30s of SIGTERM")
	}

	rcv.mu.Lock()
	spans, resource, bad := slices.Clone(rcv.spans), rcv.resource, rcv.bad
	rcv.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("the receiver refused exports: %v", bad)
	}
	t.Logf("%d spans exported; the upload's:\n%s", len(spans), otlpTree(spans, c.ID))
	if !slices.ContainsFunc(resource, func(kv *commonpb.KeyValue) bool {
		return kv.Key == "service.name" && kv.Value.GetStringValue() == "chute-it"
	}) {
		t.Errorf("resource %v has no service.name chute-it", resource)
	}

	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	server := func(name string) []*tracepb.Span {
		var out []*tracepb.Span
		for _, s := range spans {
			if s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == name && otlpAttr(s, "chute.upload_id") == c.ID {
				out = append(out, s)
			}
		}
		return out
	}
	under := func(root *tracepb.Span) []string {
		var out []string
		for _, s := range spans {
			for p := s; len(p.ParentSpanId) > 0; {
				parent, ok := byID[hex.EncodeToString(p.ParentSpanId)]
				if !ok {
					break
				}
				if parent == root {
					out = append(out, s.Name)
					break
				}
				p = parent
			}
		}
		return out
	}
	for _, w := range []struct {
		name  string
		count int
		kids  []string
	}{
		{"POST /v1/uploads", 1, []string{"auth.authenticate", "session.create", "store.create_multipart", "store.presign_part"}},
		// The token verified at the create is answered from the JWT
		// cache afterwards: no auth.authenticate span (checked below).
		// Signing makes no Redis round trip: its rate limit is kept in
		// the process (untraced), its session facts in the signing
		// cache (checked below).
		{"POST /v1/uploads/:id/part-urls", 1, []string{"store.presign_part"}},
		{"PUT /v1/uploads/:id/parts/:n", 3, []string{"ratelimit.allow", "session.put_part"}},
		{"POST /v1/uploads/:id/complete", 1, []string{"ratelimit.allow", "session.try_lock", "session.transition", "store.list_parts", "store.complete_multipart"}},
	} {
		got := server(w.name)
		if len(got) != w.count {
			t.Errorf("%d server spans %q of the upload, want %d", len(got), w.name, w.count)
			continue
		}
		for _, s := range got {
			kids := under(s)
			for _, k := range w.kids {
				if !slices.Contains(kids, k) {
					t.Errorf("%s: no %s span under it (it has %v)", w.name, k, kids)
				}
			}
			if w.name == "POST /v1/uploads/:id/part-urls" {
				for _, k := range kids {
					if strings.HasPrefix(k, "session.") || strings.HasPrefix(k, "ratelimit.") {
						t.Errorf("%s: a Redis call (%s) under it; signing needs none", w.name, k)
					}
				}
			}
			// Tracing keeps the authenticator's cache of verified tokens.
			if w.name != "POST /v1/uploads" && slices.Contains(kids, "auth.authenticate") {
				t.Errorf("%s: the token was verified again (the cache of verified tokens is lost behind tracing)", w.name)
			}
		}
	}
	if cs := server("POST /v1/uploads"); len(cs) == 1 {
		if got := hex.EncodeToString(cs[0].TraceId); got != clientTrace {
			t.Errorf("create: trace %s, want the client's %s", got, clientTrace)
		}
		if got := hex.EncodeToString(cs[0].ParentSpanId); got != clientSpan {
			t.Errorf("create: parent %s, want the client's span %s", got, clientSpan)
		}
	}
	// Redis and the store are real here: their spans took time.
	for _, s := range spans {
		if s.Name == "store.complete_multipart" && s.EndTimeUnixNano <= s.StartTimeUnixNano {
			t.Errorf("store.complete_multipart has no duration")
		}
	}
	// No secret anywhere.
	forbidden := []string{tok, jwtSecret, s3.SecretKey, "X-Amz-Signature", c.Key, done.Download.URL}
	for _, s := range spans {
		texts := []string{s.Name, s.GetStatus().GetMessage()}
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Key+"="+kv.Value.String())
		}
		for _, text := range texts {
			for _, f := range forbidden {
				if f != "" && strings.Contains(text, f) {
					t.Errorf("span %q holds a secret, key or URL: %q", s.Name, text)
				}
			}
		}
	}
}

// waitReady waits for /readyz of the chute at addr.
func waitReady(t *testing.T, addr string, exited chan error, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("chute exited early (%v):\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chute not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func otlpAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return fmt.Sprint(v.IntValue)
			}
			return kv.Value.String()
		}
	}
	return ""
}

// otlpTree renders the traces of upload id (the server spans that name
// it and everything under them) as an indented tree with durations.
func otlpTree(spans []*tracepb.Span, id string) string {
	children := map[string][]*tracepb.Span{}
	for _, s := range spans {
		children[hex.EncodeToString(s.ParentSpanId)] = append(children[hex.EncodeToString(s.ParentSpanId)], s)
	}
	var roots []*tracepb.Span
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && otlpAttr(s, "chute.upload_id") == id {
			roots = append(roots, s)
		}
	}
	byStart := func(a []*tracepb.Span) {
		sort.Slice(a, func(i, j int) bool { return a[i].StartTimeUnixNano < a[j].StartTimeUnixNano })
	}
	byStart(roots)
	var b strings.Builder
	var walk func(s *tracepb.Span, depth int)
	walk = func(s *tracepb.Span, depth int) {
		d := time.Duration(s.EndTimeUnixNano - s.StartTimeUnixNano).Round(time.Microsecond)
		extra := ""
		for _, k := range []string{"http.response.status_code", "chute.part_number", "chute.outcome"} {
			if v := otlpAttr(s, k); v != "" {
				extra += " " + strings.TrimPrefix(k, "chute.") + "=" + v
			}
		}
		fmt.Fprintf(&b, "%s%-*s %10s%s\n", strings.Repeat("  ", depth), 44-2*depth, s.Name, d, extra)
		kids := children[hex.EncodeToString(s.SpanId)]
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}
