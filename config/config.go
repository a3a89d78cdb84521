// Package config owns Chute's one configuration struct: its defaults, its
// loading from a YAML file and from CHUTE_* environment variables, and its
// validation. Only cmd reads files and flags; everything else receives a
// validated *Config (or the parts of it that it needs).
//
// The YAML keys are snake_case and fixed by the public contract (API.md);
// config.example.yaml at the repository root documents every key with its
// default, and a test loads it so that it can't drift from this package.
//
// Loading order: Default, then the YAML file, then the environment, then
// the per-entry defaults of backends and profiles, then Validate. Unknown
// YAML keys and unknown CHUTE_* variables are errors that name the key, so
// a typo is never silently ignored.
//
// Zero values mean "use the default" for the fields of a backend or a
// profile (an entry created in YAML or from the environment gets the same
// defaults as the built-in default profile), and for server.public_url,
// which is derived from server.listen when empty.
package config

import (
	"net"
	"slices"

	"github.com/chute-dev/chute/backends"
	"strings"
	"time"
)

// Authentication modes for Auth.Mode.
const (
	AuthNone   = "none"
	AuthJWT    = "jwt"
	AuthAPIKey = "api_key"
)

// DefaultProfile is the name of the profile used when a request names none;
// Validate requires it to exist.
const DefaultProfile = "default"

// Config is Chute's whole configuration.
type Config struct {
	// Server is the HTTP listener of the broker.
	Server Server `yaml:"server"`
	// Sessions is the upload-session store.
	Sessions Sessions `yaml:"sessions"`
	// Auth is how callers of /v1 and /s3 prove who they are.
	Auth Auth `yaml:"auth"`
	// Backends are the object stores, by name (no default entry; names use
	// a-z, 0-9 and "-").
	Backends map[string]Backend `yaml:"backends"`
	// Profiles are the upload policies, by name. Default: one profile
	// named "default" (see Default). The "default" profile is required.
	Profiles map[string]Profile `yaml:"profiles"`
	// Log is the server log.
	Log Log `yaml:"log"`
	// Limits are per-subject request and upload limits, shared by every
	// replica through the session store's Redis.
	Limits Limits `yaml:"limits"`
	// Quotas bound the bytes each subject uploads, over every profile
	// (config/quota.go). Default: no limit.
	Quotas Quota `yaml:"quotas"`
	// Janitor expires sessions past their ttl and aborts their uploads in
	// the store (see docs/lifecycle.md).
	Janitor Janitor `yaml:"janitor"`
	// Webhooks receive an event when an upload ends (completed, aborted,
	// expired, rejected), at least once, from an outbox in the sessions
	// Redis (see docs/webhooks.md). Default [] (no events are kept).
	Webhooks []Webhook `yaml:"webhooks"`
	// WebhookDelivery tunes the delivery to every webhook.
	WebhookDelivery WebhookDelivery `yaml:"webhook_delivery"`
	// Tracing exports OpenTelemetry traces (config/tracing.go). Default off.
	Tracing Tracing `yaml:"tracing"`
}

// Event types a webhook may take (as broker.Event.Type).
var WebhookEvents = []string{"upload.completed", "upload.aborted", "upload.expired", "upload.rejected"}

// Webhook is one receiver of events.
type Webhook struct {
	// URL is the http(s) URL events are POSTed to. Required.
	URL string `yaml:"url"`
	// Secret, when set, signs each delivery: X-Chute-Signature is
	// "sha256=" and the hex HMAC-SHA256 of timestamp + "." + body.
	// Default ""; printed redacted.
	Secret string `yaml:"secret"`
	// Events are the event types sent. Default: all of WebhookEvents.
	Events []string `yaml:"events"`
}

// WebhookDelivery tunes webhook delivery.
type WebhookDelivery struct {
	// Timeout bounds one POST, at most 1m. Default 5s.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how many POSTs one event gets per webhook before it
	// goes to the dead-letter stream. Default 12.
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge is how long after the event it is still tried. Default 24h.
	MaxAge Duration `yaml:"max_age"`
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one (±25% jitter) up to MaxBackoff. Defaults 1s and 1h.
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// StreamMaxLen bounds the outbox stream (about this many undelivered
	// entries; beyond it the oldest are dropped). Default 100000.
	StreamMaxLen int `yaml:"stream_max_len"`
}

