package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuthNoneNeedsLoopback(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.5:8080", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"192.168.1.10:8080", false},
		{"example.com:8080", false},
	} {
		c := valid()
		c.Server.Listen = tc.listen
		c.Server.PublicURL = "http://127.0.0.1:8080"
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("listen %s with auth none: %v, want valid", tc.listen, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "auth.mode: none (no authentication) is only allowed when server.listen is a loopback address")) {
			t.Errorf("listen %s with auth none: %v, want the loopback refusal", tc.listen, err)
		}
		c.Auth.AllowInsecureNone = true
		if err := c.Validate(); err != nil {
			t.Errorf("listen %s with allow_insecure_none: %v, want valid", tc.listen, err)
		}
	}
	// Any real auth mode may listen anywhere.
	c := valid()
	c.Server.Listen = "0.0.0.0:8080"
	c.Auth.Mode = AuthJWT
	c.Auth.JWT.Secret = strings.Repeat("s", 32)
	if err := c.Validate(); err != nil {
		t.Errorf("jwt on 0.0.0.0: %v", err)
	}
}

func TestAuthNoneInsecureFromEnv(t *testing.T) {
	env := []string{"CHUTE_SERVER_LISTEN=0.0.0.0:8080"}
	if msg := loadErr(t, writeFile(t, minimalYAML), env); !strings.Contains(msg, "auth.allow_insecure_none") {
		t.Errorf("Load on 0.0.0.0 with auth none: %q, want a message naming auth.allow_insecure_none", msg)
	}
	c := mustLoad(t, writeFile(t, minimalYAML), append(env, "CHUTE_AUTH_ALLOW_INSECURE_NONE=true"))
	if !c.Auth.AllowInsecureNone {
		t.Error("CHUTE_AUTH_ALLOW_INSECURE_NONE=true not applied")
	}
}

func TestLimitsAndProfilePolicy(t *testing.T) {
	c := mustLoad(t, writeFile(t, minimalYAML+`
limits: { rate: 5, burst: 0, max_open_sessions: 3 }
profiles:
  default: { subjects: [alice, bob], min_size: 1KiB, max_metadata_bytes: 100 }
`), []string{"CHUTE_LIMITS_MAX_OPEN_SESSIONS=7"})
	if c.Limits != (Limits{Rate: 5, Burst: 5, MaxOpenSessions: 7, CompleteTimeout: Duration(15 * time.Minute)}) {
		t.Errorf("limits = %+v, want rate 5, burst 5 (from the rate), max_open_sessions 7 (env)", c.Limits)
	}
	p := c.Profiles["default"]
	if p.MinSize != 1024 || p.MaxMetadataBytes != 100 || strings.Join(p.Subjects, ",") != "alice,bob" {
		t.Errorf("profile = %+v", p)
	}
	if msg := loadErr(t, writeFile(t, minimalYAML), []string{"CHUTE_LIMITS_RATE=fast"}); !strings.Contains(msg, "CHUTE_LIMITS_RATE (limits.rate): \"fast\" is not a whole number") {
		t.Errorf("bad rate: %q", msg)
	}

	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"negative rate", func(c *Config) { c.Limits.Rate = -1 }, "limits.rate: must not be negative"},
		{"negative burst", func(c *Config) { c.Limits.Burst = -1 }, "limits.burst: must not be negative"},
		{"negative open", func(c *Config) { c.Limits.MaxOpenSessions = -1 }, "limits.max_open_sessions: must not be negative"},
		{"min over max", func(c *Config) {
			p := c.Profiles["default"]
			p.MinSize = p.MaxSize + 1
			c.Profiles["default"] = p
		}, "profiles.default.min_size: "},
		{"negative min", func(c *Config) {
			p := c.Profiles["default"]
			p.MinSize = -1
			c.Profiles["default"] = p
		}, "profiles.default.min_size: must not be negative"},
		{"empty subject", func(c *Config) {
			p := c.Profiles["default"]
			p.Subjects = []string{"alice", " "}
			c.Profiles["default"] = p
		}, "profiles.default.subjects[1]: must not be empty"},
		{"metadata over S3", func(c *Config) {
			p := c.Profiles["default"]
			p.MaxMetadataBytes = 4096
			c.Profiles["default"] = p
		}, "profiles.default.max_metadata_bytes: 4096 is not between 1 and 2048"},
	} {
		c := valid()
		tc.change(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestEnvFromFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(secret, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:9000", "CHUTE_BACKENDS_MAIN_BUCKET=uploads",
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=ak", "CHUTE_BACKENDS_MAIN_SECRET_KEY_FILE=" + secret,
	}
	c, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Backends["main"].SecretKey; got != "from-a-file-0123456789" {
		t.Fatalf("secret_key from file = %q", got)
	}
	_, err = Load("", append(env[:3:3], "CHUTE_BACKENDS_MAIN_SECRET_KEY_FILE="+filepath.Join(dir, "missing")))
	if err == nil || !strings.Contains(err.Error(), "CHUTE_BACKENDS_MAIN_SECRET_KEY_FILE") {
		t.Fatalf("missing file: %v", err)
	}
	if strings.Contains(err.Error(), "from-a-file") {
		t.Fatal("error shows a secret")
	}
}

func TestCompleteTimeout(t *testing.T) {
	c := mustLoad(t, writeFile(t, minimalYAML+"limits: { complete_timeout: 90s }\n"), []string{})
	if c.Limits.CompleteTimeout != Duration(90*time.Second) {
		t.Errorf("complete_timeout = %v, want 90s", c.Limits.CompleteTimeout)
	}
	c = mustLoad(t, writeFile(t, minimalYAML), []string{"CHUTE_LIMITS_COMPLETE_TIMEOUT=20m"})
	if c.Limits.CompleteTimeout != Duration(20*time.Minute) {
		t.Errorf("complete_timeout from the environment = %v, want 20m", c.Limits.CompleteTimeout)
	}
	if msg := loadErr(t, writeFile(t, minimalYAML+"limits: { complete_timeout: 0s }\n"), nil); !strings.Contains(msg, "limits.complete_timeout") {
		t.Errorf("complete_timeout 0: %q", msg)
	}
}
