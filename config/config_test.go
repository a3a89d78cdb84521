package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// writeFile writes content to a file in a fresh temp dir and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads or fails the test.
func mustLoad(t *testing.T, path string, env []string) *Config {
	t.Helper()
	c, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// loadErr loads, expects an error and returns its text.
func loadErr(t *testing.T, path string, env []string) string {
	t.Helper()
	c, err := Load(path, env)
	if err == nil {
		t.Fatalf("Load succeeded, want an error; got %+v", c)
	}
	return err.Error()
}

const minimalYAML = `
backends:
  main:
    endpoint: http://127.0.0.1:7070
    bucket: uploads
    access_key: ak
    secret_key: sk-secret-value
`

// valid returns a configuration that passes Validate.
func valid() Config {
	c := Default()
	c.Backends["main"] = Backend{
		Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", Bucket: "uploads",
		AccessKey: "ak", SecretKey: "sk", Timeout: Duration(30 * time.Second),
	}
	return c
}

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Server.Listen, "127.0.0.1:8080"},
		{"public_url", c.Server.PublicURL, "http://127.0.0.1:8080"},
		{"cors", c.Server.CORSOrigins, []string{"*"}},
		{"request_timeout", c.Server.RequestTimeout.Std(), 30 * time.Second},
		{"shutdown_grace", c.Server.ShutdownGrace.Std(), 15 * time.Second},
		{"body_limit", c.Server.BodyLimit, ByteSize(1 << 20)},
		{"redis_url", c.Sessions.RedisURL, ""},
		{"ttl", c.Sessions.TTL.Std(), 24 * time.Hour},
		{"auth.mode", c.Auth.Mode, AuthNone},
		{"profile", c.Profiles["default"], Profile{
			Backend: "main", MaxSize: 5 << 30, PartSize: 16 << 20, SingleMax: 16 << 20,
			AllowedTypes: DefaultAllowedTypes, URLTTL: Duration(15 * time.Minute),
			KeyTemplate: "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}", MaxMetadataBytes: 2048,
			Verify: Verify{Timeout: Duration(30 * time.Second)},
		}},
		{"log", c.Log, Log{Level: "info", Format: "json"}},
		{"limits", c.Limits, Limits{Rate: 50, Burst: 100, MaxOpenSessions: 100, CompleteTimeout: Duration(15 * time.Minute)}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	// The defaults lack only a backend.
	err := c.Validate()
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Validate(Default()) = %v, want Problems", err)
	}
	want := Problems{
		"backends: at least one backend is required",
		`profiles.default.backend: "main" is not a configured backend (have: none)`,
	}
	if !slices.Equal(p, want) {
		t.Fatalf("Validate(Default()) = %q, want %q", p, want)
	}
	v := valid()
	if err := v.Validate(); err != nil {
		t.Fatalf("Validate(valid()) = %v", err)
	}
}

