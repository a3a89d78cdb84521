package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerifyYAMLAndEnv(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "verify")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, minimalYAML+`
profiles:
  default: {}
  videos:
    verify: { url: "https://app.example.com/verify?token=tok-123", secret: "yaml-secret", timeout: 10s }
`)
	c := mustLoad(t, path, []string{
		"CHUTE_PROFILES_DEFAULT_VERIFY_URL=http://127.0.0.1:9000/v",
		"CHUTE_PROFILES_DEFAULT_VERIFY_SECRET_FILE=" + secretFile,
		"CHUTE_PROFILES_VIDEOS_VERIFY_TIMEOUT=45s",
	})
	def, vid := c.Profiles["default"].Verify, c.Profiles["videos"].Verify
	if def.URL != "http://127.0.0.1:9000/v" || def.Secret != "from-a-file" || def.Timeout != Duration(30*time.Second) {
		t.Errorf("profiles.default.verify %+v (want the 30s default timeout)", def)
	}
	if vid.URL != "https://app.example.com/verify?token=tok-123" || vid.Secret != "yaml-secret" || vid.Timeout != Duration(45*time.Second) {
		t.Errorf("profiles.videos.verify %+v", vid)
	}

	r := c.Redacted()
	if r.Profiles["videos"].Verify.Secret != Redaction || r.Profiles["default"].Verify.Secret != Redaction {
		t.Errorf("secrets not redacted: %+v", r.Profiles)
	}
	if c.Profiles["videos"].Verify.Secret != "yaml-secret" {
		t.Errorf("Redacted changed the original")
	}
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tok-123", "yaml-secret", "from-a-file"} {
		if strings.Contains(string(out), s) {
			t.Errorf("config print shows %q:\n%s", s, out)
		}
	}
	if !strings.Contains(string(out), "https://app.example.com/verify?REDACTED") {
		t.Errorf("config print lacks the redacted verify url:\n%s", out)
	}
}

func TestVerifyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Verify
		want string
	}{
		{"scheme", Verify{URL: "ftp://x.example/v", Timeout: Duration(time.Second)}, "profiles.default.verify.url: must be an http:// or https:// URL"},
		{"secret without url", Verify{Secret: "s", Timeout: Duration(time.Second)}, "profiles.default.verify.url: required when verify.secret is set"},
		{"zero timeout", Verify{URL: "https://x.example/v"}, "profiles.default.verify.timeout: 0s is not between 0 and 1m"},
		{"long timeout", Verify{URL: "https://x.example/v", Timeout: Duration(2 * time.Minute)}, "profiles.default.verify.timeout: 2m is not between 0 and 1m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			p := c.Profiles["default"]
			p.Verify = tc.v
			c.Profiles["default"] = p
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
	c := valid()
	c.Limits.CompleteTimeout = Duration(20 * time.Second)
	p := c.Profiles["default"]
	p.Verify = Verify{URL: "https://x.example/v", Timeout: Duration(30 * time.Second)}
	c.Profiles["default"] = p
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "profiles.default.verify.timeout: 30s is not shorter than limits.complete_timeout (20s)") {
		t.Fatalf("a hook slower than the complete: %v", err)
	}

	c = valid()
	p = c.Profiles["default"]
	p.Verify = Verify{URL: "https://x.example/v", Timeout: MaxVerifyTimeout}
	c.Profiles["default"] = p
	if err := c.Validate(); err != nil {
		t.Fatalf("a hook with the longest timeout: %v", err)
	}
}
