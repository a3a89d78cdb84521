package config

import (
	"bytes"
	"maps"
	"net/url"
	"slices"

	"gopkg.in/yaml.v3"
)

// Redaction replaces every secret in the copy Redacted returns.
const Redaction = "REDACTED"

// Redacted returns a deep copy of c in which every secret that is set is
// replaced by Redaction: auth.jwt.secret, auth.authorizer.secret, every
// auth.api_keys[].key, every backend's secret_key, every webhooks[].secret,
// every profile's verify.secret, the Redis passwords — and, in every URL
// it holds (server.public_url, sessions.redis_url, auth.jwt.jwks_url,
// auth.authorizer.url, every backend's endpoint and public_endpoint, every
// webhooks[].url, every profile's verify.url), the password (or a lone
// user name, which may be a token), the query string and the fragment,
// where tokens are often passed. It is what may be printed or logged.
func (c *Config) Redacted() Config {
	r := *c
	r.Server.PublicURL = redactQuery(c.Server.PublicURL)
	r.Auth.JWT.JWKSURL = redactQuery(c.Auth.JWT.JWKSURL)
	r.Auth.Authorizer.URL = redactQuery(c.Auth.Authorizer.URL)
	r.Tracing.OTLPEndpoint = redactQuery(c.Tracing.OTLPEndpoint)
	r.Server.CORSOrigins = slices.Clone(c.Server.CORSOrigins)
	if r.Auth.JWT.Secret != "" {
		r.Auth.JWT.Secret = Redaction
	}
	r.Auth.Authorizer.Headers = slices.Clone(c.Auth.Authorizer.Headers)
	if r.Auth.Authorizer.Secret != "" {
		r.Auth.Authorizer.Secret = Redaction
	}
	r.Auth.APIKeys = slices.Clone(c.Auth.APIKeys)
	for i := range r.Auth.APIKeys {
		if r.Auth.APIKeys[i].Key != "" {
			r.Auth.APIKeys[i].Key = Redaction
		}
	}
	r.Sessions.RedisURL = redactQuery(c.Sessions.RedisURL)
	r.Sessions.RedisCluster.Addrs = slices.Clone(c.Sessions.RedisCluster.Addrs)
	r.Sessions.RedisSentinel.Addrs = slices.Clone(c.Sessions.RedisSentinel.Addrs)
	for _, p := range []*string{&r.Sessions.RedisCluster.Password, &r.Sessions.RedisSentinel.Password, &r.Sessions.RedisSentinel.SentinelPassword} {
		if *p != "" {
			*p = Redaction
		}
	}
	if c.Webhooks != nil {
		r.Webhooks = slices.Clone(c.Webhooks)
		for i := range r.Webhooks {
			if r.Webhooks[i].Secret != "" {
				r.Webhooks[i].Secret = Redaction
			}
			r.Webhooks[i].URL = redactQuery(r.Webhooks[i].URL)
			r.Webhooks[i].Events = slices.Clone(r.Webhooks[i].Events)
		}
	}
	if c.Backends != nil {
		r.Backends = make(map[string]Backend, len(c.Backends))
		for name, b := range c.Backends {
			if b.SecretKey != "" {
				b.SecretKey = Redaction
			}
			b.Endpoint = redactQuery(b.Endpoint)
			b.PublicEndpoint = redactQuery(b.PublicEndpoint)
			r.Backends[name] = b
		}
	}
	if c.Profiles != nil {
		r.Profiles = maps.Clone(c.Profiles)
		for name, p := range r.Profiles {
			p.AllowedTypes = slices.Clone(p.AllowedTypes)
			p.InlineTypes = slices.Clone(p.InlineTypes)
			p.Subjects = slices.Clone(p.Subjects)
			if p.Verify.Secret != "" {
				p.Verify.Secret = Redaction
			}
			p.Verify.URL = redactQuery(p.Verify.URL)
			r.Profiles[name] = p
		}
	}
	return r
}

// redactURL hides the password of a URL (or a lone user name, which may
// be a token, or the password for Redis); a URL that doesn't parse is
// hidden whole, since it can't be told where its secret is.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return Redaction
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Redaction)
	} else {
		u.User = url.User(Redaction)
	}
	return u.String()
}

// redactQuery is redactURL that also hides the query string and the
// fragment, where a token may be.
func redactQuery(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return Redaction
	}
	if u.RawQuery != "" {
		u.RawQuery = Redaction
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = Redaction, ""
	}
	return redactURL(u.String())
}

// YAML returns c as a YAML document with the same keys Load reads, for
// `chute config print`. It prints secrets as they are: call it on a
// Redacted copy to show the configuration to a person.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