func TestLoadYAML(t *testing.T) {
	path := writeFile(t, `
server:
  listen: "0.0.0.0:9000"
  cors_origins: ["https://app.example.com", "http://localhost:5173"]
  request_timeout: 10s
  body_limit: 64KiB
sessions:
  redis_url: "redis://:pw@127.0.0.1:6379/2"
  ttl: 2h
auth:
  mode: api_key
  api_keys:
    - { key: "0123456789abcdef", subject: svc }
backends:
  main: &store
    endpoint: http://127.0.0.1:7070
    bucket: uploads
    access_key: ak
    secret_key: sk
    path_style: true
  archive:
    <<: *store
    bucket: archive
    region: eu-west-1
profiles:
  default:
    max_size: 1GiB
    allowed_types: ["image/*", "video/mp4"]
  tiny:
    backend: archive
    max_size: 1MiB
    url_ttl: 1h
log:
  format: json
`)
	c := mustLoad(t, path, nil)
	if c.Server.Listen != "0.0.0.0:9000" || c.Server.PublicURL != "http://127.0.0.1:9000" {
		t.Errorf("server: %+v", c.Server)
	}
	if !slices.Equal(c.Server.CORSOrigins, []string{"https://app.example.com", "http://localhost:5173"}) {
		t.Errorf("cors_origins = %q", c.Server.CORSOrigins)
	}
	if c.Server.RequestTimeout.Std() != 10*time.Second || c.Server.BodyLimit != 64<<10 {
		t.Errorf("server timeouts/limit: %+v", c.Server)
	}
	if c.Server.ReadTimeout.Std() != 30*time.Second {
		t.Errorf("read_timeout lost its default: %v", c.Server.ReadTimeout)
	}
	if c.Sessions.RedisURL != "redis://:pw@127.0.0.1:6379/2" || c.Sessions.TTL.Std() != 2*time.Hour || c.Sessions.KeyPrefix != "chute" {
		t.Errorf("sessions: %+v", c.Sessions)
	}
	if c.Auth.Mode != AuthAPIKey || len(c.Auth.APIKeys) != 1 || c.Auth.APIKeys[0].Subject != "svc" {
		t.Errorf("auth: %+v", c.Auth)
	}
	main := c.Backends["main"]
	if !*main.PathStyle || main.Region != "us-east-1" || main.Timeout.Std() != 30*time.Second {
		t.Errorf("backends.main: %+v", main)
	}
	arch := c.Backends["archive"]
	if arch.Bucket != "archive" || arch.Region != "eu-west-1" || arch.Endpoint != main.Endpoint {
		t.Errorf("backends.archive (merged from an anchor): %+v", arch)
	}
	def := c.Profiles["default"]
	if def.MaxSize != 1<<30 || !slices.Equal(def.AllowedTypes, []string{"image/*", "video/mp4"}) ||
		def.PartSize != 16<<20 || def.Backend != "main" {
		t.Errorf("profiles.default: %+v", def)
	}
	tiny := c.Profiles["tiny"]
	want := Profile{
		Backend: "archive", MaxSize: 1 << 20, PartSize: 16 << 20, SingleMax: 1 << 20,
		AllowedTypes: DefaultAllowedTypes, URLTTL: Duration(time.Hour),
		KeyTemplate: "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}", MaxMetadataBytes: 2048,
		Verify: Verify{Timeout: Duration(30 * time.Second)},
	}
	if !reflect.DeepEqual(tiny, want) {
		t.Errorf("profiles.tiny = %+v, want %+v (per-entry defaults)", tiny, want)
	}
	if c.Log.Format != "json" || c.Log.Level != "info" {
		t.Errorf("log: %+v", c.Log)
	}
}

