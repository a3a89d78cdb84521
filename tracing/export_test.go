package tracing

import "go.opentelemetry.io/otel/trace"

// NewOTLPExporter is newOTLPExporter, for the tests.
var NewOTLPExporter = newOTLPExporter

// TracerOf returns the tracer of t, to start spans in tests.
func TracerOf(t *Tracer) trace.Tracer { return t.tracer }
