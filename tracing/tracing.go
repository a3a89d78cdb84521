// Package tracing owns Chute's OpenTelemetry traces: the tracer provider
// and its OTLP/HTTP exporter, and the decorators and middleware that make
// spans without touching the use cases, the same seams package metrics
// uses:
//
//   - Middleware is a Fiber handler making the server span of each
//     request, named by its route pattern ("POST /v1/uploads/:id/complete"),
//     child of the W3C traceparent the client sent, if any;
//   - Authenticator wraps the bearer-token check (span auth.authenticate);
//   - RateLimiter wraps the per-subject limit (span ratelimit.allow, a
//     Redis call);
//   - Sessions wraps the session store port (spans session.<op>, Redis);
//   - Store and Capabilities wrap the object store port and each optional
//     ability (spans store.<op>);
//   - Transport makes a client span for each outgoing call to the
//     authorizer, a verify hook or a webhook, and sends the trace context
//     with it (traceparent, tracestate).
//
// Off (the default) costs nothing: New returns a Tracer whose decorators
// return what they are given, whose Middleware is nil and whose Transport
// is the one given, so not one allocation is added to a request
// (TestOffAddsNothing, BenchmarkOff).
//
// Span names are fixed strings or route patterns, never ids. Upload ids,
// profiles, backends, part numbers and states are attributes. No
// attribute ever carries a token, a credential, a presigned URL, an object
// key or a hook's URL (only its host): object keys are built from subjects
// and file names by templates, and hook URLs often carry tokens.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every span Chute makes.
const ScopeName = "github.com/chute-dev/chute"

// Config configures the traces (config.Tracing, resolved).
type Config struct {
	// Enabled turns tracing on; off, nothing is traced and nothing costs.
	Enabled bool
	// Endpoint is the base URL of an OTLP/HTTP collector
	// (http://127.0.0.1:4318); spans are POSTed to Endpoint + "/v1/traces".
	// Empty: the exporter reads OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318. The
	// exporter also reads OTEL_EXPORTER_OTLP_HEADERS (a collector's
	// credentials stay out of Chute's configuration), _TIMEOUT,
	// _COMPRESSION (otlp.go; not the TLS certificate variables).
	Endpoint string
	// SampleRatio is the share of new traces recorded, 0 to 1. A request
	// that carries a traceparent follows its sampled flag instead.
	SampleRatio float64
	// ServiceName is the service.name resource attribute (default "chute").
	ServiceName string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
}

// Tracer makes Chute's spans. The zero value, and what New returns when
// tracing is off, trace nothing. Its methods are safe for concurrent use.
type Tracer struct {
	tracer   trace.Tracer                    // nil: off
	prop     propagation.TextMapPropagator   // nil: off
	shutdown func(ctx context.Context) error // flushes and stops the exporter
}

// New returns the Tracer cfg describes: with tracing off, one that traces
// nothing; on, one exporting over OTLP/HTTP (otlp.go) through a batching
// processor (tuned by the OTEL_BSP_* variables).
// Shutdown flushes what is left.
func New(cfg Config) (*Tracer, error) {
	if !cfg.Enabled {
		return &Tracer{}, nil
	}
	exp, err := newOTLPExporter(cfg.Endpoint, os.Getenv) // otlp.go; it dials nothing yet
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return NewWithExporter(cfg, exp), nil
}

// NewWithExporter returns a Tracer on a tracer provider that batches spans
// to exp, sampled and named as cfg says (cfg.Enabled and cfg.Endpoint are
// not read). Tests pass an in-memory exporter.
func NewWithExporter(cfg Config, exp sdktrace.SpanExporter) *Tracer {
	return NewWithProcessor(cfg, sdktrace.NewBatchSpanProcessor(exp))
}

// NewWithProcessor is NewWithExporter with the span processor given
// (sdktrace.NewSimpleSpanProcessor exports each span as it ends).
func NewWithProcessor(cfg Config, sp sdktrace.SpanProcessor) *Tracer {
	name := cfg.ServiceName
	if name == "" {
		name = "chute"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
	return &Tracer{
		tracer: tp.Tracer(ScopeName),
		// W3C trace context only: a client's baggage header is not passed
		// on to the application's hooks (it is the client's to set).
		prop:     propagation.TraceContext{},
		shutdown: tp.Shutdown,
	}
}

// endpointURL is the traces URL of a collector's base URL.
func endpointURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("tracing.otlp_endpoint: must be an http:// or https:// URL")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// Enabled reports whether t records spans.
func (t *Tracer) Enabled() bool { return t != nil && t.tracer != nil }

// Propagator returns the W3C trace-context propagator (traceparent,
// tracestate; not baggage), or nil when tracing is off.
func (t *Tracer) Propagator() propagation.TextMapPropagator {
	if !t.Enabled() {
		return nil
	}
	return t.prop
}

// Shutdown exports the spans still buffered and stops the exporter,
// within ctx. A no-op when tracing is off.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if !t.Enabled() || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// start starts a span named name as a child of ctx's.
func (t *Tracer) start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// end ends span, marking it failed with the description kind when err is
// not nil. kind is a fixed word (storeErrorKind, sessionErrorKind), never
// an error's text, which may name keys.
func end(span trace.Span, err error, kind string) {
	if err != nil {
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}

// Attribute keys Chute sets (besides the OpenTelemetry semantic
// conventions' http.*, db.*, server.*).
const (
	AttrUploadID   = attribute.Key("chute.upload_id")
	AttrProfile    = attribute.Key("chute.profile")
	AttrBackend    = attribute.Key("chute.backend")
	AttrStrategy   = attribute.Key("chute.strategy")
	AttrPartNumber = attribute.Key("chute.part_number")
	AttrPartCount  = attribute.Key("chute.part_count")
	AttrState      = attribute.Key("chute.state")
	AttrSubject    = attribute.Key("chute.subject")
	AttrRequestID  = attribute.Key("chute.request_id")
	AttrHook       = attribute.Key("chute.hook")
	AttrOutcome    = attribute.Key("chute.outcome")
)
