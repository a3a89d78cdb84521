package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Tracing configures OpenTelemetry traces (docs/observability.md).
type Tracing struct {
	// Enabled exports a trace of every request over OTLP/HTTP. Default
	// false: nothing is traced, at no cost.
	Enabled bool `yaml:"enabled"`
	// OTLPEndpoint is the base URL of an OTLP/HTTP collector
	// (http://127.0.0.1:4318); spans go to OTLPEndpoint + "/v1/traces".
	// Default "": the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT variable, else http://localhost:4318.
	// A collector's credentials go in OTEL_EXPORTER_OTLP_HEADERS, which
	// the exporter reads, not here.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of new traces kept, from 0 to 1. A request
	// that carries a traceparent follows its caller's decision. Default 1.
	SampleRatio Ratio `yaml:"sample_ratio"`
	// ServiceName is the service.name of the spans. Default "chute".
	ServiceName string `yaml:"service_name"`
}

// Ratio is a number from 0 to 1, written as a decimal (0.25).
type Ratio float64

// UnmarshalText parses a decimal number.
func (r *Ratio) UnmarshalText(text []byte) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(string(text)), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", text)
	}
	*r = Ratio(f)
	return nil
}

const defaultServiceName = "chute"

// validate checks the tracing section.
func (t *Tracing) validate(add addFunc) {
	if t.SampleRatio < 0 || t.SampleRatio > 1 || t.SampleRatio != t.SampleRatio {
		add("tracing.sample_ratio", "must be between 0 and 1")
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		add("tracing.service_name", "must not be empty")
	}
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			add("tracing.otlp_endpoint", "must be an http:// or https:// URL (the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318)")
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			add("tracing.otlp_endpoint", "must carry no user, query or fragment (put a collector's credentials in OTEL_EXPORTER_OTLP_HEADERS)")
		}
	}
}