func TestLoadEmptyFileAndMissingFile(t *testing.T) {
	// An empty file configures nothing: the defaults fail only for want of
	// a backend, which the environment then supplies.
	env := []string{
		"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:7070",
		"CHUTE_BACKENDS_MAIN_BUCKET=uploads",
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=ak",
		"CHUTE_BACKENDS_MAIN_SECRET_KEY=sk",
	}
	c := mustLoad(t, writeFile(t, ""), env)
	if c.Backends["main"].Bucket != "uploads" {
		t.Fatalf("backends.main = %+v", c.Backends["main"])
	}
	msg := loadErr(t, filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !strings.Contains(msg, "nope.yaml") {
		t.Fatalf("missing file error %q doesn't name the file", msg)
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"top", "sever:\n  listen: x\n" + minimalYAML,
			[]string{`sever: unknown key (line 1); did you mean "server"?`}},
		{"nested", "server:\n  lissten: 127.0.0.1:1\n" + minimalYAML,
			[]string{`server.lissten: unknown key (line 2); did you mean "listen"?`}},
		{"in a map entry", minimalYAML + "    secret_kye: x\nprofiles:\n  default:\n    max_sise: 1GiB\n",
			[]string{`backends.main.secret_kye: unknown key`, `profiles.default.max_sise: unknown key`, `did you mean "max_size"?`}},
		{"in a list item", "auth:\n  api_keys:\n    - {key: k, subjet: s}\n" + minimalYAML,
			[]string{`auth.api_keys[0].subjet: unknown key`}},
		{"far from any", "server:\n  zzzzzzzz: 1\n" + minimalYAML,
			[]string{`server.zzzzzzzz: unknown key (line 2)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := loadErr(t, writeFile(t, tt.yaml), nil)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"size", minimalYAML + "profiles:\n  default:\n    max_size: 5 GB x\n", "profiles.default.max_size: "},
		{"duration", "sessions:\n  ttl: 900\n" + minimalYAML, `sessions.ttl: "900" has no unit`},
		{"list expected", "server:\n  cors_origins: \"*\"\n" + minimalYAML, "server.cors_origins: expected a list (line 2)"},
		{"mapping expected", "server: 8080\n" + minimalYAML, "server: expected a mapping of keys"},
		{"bool", minimalYAML + "    path_style: maybe\n", "YAML: line 8: cannot unmarshal"},
		{"syntax", "server: [\n", "YAML: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := loadErr(t, writeFile(t, tt.yaml), nil)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	path := writeFile(t, minimalYAML+`
auth:
  mode: jwt
  jwt:
    secret: from-the-file-which-is-long-enough-000
`)
	env := []string{
		"HOME=/root", // not ours
		"CHUTE_CONFIG=/etc/chute.yaml",
		"CHUTE_DATA_DIR=/tmp/x",
		"CHUTE_SERVER_LISTEN=127.0.0.1:9090",
		"CHUTE_SERVER_CORS_ORIGINS=https://a.example, https://b.example,",
		"CHUTE_SERVER_BODY_LIMIT=2MiB",
		"CHUTE_SESSIONS_REDIS_URL=redis://127.0.0.1:6379/1",
		"CHUTE_SESSIONS_TTL=1h",
		"CHUTE_AUTH_JWT_SECRET=from-the-environment-0123456789abcdef",
		"CHUTE_AUTH_JWT_ISSUER=https://issuer.example",
		"CHUTE_AUTH_API_KEYS=key-number-one-0001:svc-a,key-number-two-0002:svc:b",
		"CHUTE_BACKENDS_MAIN_SECRET_KEY=from-env-secret",
		"CHUTE_BACKENDS_MAIN_PATH_STYLE=true",
		// A whole backend and profile that exist only in the environment.
		"CHUTE_BACKENDS_ARCHIVE_ENDPOINT=https://s3.example.com",
		"CHUTE_BACKENDS_ARCHIVE_BUCKET=archive",
		"CHUTE_BACKENDS_ARCHIVE_ACCESS_KEY=ak2",
		"CHUTE_BACKENDS_ARCHIVE_SECRET_KEY=sk2",
		"CHUTE_BACKENDS_ARCHIVE_TIMEOUT=5s",
		"CHUTE_PROFILES_VIDEOS_BACKEND=archive",
		"CHUTE_PROFILES_VIDEOS_ALLOWED_TYPES=video/*",
		"CHUTE_PROFILES_DEFAULT_MAX_SIZE=2GiB",
		"CHUTE_PROFILES_DEFAULT_PART_SIZE=8MiB",
		"CHUTE_PROFILES_DEFAULT_URL_TTL=30m",
		"CHUTE_PROFILES_DEFAULT_KEY_TEMPLATE={profile}/{id}",
		"CHUTE_LOG_LEVEL=debug",
	}
	c := mustLoad(t, path, env)
	if c.Server.Listen != "127.0.0.1:9090" || c.Server.PublicURL != "http://127.0.0.1:9090" {
		t.Errorf("server.listen/public_url = %q, %q", c.Server.Listen, c.Server.PublicURL)
	}
	if !slices.Equal(c.Server.CORSOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("cors_origins = %q", c.Server.CORSOrigins)
	}
	if c.Server.BodyLimit != 2<<20 || c.Sessions.TTL.Std() != time.Hour || c.Sessions.RedisURL != "redis://127.0.0.1:6379/1" {
		t.Errorf("server/sessions: %+v %+v", c.Server, c.Sessions)
	}
	if c.Auth.JWT.Secret != "from-the-environment-0123456789abcdef" || c.Auth.JWT.Issuer != "https://issuer.example" {
		t.Errorf("auth.jwt = %+v", c.Auth.JWT)
	}
	wantKeys := []APIKey{{"key-number-one-0001", "svc-a"}, {"key-number-two-0002", "svc:b"}}
	if !slices.Equal(c.Auth.APIKeys, wantKeys) {
		t.Errorf("auth.api_keys = %+v", c.Auth.APIKeys)
	}
	if m := c.Backends["main"]; m.SecretKey != "from-env-secret" || !*m.PathStyle || m.AccessKey != "ak" {
		t.Errorf("backends.main = %+v", m)
	}
	wantArchive := Backend{Endpoint: "https://s3.example.com", Region: "us-east-1", Bucket: "archive",
		AccessKey: "ak2", SecretKey: "sk2", Timeout: Duration(5 * time.Second), PathStyle: new(false)}
	if a := c.Backends["archive"]; !reflect.DeepEqual(a, wantArchive) {
		t.Errorf("backends.archive = %+v, want %+v", a, wantArchive)
	}
	v := c.Profiles["videos"]
	if v.Backend != "archive" || !slices.Equal(v.AllowedTypes, []string{"video/*"}) || v.MaxSize != 5<<30 {
		t.Errorf("profiles.videos = %+v", v)
	}
	d := c.Profiles["default"]
	if d.MaxSize != 2<<30 || d.PartSize != 8<<20 || d.URLTTL.Std() != 30*time.Minute || d.KeyTemplate != "{profile}/{id}" {
		t.Errorf("profiles.default = %+v", d)
	}
	if c.Log.Level != "debug" {
		t.Errorf("log.level = %q", c.Log.Level)
	}
}

func TestEnvOnlyNoFile(t *testing.T) {
	c := mustLoad(t, "", []string{
		"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:7070",
		"CHUTE_BACKENDS_MAIN_BUCKET=uploads",
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=ak",
		"CHUTE_BACKENDS_MAIN_SECRET_KEY=sk",
	})
	if len(c.Backends) != 1 || c.Backends["main"].Endpoint != "http://127.0.0.1:7070" {
		t.Fatalf("backends = %+v", c.Backends)
	}
}

func TestEnvMatchesExistingEntryCaseInsensitively(t *testing.T) {
	path := writeFile(t, minimalYAML)
	c := mustLoad(t, path, []string{"CHUTE_BACKENDS_MAIN_BUCKET=other"})
	if len(c.Backends) != 1 || c.Backends["main"].Bucket != "other" {
		t.Fatalf("backends = %+v", c.Backends)
	}
}

func TestEnvErrors(t *testing.T) {
	path := writeFile(t, minimalYAML)
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"CHUTE_SERVER_LISSTEN=x"}, []string{"CHUTE_SERVER_LISSTEN: no such configuration key"}},
		{[]string{"CHUTE_NOPE=1"}, []string{"CHUTE_NOPE: no such configuration key"}},
		{[]string{"CHUTE_BACKENDS_MAIN=1"}, []string{"CHUTE_BACKENDS_MAIN: no such configuration key"}},
		{[]string{"CHUTE_BACKENDS_MAIN_NOPE=1"}, []string{"CHUTE_BACKENDS_MAIN_NOPE: no such configuration key"}},
		{[]string{"CHUTE_AUTH_JWT=1"}, []string{"CHUTE_AUTH_JWT: no such configuration key"}},
		{[]string{"CHUTE_PROFILES_DEFAULT_MAX_SIZE=lots"},
			[]string{"CHUTE_PROFILES_DEFAULT_MAX_SIZE (profiles.default.max_size):", `"lots"`}},
		{[]string{"CHUTE_SESSIONS_TTL=15"}, []string{"CHUTE_SESSIONS_TTL (sessions.ttl):", "no unit"}},
		{[]string{"CHUTE_BACKENDS_MAIN_PATH_STYLE=yes please"}, []string{"CHUTE_BACKENDS_MAIN_PATH_STYLE (backends.main.path_style):"}},
		{[]string{"CHUTE_AUTH_API_KEYS=justakey"}, []string{"CHUTE_AUTH_API_KEYS (auth.api_keys): expected a comma-separated list of key:subject pairs"}},
		// Every bad variable is reported, not only the first.
		{[]string{"CHUTE_A=1", "CHUTE_B=2"}, []string{"CHUTE_A: no such", "CHUTE_B: no such", "2 problems"}},
	}
	for _, tt := range tests {
		msg := loadErr(t, path, tt.env)
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("env %q: error %q does not contain %q", tt.env, msg, w)
			}
		}
	}
	// A variable for a new entry that names no field creates nothing.
	c := mustLoad(t, path, nil)
	if err := c.applyEnv([]string{"CHUTE_PROFILES_NEW_NOPE=1"}); err == nil {
		t.Fatal("CHUTE_PROFILES_NEW_NOPE accepted")
	}
	if _, ok := c.Profiles["new"]; ok {
		t.Fatal("a failed variable created profiles.new")
	}
}

func TestEnvAllowlistExtensible(t *testing.T) {
	path := writeFile(t, minimalYAML)
	saved := slices.Clone(EnvAllowlist)
	t.Cleanup(func() { EnvAllowlist = saved })
	if _, err := Load(path, []string{"CHUTE_TEST_ONLY=1"}); err == nil {
		t.Fatal("CHUTE_TEST_ONLY accepted before being allowlisted")
	}
	EnvAllowlist = append(EnvAllowlist, "CHUTE_TEST_ONLY")
	mustLoad(t, path, []string{"CHUTE_TEST_ONLY=1"})
}

// prof returns a change to the default profile, for TestValidateMessages.
func prof(f func(p *Profile)) func(c *Config) {
	return func(c *Config) {
		p := c.Profiles["default"]
		f(&p)
		c.Profiles["default"] = p
	}
}

// back returns a change to the main backend, for TestValidateMessages.
func back(f func(b *Backend)) func(c *Config) {
	return func(c *Config) {
		b := c.Backends["main"]
		f(&b)
		c.Backends["main"] = b
	}
}

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"part size too small", prof(func(p *Profile) { p.PartSize = 3 << 20 }),
			"profiles.default.part_size: 3MiB is below the S3 minimum part size (5MiB)"},
		{"part size too big", prof(func(p *Profile) { p.PartSize = 6 << 30 }),
			"profiles.default.part_size: 6GiB is above the S3 maximum part size (5GiB)"},
		{"unknown backend", prof(func(p *Profile) { p.Backend = "mian" }),
			`profiles.default.backend: "mian" is not a configured backend (have: main)`},
		{"endpoint not a URL", back(func(b *Backend) { b.Endpoint = "127.0.0.1:7070" }),
			"backends.main.endpoint: must be an http:// or https:// URL"},
		{"endpoint ftp", back(func(b *Backend) { b.Endpoint = "ftp://host" }),
			"backends.main.endpoint: must be an http:// or https:// URL"},
		{"endpoint with path", back(func(b *Backend) { b.Endpoint = "http://host/uploads" }),
			"backends.main.endpoint: must be a scheme and host only"},
		{"public endpoint", back(func(b *Backend) { b.PublicEndpoint = "s3.example.com" }),
			"backends.main.public_endpoint: must be an http:// or https:// URL"},
		{"bucket missing", back(func(b *Backend) { b.Bucket = "" }),
			"backends.main.bucket: required"},
		{"bucket short", back(func(b *Backend) { b.Bucket = "up" }),
			`backends.main.bucket: "up" is not a valid bucket name`},
		{"bucket upper", back(func(b *Backend) { b.Bucket = "Uploads" }),
			`backends.main.bucket: "Uploads" is not a valid bucket name`},
		{"secret key", back(func(b *Backend) { b.SecretKey = "" }),
			"backends.main.secret_key: required"},
		{"access key", back(func(b *Backend) { b.AccessKey = "" }),
			"backends.main.access_key: required"},
		{"backend timeout", back(func(b *Backend) { b.Timeout = -1 }),
			"backends.main.timeout: must be positive"},
		{"backend name", func(c *Config) { c.Backends["my_store"] = c.Backends["main"] },
			"backends.my_store: name must use only a-z, 0-9 and -"},
		{"no backends", func(c *Config) { c.Backends = nil },
			"backends: at least one backend is required"},
		{"jwt without secret", func(c *Config) { c.Auth.Mode = AuthJWT },
			"auth.jwt.secret: required when auth.mode is jwt (or set auth.jwt.jwks_url)"},
		{"jwt short secret", func(c *Config) { c.Auth.Mode = AuthJWT; c.Auth.JWT.Secret = "short" },
			"auth.jwt.secret: is 5 bytes; an HS256 secret needs at least 32"},
		{"jwks url", func(c *Config) { c.Auth.Mode = AuthJWT; c.Auth.JWT.JWKSURL = "keys.json" },
			"auth.jwt.jwks_url: must be an http:// or https:// URL"},
		{"auth mode", func(c *Config) { c.Auth.Mode = "foo" },
			`auth.mode: "foo" is not one of none, jwt, api_key`},
		{"api_key without keys", func(c *Config) { c.Auth.Mode = AuthAPIKey },
			"auth.api_keys: at least one key is required when auth.mode is api_key"},
		{"api key short", func(c *Config) { c.Auth.APIKeys = []APIKey{{Key: "abc", Subject: "s"}} },
			"auth.api_keys[0].key: is 3 characters; at least 16 are required"},
		{"api key subject", func(c *Config) { c.Auth.APIKeys = []APIKey{{Key: "0123456789abcdef"}} },
			"auth.api_keys[0].subject: required"},
		{"api key duplicate", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{Key: "0123456789abcdef", Subject: "a"}, {Key: "0123456789abcdef", Subject: "b"}}
		}, "auth.api_keys[1].key: same key as auth.api_keys[0]"},
		{"ttl zero", func(c *Config) { c.Sessions.TTL = 0 }, "sessions.ttl: must be positive"},
		{"ttl negative", func(c *Config) { c.Sessions.TTL = Duration(-time.Hour) }, "sessions.ttl: must be positive"},
		{"redis scheme", func(c *Config) { c.Sessions.RedisURL = "http://127.0.0.1:6379" },
			"sessions.redis_url: must be a redis://, rediss:// or unix:// URL"},
		{"redis host", func(c *Config) { c.Sessions.RedisURL = "redis:///0" }, "sessions.redis_url: has no host"},
		{"single max over 5GiB", prof(func(p *Profile) { p.MaxSize, p.SingleMax = 10<<30, 6<<30 }), "profiles.default.single_max: 6GiB is above the S3 maximum for one PUT (5GiB)"},
		{"single max over max size", prof(func(p *Profile) { p.MaxSize, p.SingleMax = 1<<20, 2<<20 }), "profiles.default.single_max: 2MiB is above max_size (1MiB)"},
		{"max size", prof(func(p *Profile) { p.MaxSize = 6 << 40 }),
			"profiles.default.max_size: 6TiB is above the S3 maximum object size (5TiB)"},
		{"allowed types", prof(func(p *Profile) { p.AllowedTypes = []string{"image/*", "video", "*/mp4", "image/png"} }), `profiles.default.allowed_types[1]: "video" is not a media type such as video/mp4, image/* or */*`},
		{"allowed types star subtype", prof(func(p *Profile) { p.AllowedTypes = []string{"*/mp4"} }), `profiles.default.allowed_types[0]: "*/mp4" is not a media type`},
		{"allowed types empty", prof(func(p *Profile) { p.AllowedTypes = nil }),
			"profiles.default.allowed_types: at least one media type is required"},
		{"key template without id", prof(func(p *Profile) { p.KeyTemplate = "{subject}/{ext}" }),
			"profiles.default.key_template: must contain {id}"},
		{"key template placeholder", prof(func(p *Profile) { p.KeyTemplate = "{yyy}/{id}" }),
			"profiles.default.key_template: unknown placeholder {yyy}"},
		{"key template brace", prof(func(p *Profile) { p.KeyTemplate = "{id}{ext" }),
			"profiles.default.key_template: has an unbalanced { or }"},
		{"key template slash", prof(func(p *Profile) { p.KeyTemplate = "/{id}" }),
			"profiles.default.key_template: must not start with /"},
		{"url ttl short", prof(func(p *Profile) { p.URLTTL = Duration(time.Millisecond) }),
			"profiles.default.url_ttl: 1ms is not between 1s and 7 days"},
		{"url ttl long", prof(func(p *Profile) { p.URLTTL = Duration(8 * 24 * time.Hour) }),
			"profiles.default.url_ttl: 192h is not between 1s and 7 days"},
		{"no default profile", func(c *Config) { c.Profiles = map[string]Profile{"other": c.Profiles["default"]} },
			"profiles.default: required"},
		{"listen", func(c *Config) { c.Server.Listen = "8080" }, `server.listen: "8080" is not a host:port address`},
		{"public url", func(c *Config) { c.Server.PublicURL = "example.com" }, "server.public_url: must be an http:// or https:// URL"},
		{"cors origin", func(c *Config) { c.Server.CORSOrigins = []string{"*", "https://a.example/path"} },
			`server.cors_origins[1]: "https://a.example/path" is not "*" or an origin`},
		{"request timeout", func(c *Config) { c.Server.RequestTimeout = 0 }, "server.request_timeout: must be positive"},
		{"shutdown grace", func(c *Config) { c.Server.ShutdownGrace = -1 }, "server.shutdown_grace: must not be negative"},
		{"body limit", func(c *Config) { c.Server.BodyLimit = 0 }, "server.body_limit: must be positive"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, `log.level: "loud" is not one of debug, info, warn, error`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, `log.format: "xml" is not one of text, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			var p Problems
			if !errors.As(err, &p) {
				t.Fatalf("Validate() = %v, want Problems", err)
			}
			found := false
			for _, msg := range p {
				if strings.HasPrefix(msg, tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("Validate() = %q, want a problem starting %q", p, tt.want)
			}
		})
	}
}

func TestValidateCollectsAll(t *testing.T) {
	c := valid()
	c.Auth.Mode = "foo"
	c.Sessions.TTL = 0
	p := c.Profiles["default"]
	p.PartSize = 1
	p.Backend = "nope"
	c.Profiles["default"] = p
	err := c.Validate()
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 4 {
		t.Fatalf("Validate() = %v, want 4 problems", err)
	}
	if !strings.Contains(err.Error(), "4 problems") {
		t.Fatalf("error text %q", err)
	}
}

func TestValidateAcceptsVariants(t *testing.T) {
	c := valid()
	c.Auth.Mode = AuthJWT
	c.Auth.JWT.JWKSURL = "https://issuer.example/.well-known/jwks.json"
	c.Sessions.RedisURL = "unix:///run/redis.sock"
	c.Server.Listen = "[::1]:0"
	c.Server.PublicURL = "https://uploads.example.com/chute"
	c.Server.CORSOrigins = []string{"https://app.example.com", "http://localhost:5173"}
	p := c.Profiles["default"]
	p.AllowedTypes = []string{"image/*", "video/mp4", "application/vnd.ms-excel", "*/*"}
	p.KeyTemplate = "{profile}/{yyyy}-{mm}-{dd}/{subject}/{id}{ext}"
	p.URLTTL = MaxURLTTL
	p.PartSize, p.SingleMax, p.MaxSize = 5<<20, 5<<30, 5<<40
	c.Profiles["default"] = p
	b := c.Backends["main"]
	b.Endpoint = "https://s3.example.com/"
	c.Backends["main"] = b
	avatar := c.Profiles["default"]
	avatar.KeyTemplate, avatar.Overwrite = "avatars/{subject}{ext}", true // no {id}: overwrite says so
	c.Profiles["avatar"] = avatar
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRedacted(t *testing.T) {
	secrets := []string{
		"jwt-secret-0123456789-0123456789-abc",
		"api-key-one-0123456789",
		"api-key-two-0123456789",
		"backend-secret-main",
		"backend-secret-archive",
		"redis-password-xyz",
	}
	c := valid()
	c.Auth.Mode = AuthJWT
	c.Auth.JWT.Secret = secrets[0]
	c.Auth.APIKeys = []APIKey{{secrets[1], "a"}, {secrets[2], "b"}}
	m := c.Backends["main"]
	m.SecretKey = secrets[3]
	c.Backends["main"] = m
	a := m
	a.SecretKey = secrets[4]
	c.Backends["archive"] = a
	c.Sessions.RedisURL = "redis://default:" + secrets[5] + "@127.0.0.1:6379/0"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	r := c.Redacted()
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(out), s) {
			t.Errorf("redacted YAML shows secret %q:\n%s", s, out)
		}
	}
	if n := strings.Count(string(out), Redaction); n != len(secrets) {
		t.Errorf("redacted YAML has %d %s, want %d:\n%s", n, Redaction, len(secrets), out)
	}
	if r.Sessions.RedisURL != "redis://default:"+Redaction+"@127.0.0.1:6379/0" {
		t.Errorf("redis_url = %q", r.Sessions.RedisURL)
	}
	if r.Backends["main"].AccessKey != "ak" {
		t.Errorf("access_key should stay visible, got %q", r.Backends["main"].AccessKey)
	}

	// The copy is deep: changing it leaves c alone.
	r.Auth.APIKeys[0].Subject = "changed"
	r.Server.CORSOrigins[0] = "changed"
	r.Profiles["default"].AllowedTypes[0] = "changed"
	if c.Auth.APIKeys[0].Subject != "a" || c.Server.CORSOrigins[0] != "*" || c.Profiles["default"].AllowedTypes[0] != DefaultAllowedTypes[0] {
		t.Error("Redacted shares memory with the original")
	}
	if c.Auth.JWT.Secret != secrets[0] || c.Backends["main"].SecretKey != secrets[3] {
		t.Error("Redacted changed the original")
	}

	// Unset secrets stay empty rather than printing REDACTED.
	d := Default()
	empty := d.Redacted()
	if empty.Auth.JWT.Secret != "" || empty.Sessions.RedisURL != "" {
		t.Errorf("empty secrets redacted: %+v", empty.Auth)
	}
}