// Janitor is the background job that ends sessions past their expiry.
type Janitor struct {
	// Enabled runs the janitor in this process. Default true. Every
	// replica may run it: sessions are claimed in Redis, each handled once.
	Enabled bool `yaml:"enabled"`
	// Interval is the time between two runs. Default 1m.
	Interval Duration `yaml:"interval"`
	// Batch is the most sessions one run handles. Default 100.
	Batch int `yaml:"batch"`
	// PromoteInterval is how often the promoter looks for finished Uppy
	// single (form) uploads to complete, which Uppy never reports.
	// Default 2s; it runs with the janitor.
	PromoteInterval Duration `yaml:"promote_interval"`
}

// Limits are per-subject limits; 0 turns each one off.
type Limits struct {
	// Rate is the sustained number of /v1 and /s3 requests per second a
	// subject may make; over it the broker answers 429. Default 50.
	Rate int `yaml:"rate"`
	// Burst is how many requests a subject may make at once above the
	// sustained rate. Default 100 (0 with a rate: the rate).
	Burst int `yaml:"burst"`
	// MaxOpenSessions is how many uploads a subject may have open (created
	// but neither completed, aborted nor expired) at once. Default 100.
	MaxOpenSessions int `yaml:"max_open_sessions"`
	// CompleteTimeout bounds one complete once started (listing the parts,
	// CompleteMultipartUpload itself, the checks of the object), even if
	// the client goes away meanwhile. Default 15m: AWS may take minutes to
	// complete a 10,000-part upload.
	CompleteTimeout Duration `yaml:"complete_timeout"`
}

// Server is the broker's HTTP listener.
type Server struct {
	// Listen is the host:port to listen on. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// PublicURL is the URL clients reach the broker at (used in links it
	// hands out). Default: derived from Listen, "http://127.0.0.1:8080"
	// (an unspecified host such as "" or "0.0.0.0" becomes 127.0.0.1).
	PublicURL string `yaml:"public_url"`
	// CORSOrigins are the browser origins allowed to call the broker:
	// "*" or origins such as "https://app.example.com". Default ["*"].
	CORSOrigins []string `yaml:"cors_origins"`
	// ReadTimeout bounds reading one request, headers and body.
	// Default 30s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one response. Default 30s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// RequestTimeout bounds the work done for one request, store calls
	// included. Default 30s.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ShutdownGrace is how long in-flight requests may run on after a
	// shutdown signal. Default 15s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// BodyLimit is the largest request body the broker reads (its JSON
	// requests; file bytes never pass through it). Default 1MiB.
	BodyLimit ByteSize `yaml:"body_limit"`
}

// Sessions is the upload-session store.
type Sessions struct {
	// RedisURL is the Redis to keep sessions in, as redis://, rediss:// or
	// unix:// URL. Default "": the embedded in-memory store (sessions then
	// don't survive a restart).
	RedisURL string `yaml:"redis_url"`
	// TTL is how long a session lives after it is created. Default 24h.
	TTL Duration `yaml:"ttl"`
	// KeyPrefix starts every Redis key Chute writes (keys look like
	// PREFIX:{upl_…}:s). Default "chute".
	KeyPrefix string `yaml:"key_prefix"`
	// Retention is how long Redis keeps a session after its expiry, so the
	// janitor can still abort its upload and clients can read its final
	// state. Default 24h.
	Retention Duration `yaml:"retention"`
	// RedisCluster, when its addrs are set, keeps sessions in a Redis
	// Cluster instead of the single Redis of RedisURL.
	RedisCluster RedisCluster `yaml:"redis_cluster"`
	// RedisSentinel, when its addrs are set, finds the Redis master
	// through Sentinel.
	RedisSentinel RedisSentinel `yaml:"redis_sentinel"`
}

// RedisCluster is a Redis Cluster: any of its nodes will do as seeds.
type RedisCluster struct {
	// Addrs are host:port seed nodes. Default none (not a cluster).
	Addrs []string `yaml:"addrs,omitempty"`
	// Username and Password authenticate to every node (secret).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS connects with TLS. Default false.
	TLS bool `yaml:"tls"`
}

