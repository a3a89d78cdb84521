package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/multipart"
)

// KeyPlaceholders are the placeholders a profile's key_template may use
// (the broker expands them). Validate refuses any other {...} so that a
// typo doesn't end up verbatim in every object key.
var KeyPlaceholders = []string{"{subject}", "{id}", "{profile}", "{ext}", "{yyyy}", "{mm}", "{dd}"}

// Limits Validate applies besides the S3 ones of package multipart.
const (
	// MinURLTTL and MaxURLTTL bound a profile's url_ttl; 7 days is the
	// longest validity SigV4 presigning allows.
	MinURLTTL = Duration(time.Second)
	MaxURLTTL = Duration(7 * 24 * time.Hour)
	// MinJWTSecret is the shortest HS256 secret accepted, in bytes
	// (RFC 7518: a key at least as long as the hash).
	MinJWTSecret = 32
	// MinAPIKey is the shortest API key accepted, in characters.
	MinAPIKey = 16
	// MaxMetadataBytes is the largest max_metadata_bytes of a profile: S3
	// keeps at most 2 KiB of user metadata per object.
	MaxMetadataBytes = 2048
)

var (
	entryName  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	mediaToken = `[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*`
	mediaRange = regexp.MustCompile(`^(\*/\*|` + mediaToken + `/\*|` + mediaToken + `/` + mediaToken + `)$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	placeRe    = regexp.MustCompile(`\{[^{}]*\}`)
)

// Validate checks the whole configuration and returns every problem found
// (as Problems), each naming its key, or nil. Each section has its own
// check below; all of them run, so one call reports every problem.
func (c *Config) Validate() error {
	var p Problems
	add := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
	}
	listenOK := c.Server.validate(add)
	c.validateSessions(add)
	c.Janitor.validate(add)
	c.validateAuth(listenOK, add)
	c.validateBackends(add)
	c.validateProfiles(add)
	c.Limits.validate(add)
	c.validateQuotas(add) // quota.go
	c.validateWebhooks(add)
	c.WebhookDelivery.validate(add)
	c.Log.validate(add)
	c.Tracing.validate(add) // tracing.go
	if len(p) == 0 {
		return nil
	}
	return p
}

// addFunc records one problem: the key it concerns and what is wrong.
type addFunc = func(key, format string, args ...any)

// validate checks the server section and reports whether server.listen
// is a usable host:port (the auth check depends on it).
func (s *Server) validate(add addFunc) (listenOK bool) {
	listenOK = true
	if host, port, err := net.SplitHostPort(s.Listen); err != nil || !validPort(port) || strings.Contains(host, "/") {
		listenOK = false
		add("server.listen", "%q is not a host:port address (e.g. 127.0.0.1:8080)", s.Listen)
	}
	if s.PublicURL != "" || listenOK {
		if msg := checkHTTPURL(s.PublicURL); msg != "" {
			add("server.public_url", "%s", msg)
		}
	}
	for i, o := range s.CORSOrigins {
		if o != "*" && !validOrigin(o) {
			add(fmt.Sprintf("server.cors_origins[%d]", i), "%q is not \"*\" or an origin such as https://app.example.com", o)
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"server.read_timeout", s.ReadTimeout},
		{"server.write_timeout", s.WriteTimeout},
		{"server.request_timeout", s.RequestTimeout},
	} {
		if d.v <= 0 {
			add(d.key, "must be positive")
		}
	}
	if s.ShutdownGrace < 0 {
		add("server.shutdown_grace", "must not be negative")
	}
	if s.BodyLimit <= 0 {
		add("server.body_limit", "must be positive")
	}
	return listenOK
}

// validateSessions checks the sessions section, Redis modes included.
func (c *Config) validateSessions(add addFunc) {
	s := &c.Sessions
	if s.RedisURL != "" {
		u, err := url.Parse(s.RedisURL)
		switch {
		case err != nil:
			add("sessions.redis_url", "is not a URL")
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			add("sessions.redis_url", "must be a redis://, rediss:// or unix:// URL (leave it empty for the embedded store)")
		case u.Scheme != "unix" && u.Host == "":
			add("sessions.redis_url", "has no host")
		}
	}
	c.validateRedisModes(add)
	if strings.ContainsAny(s.KeyPrefix, "{}") {
		add("sessions.key_prefix", "must not contain { or } (they would change the Redis Cluster hash tag)")
	}
	if s.TTL <= 0 {
		add("sessions.ttl", "must be positive")
	}
	if s.Retention < 0 {
		add("sessions.retention", "must not be negative")
	}
}

// validate checks the janitor section.
func (j *Janitor) validate(add addFunc) {
	if j.PromoteInterval <= 0 {
		add("janitor.promote_interval", "must be positive")
	}
	if j.Interval <= 0 {
		add("janitor.interval", "must be positive")
	}
	if j.Batch < 1 {
		add("janitor.batch", "must be at least 1")
	}
}

// validateAuth checks the auth section: the mode and what it requires,
// the authorizer and every API key. listenOK says whether server.listen
// could be parsed (auth mode none depends on it being loopback).
func (c *Config) validateAuth(listenOK bool, add addFunc) {
	a := &c.Auth
	switch a.Mode {
	case AuthNone:
		if listenOK && !a.AllowInsecureNone && !LoopbackListen(c.Server.Listen) {
			add("auth.mode", "none (no authentication) is only allowed when server.listen is a loopback address, not %q: use jwt or api_key, or set auth.allow_insecure_none: true (CHUTE_AUTH_ALLOW_INSECURE_NONE=true) to accept anyone who reaches it", c.Server.Listen)
		}
	case AuthJWT:
		a.JWT.validate(add)
	case AuthAPIKey:
		if len(a.APIKeys) == 0 {
			add("auth.api_keys", "at least one key is required when auth.mode is api_key")
		}
	default:
		add("auth.mode", "%q is not one of none, jwt, api_key", a.Mode)
	}
	validateAuthorizer(&a.Authorizer, add)
	validateAPIKeys(a.APIKeys, add)
}

// validate checks auth.jwt (when auth.mode is jwt).
func (j *JWT) validate(add addFunc) {
	if j.Secret == "" && j.JWKSURL == "" {
		add("auth.jwt.secret", "required when auth.mode is jwt (or set auth.jwt.jwks_url)")
	}
	if j.Secret != "" && len(j.Secret) < MinJWTSecret {
		add("auth.jwt.secret", "is %d bytes; an HS256 secret needs at least %d", len(j.Secret), MinJWTSecret)
	}
	if j.JWKSURL != "" {
		if msg := checkHTTPURL(j.JWKSURL); msg != "" {
			add("auth.jwt.jwks_url", "%s", msg)
		}
	}
}

// validateAPIKeys checks auth.api_keys: each long enough, unique, with a
// subject. They are checked whatever the mode, so that a list kept for a
// later switch to api_key is already sound.
func validateAPIKeys(keys []APIKey, add addFunc) {
	seen := map[string]int{}
	for i, k := range keys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		switch {
		case k.Key == "":
			add(key+".key", "required")
		case len(k.Key) < MinAPIKey:
			add(key+".key", "is %d characters; at least %d are required", len(k.Key), MinAPIKey)
		}
		if k.Key != "" {
			if j, dup := seen[k.Key]; dup {
				add(key+".key", "same key as auth.api_keys[%d]", j)
			} else {
				seen[k.Key] = i
			}
		}
		if strings.TrimSpace(k.Subject) == "" {
			add(key+".subject", "required")
		}
	}
}

// validateBackends checks that there is at least one backend and each one.
func (c *Config) validateBackends(add addFunc) {
	if len(c.Backends) == 0 {
		add("backends", "at least one backend is required")
	}
	for _, name := range sortedKeys(c.Backends) {
		b := c.Backends[name]
		b.validate("backends."+name, name, add)
	}
}

// validate checks one backend, named name, whose keys start with key.
func (b *Backend) validate(key, name string, add addFunc) {
	if !entryName.MatchString(name) {
		add(key, "name must use only a-z, 0-9 and - (so that CHUTE_BACKENDS_<NAME>_* variables can name it)")
	}
	if msg := checkEndpoint(b.Endpoint); msg != "" {
		add(key+".endpoint", "%s", msg)
	}
	if b.PublicEndpoint != "" {
		if msg := checkEndpoint(b.PublicEndpoint); msg != "" {
			add(key+".public_endpoint", "%s", msg)
		}
	}
	if b.Region == "" {
		add(key+".region", "required")
	}
	switch {
	case b.Bucket == "":
		add(key+".bucket", "required")
	case !bucketName.MatchString(b.Bucket) || strings.Contains(b.Bucket, ".."):
		add(key+".bucket", "%q is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-'; starting and ending with a letter or digit)", b.Bucket)
	}
	if b.AccessKey == "" {
		add(key+".access_key", "required")
	}
	if b.SecretKey == "" {
		add(key+".secret_key", "required")
	}
	if b.Timeout <= 0 {
		add(key+".timeout", "must be positive")
	}
	if _, err := backends.LookupPreset(b.Provider); err != nil {
		add(key+".provider", "%v", err)
	}
}

// validateProfiles checks that the default profile exists and each
// profile (against the backends it names).
func (c *Config) validateProfiles(add addFunc) {
	if _, ok := c.Profiles[DefaultProfile]; !ok {
		add("profiles.default", "required (it is the profile used when a request names none)")
	}
	for _, name := range sortedKeys(c.Profiles) {
		pr := c.Profiles[name]
		c.validateProfile(name, &pr, add)
	}
}

// validateProfile checks one profile, named name.
func (c *Config) validateProfile(name string, pr *Profile, add addFunc) {
	key := "profiles." + name
	if !entryName.MatchString(name) {
		add(key, "name must use only a-z, 0-9 and - (so that CHUTE_PROFILES_<NAME>_* variables can name it)")
	}
	if _, ok := c.Backends[pr.Backend]; !ok {
		add(key+".backend", "%q is not a configured backend (have: %s)", pr.Backend, listOrNone(sortedKeys(c.Backends)))
	}
	pr.validateSizes(key, add)
	if len(pr.AllowedTypes) == 0 {
		add(key+".allowed_types", "at least one media type is required (\"*/*\" allows all)")
	}
	for i, t := range pr.AllowedTypes {
		if !mediaRange.MatchString(t) {
			add(fmt.Sprintf("%s.allowed_types[%d]", key, i), "%q is not a media type such as video/mp4, image/* or */*", t)
		}
	}
	for i, t := range pr.InlineTypes {
		if !mediaRange.MatchString(t) {
			add(fmt.Sprintf("%s.inline_types[%d]", key, i), "%q is not a media type such as image/svg+xml, text/* or */*", t)
		}
	}
	c.validateURLTTL(key, pr, add)
	checkTemplate(pr.KeyTemplate, pr.Overwrite, key+".key_template", add)
	switch {
	case pr.MinSize < 0:
		add(key+".min_size", "must not be negative")
	case pr.MaxSize > 0 && pr.MinSize > pr.MaxSize:
		add(key+".min_size", "%s is above max_size (%s)", pr.MinSize, pr.MaxSize)
	}
	for i, sub := range pr.Subjects {
		if strings.TrimSpace(sub) == "" {
			add(fmt.Sprintf("%s.subjects[%d]", key, i), "must not be empty")
		}
	}
	if pr.MaxMetadataBytes < 1 || pr.MaxMetadataBytes > MaxMetadataBytes {
		add(key+".max_metadata_bytes", "%d is not between 1 and %d (what S3 stores as user metadata)", pr.MaxMetadataBytes, MaxMetadataBytes)
	}
	validateVerify(&pr.Verify, key+".verify", add)
	if pr.Verify.URL != "" && c.Limits.CompleteTimeout > 0 && pr.Verify.Timeout >= c.Limits.CompleteTimeout {
		add(key+".verify.timeout", "%s is not shorter than limits.complete_timeout (%s), which bounds the whole complete", pr.Verify.Timeout, c.Limits.CompleteTimeout)
	}
}

// validateSizes checks a profile's max_size, part_size and single_max
// against the S3 limits and each other.
func (pr *Profile) validateSizes(key string, add addFunc) {
	switch {
	case pr.MaxSize <= 0:
		add(key+".max_size", "must be positive")
	case int64(pr.MaxSize) > multipart.MaxObjectSize:
		add(key+".max_size", "%s is above the S3 maximum object size (%s)", pr.MaxSize, ByteSize(multipart.MaxObjectSize))
	}
	switch {
	case int64(pr.PartSize) < multipart.MinPartSize:
		add(key+".part_size", "%s is below the S3 minimum part size (%s)", pr.PartSize, ByteSize(multipart.MinPartSize))
	case int64(pr.PartSize) > multipart.MaxPartSize:
		add(key+".part_size", "%s is above the S3 maximum part size (%s)", pr.PartSize, ByteSize(multipart.MaxPartSize))
	}
	switch {
	case pr.SingleMax <= 0:
		add(key+".single_max", "must be positive")
	case int64(pr.SingleMax) > multipart.MaxSingleSize:
		add(key+".single_max", "%s is above the S3 maximum for one PUT (%s)", pr.SingleMax, ByteSize(multipart.MaxSingleSize))
	case pr.MaxSize > 0 && pr.SingleMax > pr.MaxSize:
		add(key+".single_max", "%s is above max_size (%s)", pr.SingleMax, pr.MaxSize)
	}
}

// validateURLTTL checks a profile's url_ttl: within what SigV4 allows and
// what its backend's provider accepts.
func (c *Config) validateURLTTL(key string, pr *Profile, add addFunc) {
	if pr.URLTTL < MinURLTTL || pr.URLTTL > MaxURLTTL {
		add(key+".url_ttl", "%s is not between %s and 7 days", pr.URLTTL, MinURLTTL)
		return
	}
	b, ok := c.Backends[pr.Backend]
	if !ok {
		return
	}
	if preset, err := backends.LookupPreset(b.Provider); err == nil && pr.URLTTL.Std() > preset.PresignLimit() {
		add(key+".url_ttl", "%s is longer than backend %s (provider %s) accepts for a presigned URL (%s)", pr.URLTTL, pr.Backend, preset.Name, Duration(preset.PresignLimit()))
	}
}

// validate checks the limits section (0 turns a limit off).
func (l *Limits) validate(add addFunc) {
	for _, v := range []struct {
		key string
		v   int
	}{
		{"limits.rate", l.Rate},
		{"limits.burst", l.Burst},
		{"limits.max_open_sessions", l.MaxOpenSessions},
	} {
		if v.v < 0 {
			add(v.key, "must not be negative (0 turns the limit off)")
		}
	}
	if l.CompleteTimeout < Duration(time.Second) {
		add("limits.complete_timeout", "must be at least 1s")
	}
}

// validateWebhooks checks each webhook: a URL, listed once, and known events.
func (c *Config) validateWebhooks(add addFunc) {
	seenURL := map[string]int{}
	for i, w := range c.Webhooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case w.URL == "":
			add(key+".url", "required")
		case checkHTTPURL(w.URL) != "":
			add(key+".url", "%s", checkHTTPURL(w.URL))
		default:
			if j, dup := seenURL[w.URL]; dup {
				add(key+".url", "same URL as webhooks[%d] (list its events together)", j)
			}
			seenURL[w.URL] = i
		}
		for j, ev := range w.Events {
			if !slices.Contains(WebhookEvents, ev) {
				add(fmt.Sprintf("%s.events[%d]", key, j), "%q is not one of %s", ev, strings.Join(WebhookEvents, ", "))
			}
		}
	}
}

// validate checks the webhook_delivery section.
func (wd *WebhookDelivery) validate(add addFunc) {
	if wd.Timeout <= 0 || wd.Timeout > Duration(time.Minute) {
		add("webhook_delivery.timeout", "%s is not between 0 and 1m", wd.Timeout)
	}
	if wd.MaxAttempts < 1 {
		add("webhook_delivery.max_attempts", "must be at least 1")
	}
	if wd.MaxAge <= 0 {
		add("webhook_delivery.max_age", "must be positive")
	}
	if wd.Backoff <= 0 {
		add("webhook_delivery.backoff", "must be positive")
	}
	if wd.MaxBackoff < wd.Backoff {
		add("webhook_delivery.max_backoff", "%s is below backoff (%s)", wd.MaxBackoff, wd.Backoff)
	}
	if wd.StreamMaxLen < 1 {
		add("webhook_delivery.stream_max_len", "must be at least 1")
	}
}

// validate checks the log section.
func (l *Log) validate(add addFunc) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", l.Level)
	}
	switch l.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not one of text, json", l.Format)
	}
}

func checkTemplate(t string, overwrite bool, key string, add func(key, format string, args ...any)) {
	if !strings.Contains(t, "{id}") && !overwrite {
		add(key, "must contain {id} (so that every upload gets its own key), or the profile must set overwrite: true (a later upload then replaces the object at the same key)")
	}
	if strings.HasPrefix(t, "/") {
		add(key, "must not start with /")
	}
	for _, ph := range placeRe.FindAllString(t, -1) {
		found := false
		for _, known := range KeyPlaceholders {
			if ph == known {
				found = true
				break
			}
		}
		if !found {
			add(key, "unknown placeholder %s (known: %s)", ph, strings.Join(KeyPlaceholders, " "))
		}
	}
	rest := placeRe.ReplaceAllString(t, "")
	if strings.ContainsAny(rest, "{}") {
		add(key, "has an unbalanced { or }")
	}
}

// LoopbackListen reports whether the host of listen (a valid host:port) is
// a loopback address or "localhost": reachable from this machine only.
func LoopbackListen(listen string) bool {
	host, _, _ := net.SplitHostPort(listen)
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// checkHTTPURL returns what is wrong with an http(s) URL, or "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an http:// or https:// URL"
	}
	return ""
}

// checkEndpoint returns what is wrong with a store endpoint, or "".
func checkEndpoint(s string) string {
	if msg := checkHTTPURL(s); msg != "" {
		return msg
	}
	u, _ := url.Parse(s)
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "must be a scheme and host only, without a path (the bucket is set apart)"
	}
	if u.User != nil {
		return "must not hold credentials (use access_key and secret_key)"
	}
	return ""
}

func validOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// validateVerify checks a profile's verify hook (at key).
func validateVerify(v *Verify, key string, add func(key, format string, args ...any)) {
	if v.URL == "" {
		if v.Secret != "" {
			add(key+".url", "required when verify.secret is set (no hook is asked without one)")
		}
	} else if msg := checkHTTPURL(v.URL); msg != "" {
		add(key+".url", "%s", msg)
	}
	if v.Timeout <= 0 || v.Timeout > MaxVerifyTimeout {
		add(key+".timeout", "%s is not between 0 and %s", v.Timeout, MaxVerifyTimeout)
	}
}