// TestRedactedURLs: every URL `chute config print` shows loses its
// credentials, query string and fragment, whatever key it sits under.
func TestRedactedURLs(t *testing.T) {
	const tok = "tok3n-in-a-url"
	c := valid()
	c.Server.PublicURL = "https://chute.example/?k=" + tok
	c.Sessions.RedisURL = "rediss://user:" + tok + "@redis.example:6380/0?dial_timeout=3s&password=" + tok
	c.Auth.Mode = AuthJWT
	c.Auth.JWT.JWKSURL = "https://idp.example/jwks?access_token=" + tok
	c.Auth.Authorizer.URL = "https://" + tok + "@app.example/authorize?sig=" + tok + "#" + tok
	m := c.Backends["main"]
	m.Endpoint = "https://ak:" + tok + "@s3.example?X-Amz-Security-Token=" + tok
	m.PublicEndpoint = "https://cdn.example/?token=" + tok
	c.Backends["main"] = m
	c.Webhooks = []Webhook{{URL: "https://app.example/hooks?token=" + tok, Events: []string{"upload.completed"}}}
	p := c.Profiles["default"]
	p.Verify.URL = "https://app.example/verify?token=" + tok
	c.Profiles["default"] = p
	r := c.Redacted()
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), tok) {
		t.Fatalf("redacted YAML shows a token from a URL:\n%s", out)
	}
	for name, got := range map[string]string{
		"public_url": r.Server.PublicURL, "redis_url": r.Sessions.RedisURL, "jwks_url": r.Auth.JWT.JWKSURL,
		"authorizer.url": r.Auth.Authorizer.URL, "endpoint": r.Backends["main"].Endpoint,
		"public_endpoint": r.Backends["main"].PublicEndpoint, "webhooks.url": r.Webhooks[0].URL,
		"verify.url": r.Profiles["default"].Verify.URL,
	} {
		if !strings.Contains(got, Redaction) {
			t.Errorf("%s = %q: nothing redacted", name, got)
		}
	}
	// What is not secret stays readable.
	if want := "https://" + Redaction + "@app.example/authorize?" + Redaction + "#" + Redaction; r.Auth.Authorizer.URL != want {
		t.Errorf("authorizer.url = %q, want %q", r.Auth.Authorizer.URL, want)
	}
	if r.Backends["main"].Endpoint != "https://ak:"+Redaction+"@s3.example?"+Redaction {
		t.Errorf("endpoint = %q", r.Backends["main"].Endpoint)
	}
	if c.Auth.JWT.JWKSURL != "https://idp.example/jwks?access_token="+tok {
		t.Error("Redacted changed the original")
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:pw@h:1/0", "redis://:REDACTED@h:1/0"},
		{"redis://user:pw@h:1", "redis://user:REDACTED@h:1"},
		{"redis://lonepw@h:1", "redis://REDACTED@h:1"},
		{"redis://%zz@h", "REDACTED"},
		{"https://token@h/x", "https://REDACTED@h/x"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestYAMLRoundTrip checks that what YAML prints, Load reads back to the
// same configuration.
func TestYAMLRoundTrip(t *testing.T) {
	c := mustLoad(t, writeFile(t, minimalYAML+`
auth:
  mode: api_key
  api_keys: [{key: "0123456789abcdef", subject: svc}]
profiles:
  default: {max_size: 1536MiB, url_ttl: 90m}
  small: {max_size: 1000, allowed_types: [image/png]}
`), nil)
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back := mustLoad(t, writeFile(t, string(out)), nil)
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("round trip changed the config:\n%s\n%+v\n%+v", out, c, back)
	}
	for _, want := range []string{"max_size: 1536MiB", "url_ttl: 1h30m", "max_size: 1000B", "ttl: 24h", "public_url: http://127.0.0.1:8080"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML output lacks %q:\n%s", want, out)
		}
	}
}