// RedisSentinel is a Redis master found through Redis Sentinel.
type RedisSentinel struct {
	// Master is the master's name as the sentinels know it.
	Master string `yaml:"master"`
	// Addrs are the sentinels' host:port. Default none (no Sentinel).
	Addrs []string `yaml:"addrs,omitempty"`
	// Username and Password authenticate to the master and replicas
	// (secret); SentinelPassword to the sentinels themselves (secret).
	Username         string `yaml:"username"`
	Password         string `yaml:"password"`
	SentinelPassword string `yaml:"sentinel_password"`
	// DB is the database number. Default 0.
	DB int `yaml:"db"`
	// TLS connects with TLS. Default false.
	TLS bool `yaml:"tls"`
}

// Auth is how callers prove who they are.
type Auth struct {
	// Mode is one of "none" (no token is checked; for local use), "jwt"
	// or "api_key". Default "none".
	Mode string `yaml:"mode"`
	// JWT configures Mode "jwt".
	JWT JWT `yaml:"jwt"`
	// APIKeys configures Mode "api_key". Default none.
	APIKeys []APIKey `yaml:"api_keys"`
	// AllowInsecureNone lets Mode "none" serve on an address other than a
	// loopback one, where anyone who reaches it may upload. Default false.
	AllowInsecureNone bool `yaml:"allow_insecure_none"`
	// Authorizer, when its URL is set, is the application's webhook asked
	// before every upload is created.
	Authorizer Authorizer `yaml:"authorizer"`
}

// Authorizer is the application's upload-authorization webhook: Chute
// POSTs each create request to URL as JSON and the answer allows or
// denies it (and may set a key prefix, metadata, a lower max_size). It
// fails closed: a timeout, a non-2xx status or a bad answer denies.
type Authorizer struct {
	// URL is the webhook's http(s) URL. Default "" (no webhook).
	URL string `yaml:"url"`
	// Timeout bounds one call. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// Headers name the client request headers passed on to the webhook
	// (e.g. X-Forwarded-For). Default [].
	Headers []string `yaml:"headers"`
	// Secret, when set, signs each request: header X-Chute-Signature is
	// "sha256=" and the hex HMAC-SHA256 of X-Chute-Timestamp + "." + the
	// body, as webhooks are signed. Default ""; printed redacted.
	Secret string `yaml:"secret"`
}

// JWT configures bearer tokens that are JSON Web Tokens. The token's "sub"
// is the subject; "exp" is required.
type JWT struct {
	// Secret is the HS256 key, at least 32 bytes. Default "". Secret or
	// JWKSURL (or both) is required in mode "jwt".
	Secret string `yaml:"secret"`
	// JWKSURL is an http(s) URL serving the JSON Web Key Set for RS256 and
	// ES256 tokens. Default "".
	JWKSURL string `yaml:"jwks_url"`
	// Issuer, when set, must equal the token's "iss". Default "".
	Issuer string `yaml:"issuer"`
	// Audience, when set, must be among the token's "aud". Default "".
	Audience string `yaml:"audience"`
}

// APIKey is one static bearer token and the subject it stands for.
type APIKey struct {
	// Key is the bearer token itself, at least 16 characters.
	Key string `yaml:"key"`
	// Subject owns the sessions created with this key.
	Subject string `yaml:"subject"`
}

