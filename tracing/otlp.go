package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Chute's OTLP/HTTP trace exporter. It speaks the protocol of the
// OpenTelemetry specification (a protobuf ExportTraceServiceRequest
// POSTed to <endpoint>/v1/traces) with the message types of
// go.opentelemetry.io/proto/otlp, but not through the official
// otlptracehttp exporter: that one links gRPC, and gRPC links
// html/template, whose use of reflection keeps every exported method of
// every type in the binary — 30 MB more for chute (76 MB instead of 46).
//
// It reads the standard variables the official exporter reads for HTTP:
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the whole URL) or
// OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, /v1/traces appended),
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS (key=value pairs, comma separated,
// values URL-encoded), OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT (milliseconds,
// default 10000) and OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION (gzip or
// none). TLS uses the system's roots; the certificate variables are not
// read.

// otlpExporter is a sdktrace.SpanExporter over OTLP/HTTP with protobuf.
type otlpExporter struct {
	url      string
	headers  map[string]string
	gzip     bool
	timeout  time.Duration
	client   *http.Client
	mu       sync.Mutex
	shutdown bool
}

// newOTLPExporter returns the exporter of endpoint (a base URL; empty:
// the environment's), configured from getenv.
func newOTLPExporter(endpoint string, getenv func(string) string) (*otlpExporter, error) {
	env := func(name string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + name)
	}
	e := &otlpExporter{headers: map[string]string{}, timeout: 10 * time.Second}
	var err error
	switch {
	case endpoint != "":
		e.url, err = endpointURL(endpoint)
	case getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		e.url = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") // used as it is
		if u, perr := url.Parse(e.url); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			err = errors.New("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http:// or https:// URL")
		}
	case getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		e.url, err = endpointURL(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		if err != nil {
			err = errors.New("OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL")
		}
	default:
		e.url = "http://localhost:4318/v1/traces"
	}
	if err != nil {
		return nil, err
	}
	if h := env("HEADERS"); h != "" {
		for pair := range strings.SplitSeq(h, ",") {
			k, v, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, errors.New("OTEL_EXPORTER_OTLP_HEADERS: want key=value pairs, comma separated")
			}
			if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
				v = dv
			}
			e.headers[k] = strings.TrimSpace(v)
		}
	}
	if t := env("TIMEOUT"); t != "" {
		ms, err := strconv.Atoi(t)
		if err != nil || ms <= 0 {
			return nil, errors.New("OTEL_EXPORTER_OTLP_TIMEOUT: want a positive number of milliseconds")
		}
		e.timeout = time.Duration(ms) * time.Millisecond
	}
	switch c := env("COMPRESSION"); c {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_COMPRESSION: %q is not gzip or none", c)
	}
	e.client = &http.Client{Timeout: e.timeout}
	return e, nil
}

// ExportSpans sends spans in one request, retried (after 0.5 s, then 1 s)
// when the collector answers 429, 502, 503 or 504 or cannot be reached.
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	stopped := e.shutdown
	e.mu.Unlock()
	if stopped || len(spans) == 0 {
		return nil
	}
	body, err := encodeSpans(spans)
	if err != nil {
		return err
	}
	if e.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
	}
	var last error
	for attempt, wait := range []time.Duration{0, 500 * time.Millisecond, time.Second} {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("otlp export: %w (last: %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
		}
		retry, err := e.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

// post sends body once; retry says whether another attempt may succeed.
func (e *otlpExporter) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("otlp export: cannot build the request")
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "chute-otlp")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text names the URL
		}
		return ctx.Err() == nil, fmt.Errorf("otlp export to %s: %v", redactedHost(e.url), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == 429, resp.StatusCode == 502, resp.StatusCode == 503, resp.StatusCode == 504:
		return true, fmt.Errorf("otlp export to %s: status %d", redactedHost(e.url), resp.StatusCode)
	}
	return false, fmt.Errorf("otlp export to %s: status %d", redactedHost(e.url), resp.StatusCode)
}

// Shutdown stops the exporter: later exports do nothing.
func (e *otlpExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.shutdown = true
	e.mu.Unlock()
	return nil
}

