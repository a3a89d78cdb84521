package config

import (
	"strings"
	"testing"
)

// backendEnv is the least environment of a valid configuration.
var backendEnv = []string{
	"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:7070", "CHUTE_BACKENDS_MAIN_BUCKET=uploads",
	"CHUTE_BACKENDS_MAIN_ACCESS_KEY=ak", "CHUTE_BACKENDS_MAIN_SECRET_KEY=sk",
}

func TestTracingConfig(t *testing.T) {
	c, err := Load("", append(backendEnv, "CHUTE_TRACING_ENABLED=true", "CHUTE_TRACING_OTLP_ENDPOINT=http://127.0.0.1:4318",
		"CHUTE_TRACING_SAMPLE_RATIO=0.25", "CHUTE_TRACING_SERVICE_NAME=uploads"))
	if err != nil {
		t.Fatal(err)
	}
	if tr := c.Tracing; !tr.Enabled || tr.OTLPEndpoint != "http://127.0.0.1:4318" || tr.SampleRatio != 0.25 || tr.ServiceName != "uploads" {
		t.Errorf("tracing from the environment: %+v", tr)
	}
	d := Default()
	if d.Tracing.Enabled || d.Tracing.SampleRatio != 1 || d.Tracing.ServiceName != "chute" {
		t.Errorf("defaults: %+v", d.Tracing)
	}
	for _, c := range []struct {
		env, want string
	}{
		{"CHUTE_TRACING_SAMPLE_RATIO=1.5", "tracing.sample_ratio: must be between 0 and 1"},
		{"CHUTE_TRACING_SAMPLE_RATIO=-0.1", "tracing.sample_ratio: must be between 0 and 1"},
		{"CHUTE_TRACING_SAMPLE_RATIO=half", "is not a number"},
		{"CHUTE_TRACING_OTLP_ENDPOINT=127.0.0.1:4318", "tracing.otlp_endpoint: must be an http:// or https:// URL"},
		{"CHUTE_TRACING_OTLP_ENDPOINT=https://user:pw@collector.example", "tracing.otlp_endpoint: must carry no user"},
		{"CHUTE_TRACING_OTLP_ENDPOINT=https://collector.example/?api_key=x", "tracing.otlp_endpoint: must carry no user"},
		{"CHUTE_TRACING_SERVICE_NAME= ", "tracing.service_name: must not be empty"},
	} {
		_, err := Load("", append(backendEnv[:4:4], c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the error echoes the password: %v", c.env, err)
		}
	}
	r := Config{Tracing: Tracing{OTLPEndpoint: "https://user:pw@collector.example/?api_key=secret"}}
	if got := r.Redacted().Tracing.OTLPEndpoint; strings.Contains(got, "pw") || strings.Contains(got, "secret") {
		t.Errorf("redacted endpoint %q", got)
	}
}