// Backend is one S3-compatible object store and bucket.
type Backend struct {
	// Provider names the store's preset, for its defaults and quirks:
	// one of aws, minio, r2, gcs, b2, wasabi, spaces, ceph, seaweedfs,
	// versitygw, generic (see docs/providers.md). Default "" (generic).
	Provider string `yaml:"provider"`
	// Endpoint is the http(s) URL Chute reaches the store at, without a
	// path, e.g. "http://127.0.0.1:7070". Required.
	Endpoint string `yaml:"endpoint"`
	// PublicEndpoint, when set, is the URL clients reach the store at; it
	// goes into presigned URLs. Default "" (same as Endpoint).
	PublicEndpoint string `yaml:"public_endpoint"`
	// Region is the bucket's region, used for signing. Default: the
	// provider's ("auto" for r2 and gcs), else "us-east-1".
	Region string `yaml:"region"`
	// Bucket is the bucket uploads go to. Required.
	Bucket string `yaml:"bucket"`
	// AccessKey is the store's access key id. Required.
	AccessKey string `yaml:"access_key"`
	// SecretKey is the store's secret key. Required; printed redacted.
	SecretKey string `yaml:"secret_key"`
	// PathStyle addresses the bucket as a path (http://host/bucket/key)
	// instead of a host name (http://bucket.host/key). Default: the
	// provider's (true for minio, ceph, seaweedfs, versitygw; false for
	// the others and generic). Never nil after Load.
	PathStyle *bool `yaml:"path_style"`
	// Timeout bounds each call to the store. Default 30s.
	Timeout Duration `yaml:"timeout"`
}

// Profile is an upload policy. Any field left out (or zero) takes the
// default below.
type Profile struct {
	// Backend is the name of the backend the bytes go to. Default "main".
	Backend string `yaml:"backend"`
	// MaxSize is the largest upload allowed, at most 5TiB. Default 5GiB.
	MaxSize ByteSize `yaml:"max_size"`
	// PartSize is the preferred multipart part size, 5MiB..5GiB; the part
	// plan grows it for files that would need more than 10000 parts.
	// Default 16MiB.
	PartSize ByteSize `yaml:"part_size"`
	// SingleMax is the largest upload sent as one presigned PUT; larger
	// ones use multipart. At most 5GiB and at most MaxSize. Default 16MiB,
	// or MaxSize when that is smaller.
	SingleMax ByteSize `yaml:"single_max"`
	// AllowedTypes are the media types accepted: "type/subtype", "type/*"
	// or "*/*". Default DefaultAllowedTypes (common passive types, not
	// every type).
	AllowedTypes []string `yaml:"allowed_types"`
	// InlineTypes are media types ("type/subtype", "type/*" or "*/*")
	// whose downloads are served inline with their own Content-Type. By
	// default, images other than SVG, audio, video, text/plain, PDF and
	// JSON are; every other type is served as an attachment, and HTML,
	// SVG, XML and JavaScript also as application/octet-stream
	// (docs/upload-policy.md). Default [] (none beyond those).
	InlineTypes []string `yaml:"inline_types"`
	// URLTTL is how long a presigned URL stays valid, 1s..7d. Default 15m.
	URLTTL Duration `yaml:"url_ttl"`
	// KeyTemplate names the object. It must contain {id} unless Overwrite
	// is set; placeholders are those in KeyPlaceholders. Default
	// "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}".
	KeyTemplate string `yaml:"key_template"`
	// Overwrite lets a completed upload replace an object already at its
	// key. Without it (the default), Chute completes with If-None-Match: *
	// on stores that honour it, so a verified object is never replaced;
	// a key template without {id} needs it. Default false.
	Overwrite bool `yaml:"overwrite"`
	// Sniff, when true, checks a completed object's first bytes (magic
	// numbers) against its declared content type; a mismatch removes the
	// object and aborts the upload (415). Default false.
	Sniff bool `yaml:"sniff"`
	// MinSize is the smallest upload allowed, at most MaxSize. Default 0.
	MinSize ByteSize `yaml:"min_size"`
	// Subjects, when not empty, are the only subjects that may use the
	// profile; others get 403. Default [] (every subject).
	Subjects []string `yaml:"subjects,omitempty"`
	// MaxMetadataBytes bounds the user metadata of an upload, keys plus
	// values, 1..2048 (what S3 stores). Default 2048.
	MaxMetadataBytes int `yaml:"max_metadata_bytes"`
	// Verify, when its URL is set, is the application's verify hook: at
	// complete, after Chute's own checks, it accepts or rejects the
	// upload (docs/verify.md).
	Verify Verify `yaml:"verify"`
	// Quotas bound the bytes each subject uploads with this profile, on
	// top of the global quotas. Default: no limit.
	Quotas Quota `yaml:"quotas"`
}