// redactedHost is the scheme and host of u, for messages.
func redactedHost(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the collector"
	}
	return p.Scheme + "://" + p.Host
}

// encodeSpans returns the protobuf ExportTraceServiceRequest of spans:
// field 1 (resource_spans) repeated, one per resource, each with one
// ScopeSpans per instrumentation scope. Only that wrapper is written by
// hand; the messages inside are the generated types.
func encodeSpans(spans []sdktrace.ReadOnlySpan) ([]byte, error) {
	type scopeKey struct{ name, version, schema string }
	var order []*tracepb.ResourceSpans
	byRes := map[*resource.Resource]*tracepb.ResourceSpans{}
	scopes := map[*tracepb.ResourceSpans]map[scopeKey]*tracepb.ScopeSpans{}
	for _, s := range spans {
		res := s.Resource()
		rs, ok := byRes[res] // one per tracer provider
		if !ok {
			rs = &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: keyValues(res.Attributes())}, SchemaUrl: res.SchemaURL()}
			byRes[res] = rs
			scopes[rs] = map[scopeKey]*tracepb.ScopeSpans{}
			order = append(order, rs)
		}
		is := s.InstrumentationScope()
		sk := scopeKey{is.Name, is.Version, is.SchemaURL}
		ss, ok := scopes[rs][sk]
		if !ok {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: is.Name, Version: is.Version}, SchemaUrl: is.SchemaURL}
			scopes[rs][sk] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, span(s))
	}
	var out []byte
	for _, rs := range order {
		b, err := proto.Marshal(rs)
		if err != nil {
			return nil, fmt.Errorf("otlp export: encode: %w", err)
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return out, nil
}

// OTLP span flags: the W3C trace flags in the low byte, and whether the
// parent is known to be (or not to be) remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// span is the OTLP form of s.
func span(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	p := &tracepb.Span{
		TraceId:                tid[:],
		SpanId:                 sid[:],
		TraceState:             sc.TraceState().String(),
		Name:                   s.Name(),
		Kind:                   tracepb.Span_SpanKind(s.SpanKind()), // the same numbering
		StartTimeUnixNano:      uint64(s.StartTime().UnixNano()),
		EndTimeUnixNano:        uint64(s.EndTime().UnixNano()),
		Attributes:             keyValues(s.Attributes()),
		DroppedAttributesCount: uint32(s.DroppedAttributes()),
		DroppedEventsCount:     uint32(s.DroppedEvents()),
		DroppedLinksCount:      uint32(s.DroppedLinks()),
		Flags:                  uint32(sc.TraceFlags()),
	}
	if parent := s.Parent(); parent.SpanID().IsValid() {
		psid := parent.SpanID()
		p.ParentSpanId = psid[:]
		p.Flags |= flagHasIsRemote
		if parent.IsRemote() {
			p.Flags |= flagIsRemote
		}
	}
	switch st := s.Status(); st.Code {
	case codes.Error:
		p.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: st.Description}
	case codes.Ok:
		p.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	}
	for _, ev := range s.Events() {
		p.Events = append(p.Events, &tracepb.Span_Event{
			TimeUnixNano: uint64(ev.Time.UnixNano()), Name: ev.Name,
			Attributes: keyValues(ev.Attributes), DroppedAttributesCount: uint32(ev.DroppedAttributeCount),
		})
	}
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		p.Links = append(p.Links, &tracepb.Span_Link{
			TraceId: ltid[:], SpanId: lsid[:], TraceState: l.SpanContext.TraceState().String(),
			Attributes: keyValues(l.Attributes), DroppedAttributesCount: uint32(l.DroppedAttributeCount),
			Flags: uint32(l.SpanContext.TraceFlags()),
		})
	}
	return p
}

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRING:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), func(b bool) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
		})
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), func(n int64) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
		})
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), func(f float64) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		})
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), func(s string) *commonpb.AnyValue {
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		})
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.String()}}
}

func array[T any](xs []T, one func(T) *commonpb.AnyValue) *commonpb.AnyValue {
	vals := make([]*commonpb.AnyValue, 0, len(xs))
	for _, x := range xs {
		vals = append(vals, one(x))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
}
