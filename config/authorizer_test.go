package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuthorizerConfig(t *testing.T) {
	c := mustLoad(t, writeFile(t, minimalYAML+`
auth:
  authorizer:
    url: "https://app.example/authorize"
    headers: [X-Forwarded-For, X-Tenant]
    secret: "hook-secret"
profiles:
  default: {sniff: true}
`), []string{"CHUTE_AUTH_AUTHORIZER_TIMEOUT=5s"})
	a := c.Auth.Authorizer
	if a.URL != "https://app.example/authorize" || a.Timeout != Duration(5*time.Second) || len(a.Headers) != 2 || a.Secret != "hook-secret" {
		t.Fatalf("authorizer %+v", a)
	}
	if !c.Profiles["default"].Sniff {
		t.Fatal("sniff not read")
	}
	if r := c.Redacted(); r.Auth.Authorizer.Secret != Redaction || c.Auth.Authorizer.Secret != "hook-secret" {
		t.Fatalf("redacted secret %q, original %q", r.Auth.Authorizer.Secret, c.Auth.Authorizer.Secret)
	}
	if d := Default(); d.Auth.Authorizer.Timeout != Duration(2*time.Second) || d.Auth.Authorizer.URL != "" || d.Profiles["default"].Sniff {
		t.Fatalf("defaults %+v sniff %v", d.Auth.Authorizer, d.Profiles["default"].Sniff)
	}
}

func TestAuthorizerValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(a *Authorizer)
		want string
	}{
		{"bad url", func(a *Authorizer) { a.URL = "ftp://x" }, "auth.authorizer.url: must be an http:// or https:// URL"},
		{"secret without url", func(a *Authorizer) { a.Secret = "s" }, "auth.authorizer.url: required"},
		{"zero timeout", func(a *Authorizer) { a.URL = "http://127.0.0.1:9"; a.Timeout = 0 }, "auth.authorizer.timeout"},
		{"long timeout", func(a *Authorizer) { a.URL = "http://127.0.0.1:9"; a.Timeout = Duration(time.Minute) }, "auth.authorizer.timeout"},
		{"authorization header", func(a *Authorizer) { a.URL = "http://127.0.0.1:9"; a.Headers = []string{"authorization"} }, "auth.authorizer.headers[0]: authorization carries the client's credentials"},
		{"cookie header", func(a *Authorizer) { a.URL = "http://127.0.0.1:9"; a.Headers = []string{"X-Ok", "Cookie"} }, "auth.authorizer.headers[1]"},
		{"bad header name", func(a *Authorizer) { a.URL = "http://127.0.0.1:9"; a.Headers = []string{"X Bad"} }, "auth.authorizer.headers[0]: \"X Bad\" is not a header name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.set(&c.Auth.Authorizer)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
	c := valid()
	c.Auth.Authorizer = Authorizer{URL: "http://127.0.0.1:9/hook", Timeout: Duration(time.Second), Headers: []string{"X-Forwarded-For"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