// Verify is a profile's verify hook. Complete POSTs the finished upload
// (with a presigned download_url) to URL; the answer {"accept": true}
// completes it, {"accept": false, "reason": "..."} removes the object and
// ends the session as rejected, anything else (or no answer within
// Timeout) answers 503 and leaves the session open.
type Verify struct {
	// URL is the hook's http(s) URL. Default "" (no hook). Its query
	// string is printed redacted.
	URL string `yaml:"url"`
	// Secret, when set, signs each request as webhooks are signed:
	// X-Chute-Signature is "sha256=" and the hex HMAC-SHA256 of
	// X-Chute-Timestamp + "." + body. Default ""; printed redacted.
	Secret string `yaml:"secret"`
	// Timeout bounds one call, at most 1m. Default 30s.
	Timeout Duration `yaml:"timeout"`
}

// Log is the server log.
type Log struct {
	// Level is one of "debug", "info", "warn", "error". Default "info".
	Level string `yaml:"level"`
	// Format of chute serve's log: "json" or "text". Default "json".
	// (chute dev always logs text.)
	Format string `yaml:"format"`
}

// Defaults of the fields documented above.
const (
	defaultListen       = "127.0.0.1:8080"
	defaultRegion       = "us-east-1"
	defaultBackendName  = "main"
	defaultKeyTemplate  = "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}"
	defaultKeyPrefix    = "chute"
	defaultBackendTime  = Duration(30 * time.Second)
	defaultURLTTL       = Duration(15 * time.Minute)
	defaultMaxSize      = ByteSize(5 << 30)
	defaultPartSize     = ByteSize(16 << 20)
	defaultSingleMax    = ByteSize(16 << 20)
	defaultSessionTTL   = Duration(24 * time.Hour)
	defaultTimeout      = Duration(30 * time.Second)
	defaultShutdown     = Duration(15 * time.Second)
	defaultBodyLimit    = ByteSize(1 << 20)
	defaultLogLevel     = "info"
	defaultLogFormat    = "json"
	defaultMetadata     = 2048
	defaultRate         = 50
	defaultBurst        = 100
	defaultMaxOpen      = 100
	defaultCompleteTime = Duration(15 * time.Minute)
	defaultRetention    = Duration(24 * time.Hour)
	defaultJanitorTick  = Duration(time.Minute)
	defaultJanitorBatch = 100
)

// DefaultAllowedTypes is the default of profiles.<name>.allowed_types:
// the common types of files people upload to an app. It leaves out what
// a browser would run (HTML, SVG, XML, JavaScript) and everything else
// unusual; a profile that needs more names it. (Downloads of any type are
// served safely anyway: see Profile.InlineTypes.)
var DefaultAllowedTypes = []string{
	"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/heic", "image/heif",
	"video/*", "audio/*",
	"application/pdf", "text/plain", "text/csv", "application/json",
	"application/zip", "application/gzip", "application/octet-stream",
}

// Defaults of webhook_delivery.
const (
	defaultWebhookTimeout  = Duration(5 * time.Second)
	defaultWebhookAttempts = 12
	defaultWebhookMaxAge   = Duration(24 * time.Hour)
	defaultWebhookBackoff  = Duration(time.Second)
	defaultWebhookMaxWait  = Duration(time.Hour)
	defaultWebhookMaxLen   = 100000
)

// defaultVerifyTimeout is the default of profiles.<name>.verify.timeout;
// MaxVerifyTimeout its upper bound (a complete must end well within the
// broker's two-minute budget for it).
const (
	defaultVerifyTimeout = Duration(30 * time.Second)
	MaxVerifyTimeout     = Duration(time.Minute)
)

// defaultAuthorizerTimeout is the default of auth.authorizer.timeout.
const defaultAuthorizerTimeout = Duration(2 * time.Second)

