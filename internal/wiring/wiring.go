// Package wiring turns a configuration into the pieces both ways of
// running Chute assemble: `chute serve` (cmd/chute) and the in-process
// test server (chutetest/inprocess). Only the mappings live here, so the
// two cannot drift apart; what each runs around them stays with each.
package wiring

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/sessions"
)

// Backend is the adapter configuration of backend b: chute serve, doctor,
// gc and setup-bucket all build their stores from it.
func Backend(name string, b config.Backend) backends.Config {
	return backends.Config{
		Name: name, Endpoint: b.Endpoint, PublicEndpoint: b.PublicEndpoint, Region: b.Region,
		Bucket: b.Bucket, AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: b.PathStyle != nil && *b.PathStyle,
		Timeout: time.Duration(b.Timeout), Provider: b.Provider,
	}
}

// Profile is the broker's view of profile p.
func Profile(name string, p config.Profile) broker.Profile {
	bp := broker.Profile{
		Name: name, Backend: p.Backend, MaxSize: int64(p.MaxSize), PartSize: int64(p.PartSize),
		SingleMax: int64(p.SingleMax), AllowedTypes: p.AllowedTypes, URLTTL: time.Duration(p.URLTTL),
		KeyTemplate: p.KeyTemplate,
		Overwrite:   p.Overwrite,
		Sniff:       p.Sniff,
		MinSize:     int64(p.MinSize), Subjects: p.Subjects, MaxMetadataBytes: p.MaxMetadataBytes,
		InlineTypes: p.InlineTypes,
	}
	if v := p.Verify; v.URL != "" {
		bp.Verify = &broker.VerifyHook{URL: v.URL, Secret: v.Secret, Timeout: time.Duration(v.Timeout)}
	}
	return bp
}

// Authenticator is the authenticator of cfg.Auth.
func Authenticator(cfg *config.Config) (auth.Authenticator, error) {
	switch cfg.Auth.Mode {
	case config.AuthNone:
		return auth.None{}, nil
	case config.AuthJWT:
		a, err := auth.NewJWT(auth.JWTConfig{
			Secret: cfg.Auth.JWT.Secret, JWKSURL: cfg.Auth.JWT.JWKSURL,
			Issuer: cfg.Auth.JWT.Issuer, Audience: cfg.Auth.JWT.Audience,
		})
		if err != nil {
			return nil, fmt.Errorf("auth.jwt: %w", err)
		}
		return a, nil
	case config.AuthAPIKey:
		keys := make([]auth.APIKey, 0, len(cfg.Auth.APIKeys))
		for _, k := range cfg.Auth.APIKeys {
			keys = append(keys, auth.APIKey{Key: k.Key, Subject: k.Subject})
		}
		a, err := auth.NewAPIKeys(keys)
		if err != nil {
			return nil, fmt.Errorf("auth.api_keys: %w", err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("auth.mode: %q is not one of none, jwt, api_key", cfg.Auth.Mode)
}

// RateLimiter is the per-subject request limit of cfg.Limits, kept in the
// sessions Redis; nil (no limit) when limits.rate is 0.
func RateLimiter(cfg *config.Config, rc redis.UniversalClient) httpapi.RateLimiter {
	if cfg.Limits.Rate <= 0 {
		return nil
	}
	return sessions.NewRateLimiter(rc, cfg.Sessions.KeyPrefix, float64(cfg.Limits.Rate), cfg.Limits.Burst)
}

// SignLimiter limits the requests that sign part URLs in this process
// (limits.rate and limits.burst per replica), so that signing makes no
// Redis round trip; nil when rate limiting is off.
func SignLimiter(cfg *config.Config) httpapi.RateLimiter {
	if cfg.Limits.Rate <= 0 {
		return nil
	}
	return httpapi.NewLocalLimiter(float64(cfg.Limits.Rate), cfg.Limits.Burst)
}
