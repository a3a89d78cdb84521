package tracing_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/chute-dev/chute/tracing"
)

// collector is an OTLP/HTTP receiver that decodes what it gets with the
// collector's own message type.
type collector struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*coltracepb.ExportTraceServiceRequest
	headers []http.Header
	status  int // answer; 0 means 200
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &msg); err != nil {
			t.Errorf("not an ExportTraceServiceRequest: %v", err)
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, &msg)
		c.headers = append(c.headers, r.Header.Clone())
		st := c.status
		c.mu.Unlock()
		if r.URL.Path != "/v1/traces" || r.Method != "POST" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		if st != 0 {
			w.WriteHeader(st)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestOTLPExporter: spans exported by Chute's own OTLP/HTTP exporter
// decode, with the collector's message types, to what was recorded: ids,
// parent (remote flag too), kind, times, status, typed attributes,
// resource and scope; the OTEL_EXPORTER_OTLP_* headers and gzip apply.
func TestOTLPExporter(t *testing.T) {
	col := newCollector(t)
	exp, err := tracing.NewOTLPExporter(col.URL, envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":            "authorization=Bearer%20collector-token, x-tenant=t1",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tr := tracing.NewWithExporter(tracing.Config{SampleRatio: 1, ServiceName: "svc", ServiceVersion: "v9"}, exp)

	// A server span under a remote parent, with a failed client child.
	const remoteTrace, remoteSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": "00-" + remoteTrace + "-" + remoteSpan + "-01"})
	mw := tr.Transport("webhook", roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 503, Body: http.NoBody, Request: r}, nil
	}))
	req, _ := http.NewRequestWithContext(startServer(ctx, tr), "POST", "http://hooks.example:8443/x?token=t", nil)
	resp, err := mw.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	endServer(req.Context())
	if err := tr.Shutdown(context.Background()); err != nil { // flushes
		t.Fatal(err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.reqs) != 1 {
		t.Fatalf("%d export requests, want 1", len(col.reqs))
	}
	h := col.headers[0]
	if h.Get("Authorization") != "Bearer collector-token" || h.Get("X-Tenant") != "t1" || h.Get("Content-Encoding") != "gzip" {
		t.Errorf("headers %v", h)
	}
	rss := col.reqs[0].ResourceSpans
	if len(rss) != 1 || len(rss[0].ScopeSpans) != 1 {
		t.Fatalf("resource spans %v", rss)
	}
	res := map[string]string{}
	for _, kv := range rss[0].Resource.Attributes {
		res[kv.Key] = kv.Value.GetStringValue()
	}
	if res["service.name"] != "svc" || res["service.version"] != "v9" {
		t.Errorf("resource %v", res)
	}
	if got := rss[0].ScopeSpans[0].Scope.Name; got != tracing.ScopeName {
		t.Errorf("scope %q", got)
	}
	spans := map[string]*tracepb.Span{}
	for _, s := range rss[0].ScopeSpans[0].Spans {
		spans[s.Name] = s
	}
	srv, cli := spans["test.server"], spans["POST webhook"]
	if srv == nil || cli == nil {
		t.Fatalf("spans %v", spans)
	}
	if hex.EncodeToString(srv.TraceId) != remoteTrace || hex.EncodeToString(srv.ParentSpanId) != remoteSpan {
		t.Errorf("server span trace %x parent %x", srv.TraceId, srv.ParentSpanId)
	}
	if srv.Flags&0x300 != 0x300 || srv.Flags&0xff != 1 {
		t.Errorf("server span flags %#x, want sampled with a remote parent", srv.Flags)
	}
	if srv.Kind != tracepb.Span_SPAN_KIND_SERVER || cli.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v %v", srv.Kind, cli.Kind)
	}
	if string(cli.ParentSpanId) != string(srv.SpanId) || string(cli.TraceId) != string(srv.TraceId) || cli.Flags&0x200 != 0 {
		t.Errorf("client span parent %x, want the server span %x (local)", cli.ParentSpanId, srv.SpanId)
	}
	if cli.EndTimeUnixNano <= cli.StartTimeUnixNano || cli.StartTimeUnixNano < srv.StartTimeUnixNano {
		t.Errorf("times %d..%d under %d", cli.StartTimeUnixNano, cli.EndTimeUnixNano, srv.StartTimeUnixNano)
	}
	if cli.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || cli.Status.GetMessage() != "Service Unavailable" {
		t.Errorf("client status %v", cli.Status)
	}
	if srv.Status.GetCode() != tracepb.Status_STATUS_CODE_OK {
		t.Errorf("server status %v, want OK", srv.Status)
	}
	attrs := map[string]string{}
	for _, kv := range append(cli.Attributes, srv.Attributes...) {
		attrs[kv.Key] = kv.Value.String()
	}
	for k, want := range map[string]string{
		"http.response.status_code": "int_value:503", "server.port": "int_value:8443",
		"server.address": `string_value:"hooks.example"`, "test.flag": "bool_value:true",
		"test.ratio": "double_value:0.5", "test.list": `array_value:{values:{string_value:"a"} values:{string_value:"b"}}`,
	} {
		if got := strings.Join(strings.Fields(attrs[k]), " "); got != strings.Join(strings.Fields(want), " ") {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
}

type ctxKey struct{}

// startServer starts a span "test.server" with attributes of every kind.
func startServer(ctx context.Context, tr *tracing.Tracer) context.Context {
	ctx, span := tracing.TracerOf(tr).Start(ctx, "test.server", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.Bool("test.flag", true), attribute.Float64("test.ratio", 0.5),
			attribute.StringSlice("test.list", []string{"a", "b"})))
	return context.WithValue(ctx, ctxKey{}, span)
}

func endServer(ctx context.Context) {
	span := ctx.Value(ctxKey{}).(trace.Span)
	span.SetStatus(codes.Ok, "")
	span.End()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOTLPExporterRetries: a 503 is tried three times, a 400 once.
func TestOTLPExporterRetries(t *testing.T) {
	for _, c := range []struct {
		status, want int
	}{{503, 3}, {400, 1}} {
		col := newCollector(t)
		col.status = c.status
		exp, err := tracing.NewOTLPExporter(col.URL, envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		tr := tracing.NewWithExporter(tracing.Config{SampleRatio: 1}, exp)
		_, span := tracing.TracerOf(tr).Start(context.Background(), "x")
		span.End()
		_ = tr.Shutdown(context.Background())
		col.mu.Lock()
		if len(col.reqs) != c.want {
			t.Errorf("status %d: %d attempts, want %d", c.status, len(col.reqs), c.want)
		}
		col.mu.Unlock()
	}
}

// TestOTLPEndpointFromEnv: the standard variables choose the URL.
func TestOTLPEndpointFromEnv(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		env      map[string]string
		wantErr  string
	}{
		{"", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "nope"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{"", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "OTEL_EXPORTER_OTLP_HEADERS"},
	} {
		if _, err := tracing.NewOTLPExporter(c.endpoint, envOf(c.env)); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%v: error %v, want one naming %s", c.env, err, c.wantErr)
		}
	}
	// Each source of the URL reaches a collector at its path.
	col := newCollector(t)
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": col.URL + "/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
	} {
		exp, err := tracing.NewOTLPExporter("", envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		tr := tracing.NewWithExporter(tracing.Config{SampleRatio: 1}, exp)
		_, span := tracing.TracerOf(tr).Start(context.Background(), "x")
		span.End()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.reqs) != 2 {
		t.Errorf("%d exports reached the collector, want 2", len(col.reqs))
	}
}