// Default returns the configuration used when nothing is configured: a
// listener on 127.0.0.1:8080, the embedded session store, no auth, no
// backend, and the "default" profile pointing at a backend named "main".
func Default() Config {
	c := Config{
		Server: Server{
			Listen:         defaultListen,
			CORSOrigins:    []string{"*"},
			ReadTimeout:    defaultTimeout,
			WriteTimeout:   defaultTimeout,
			RequestTimeout: defaultTimeout,
			ShutdownGrace:  defaultShutdown,
			BodyLimit:      defaultBodyLimit,
		},
		Sessions: Sessions{TTL: defaultSessionTTL, KeyPrefix: defaultKeyPrefix, Retention: defaultRetention},
		Auth:     Auth{Mode: AuthNone},
		Backends: map[string]Backend{},
		Profiles: map[string]Profile{DefaultProfile: {}},
		Log:      Log{Level: defaultLogLevel, Format: defaultLogFormat},
		Limits:   Limits{Rate: defaultRate, Burst: defaultBurst, MaxOpenSessions: defaultMaxOpen, CompleteTimeout: defaultCompleteTime},
		Janitor:  Janitor{Enabled: true, Interval: defaultJanitorTick, Batch: defaultJanitorBatch, PromoteInterval: Duration(2 * time.Second)},
		WebhookDelivery: WebhookDelivery{
			Timeout: defaultWebhookTimeout, MaxAttempts: defaultWebhookAttempts, MaxAge: defaultWebhookMaxAge,
			Backoff: defaultWebhookBackoff, MaxBackoff: defaultWebhookMaxWait, StreamMaxLen: defaultWebhookMaxLen,
		},
		Tracing: Tracing{SampleRatio: 1, ServiceName: defaultServiceName},
	}
	c.fillDefaults()
	return c
}

// fillDefaults sets the derived and per-entry defaults: public_url from
// listen, and every zero field of a backend or a profile.
func (c *Config) fillDefaults() {
	if c.Auth.Authorizer.Timeout == 0 {
		c.Auth.Authorizer.Timeout = defaultAuthorizerTimeout
	}
	if len(c.Auth.Authorizer.Headers) == 0 {
		c.Auth.Authorizer.Headers = nil // [] and no key alike
	}
	if c.Server.PublicURL == "" {
		c.Server.PublicURL = publicURLFor(c.Server.Listen)
	}
	if c.Limits.Rate > 0 && c.Limits.Burst == 0 {
		c.Limits.Burst = c.Limits.Rate
	}
	for i := range c.Webhooks {
		if len(c.Webhooks[i].Events) == 0 {
			c.Webhooks[i].Events = append([]string(nil), WebhookEvents...)
		}
	}
	if len(c.Webhooks) == 0 {
		c.Webhooks = nil // [] and no key alike
	}
	for name, b := range c.Backends {
		if preset, err := backends.LookupPreset(b.Provider); err == nil {
			region, ps := preset.Defaults(b.Region, b.PathStyle)
			b.Region, b.PathStyle = region, &ps
		} // an unknown provider is reported by Validate
		if b.Region == "" {
			b.Region = defaultRegion
		}
		if b.PathStyle == nil {
			b.PathStyle = new(bool)
		}
		if b.Timeout == 0 {
			b.Timeout = defaultBackendTime
		}
		c.Backends[name] = b
	}
	for name, p := range c.Profiles {
		if p.Backend == "" {
			p.Backend = defaultBackendName
		}
		if p.MaxSize == 0 {
			p.MaxSize = defaultMaxSize
		}
		if p.PartSize == 0 {
			p.PartSize = defaultPartSize
		}
		if p.SingleMax == 0 {
			p.SingleMax = min(defaultSingleMax, p.MaxSize)
			if p.SingleMax <= 0 {
				p.SingleMax = defaultSingleMax
			}
		}
		if len(p.AllowedTypes) == 0 {
			p.AllowedTypes = slices.Clone(DefaultAllowedTypes)
		}
		if p.URLTTL == 0 {
			p.URLTTL = defaultURLTTL
		}
		if p.KeyTemplate == "" {
			p.KeyTemplate = defaultKeyTemplate
		}
		if p.MaxMetadataBytes == 0 {
			p.MaxMetadataBytes = defaultMetadata
		}
		if len(p.InlineTypes) == 0 {
			p.InlineTypes = nil // [] and no key alike
		}
		if len(p.Subjects) == 0 {
			p.Subjects = nil // [] and no key alike: every subject
		}
		if p.Verify.Timeout == 0 {
			p.Verify.Timeout = defaultVerifyTimeout
		}
		c.Profiles[name] = p
	}
}

// publicURLFor derives the broker's URL from its listen address.
func publicURLFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}