// TestExample loads config.example.yaml and checks that it names every key
// of the struct, so that the example can't rot.
func TestExample(t *testing.T) {
	const path = "../config.example.yaml"
	c := mustLoad(t, path, nil)
	if c.Auth.Mode != AuthJWT || c.Backends["main"].Endpoint != "http://127.0.0.1:7070" {
		t.Errorf("example: auth.mode %q, backends.main.endpoint %q", c.Auth.Mode, c.Backends["main"].Endpoint)
	}
	// Every default the example shows is the real default.
	d := Default()
	ex := *c
	if !reflect.DeepEqual(ex.Server, d.Server) || ex.Log != d.Log || ex.Sessions.TTL != d.Sessions.TTL || ex.Sessions.KeyPrefix != d.Sessions.KeyPrefix {
		t.Errorf("example server/sessions/log differ from Default():\n%+v\n%+v", ex.Server, d.Server)
	}
	if ex.Limits != d.Limits || ex.Auth.AllowInsecureNone != d.Auth.AllowInsecureNone {
		t.Errorf("example limits/auth.allow_insecure_none = %+v/%v, Default() has %+v/%v", ex.Limits, ex.Auth.AllowInsecureNone, d.Limits, d.Auth.AllowInsecureNone)
	}
	if !reflect.DeepEqual(ex.Profiles["default"], d.Profiles["default"]) {
		t.Errorf("example profiles.default = %+v, Default() has %+v", ex.Profiles["default"], d.Profiles["default"])
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	requireKeys(doc.Content[0], reflect.TypeFor[Config](), "", &missing)
	if len(missing) > 0 {
		t.Errorf("config.example.yaml lacks keys: %s", strings.Join(missing, ", "))
	}
}

// requireKeys lists the struct keys that node n lacks, descending into
// every map entry and list item the example has.
func requireKeys(n *yaml.Node, t reflect.Type, path string, missing *[]string) {
	switch t.Kind() {
	case reflect.Struct:
		if t == byteSizeType || t == durationType {
			return
		}
		have := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			have[n.Content[i].Value] = n.Content[i+1]
		}
		for name, f := range yamlFields(t) {
			v, ok := have[name]
			if !ok {
				*missing = append(*missing, join(path, name))
				continue
			}
			requireKeys(v, f.Type, join(path, name), missing)
		}
	case reflect.Map:
		if len(n.Content) == 0 {
			*missing = append(*missing, path+".<entry>")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			requireKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), missing)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct && len(n.Content) == 0 {
			*missing = append(*missing, path+"[]")
		}
		for i, item := range n.Content {
			requireKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), missing)
		}
	}
}
