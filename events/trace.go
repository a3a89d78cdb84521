package events

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// Trace context across the outbox: an event published while a request is
// traced carries that request's W3C trace context (traceparent,
// tracestate) in its stream entries, and its deliveries continue the
// trace, however much later and on whichever replica they run. Without a
// propagator (tracing off) nothing is written or read.

// Stream entry fields of the trace context.
const (
	fieldTraceparent = "traceparent"
	fieldTracestate  = "tracestate"
)

// SetPropagator makes Publish record the trace context of its context
// with p (tracing.Tracer.Propagator); nil records none.
func (o *Outbox) SetPropagator(p propagation.TextMapPropagator) { o.prop = p }

// traceFields returns the stream fields of ctx's trace context, or nil.
func traceFields(p propagation.TextMapPropagator, ctx context.Context) []any {
	if p == nil {
		return nil
	}
	c := propagation.MapCarrier{}
	p.Inject(ctx, c)
	var vals []any
	if tp := c[fieldTraceparent]; tp != "" {
		vals = append(vals, fieldTraceparent, tp)
		if ts := c[fieldTracestate]; ts != "" {
			vals = append(vals, fieldTracestate, ts)
		}
	}
	return vals
}

// traceContext returns ctx carrying e's trace context as its remote
// parent, when p is set and e has one.
func traceContext(p propagation.TextMapPropagator, ctx context.Context, e entry) context.Context {
	if p == nil || e.traceparent == "" {
		return ctx
	}
	c := propagation.MapCarrier{fieldTraceparent: e.traceparent}
	if e.tracestate != "" {
		c[fieldTracestate] = e.tracestate
	}
	return p.Extract(ctx, c)
}
