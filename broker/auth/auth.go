// Package auth turns a bearer token into a subject: the owner of the
// sessions it creates. Modes: none (every caller is one subject, for
// loopback development), jwt (HS256 with a shared secret, or RS256/ES256
// with keys from a JWKS URL) and api_key (static keys for
// server-to-server use, kept only as SHA-256 hashes).
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized is returned for a missing, malformed, forged or expired
// token. Its wrapped detail is for the server log only.
var ErrUnauthorized = errors.New("unauthorized")

// Authenticator checks a bearer token (without the "Bearer " prefix) and
// returns its subject.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (subject string, err error)
}

// None accepts every request, with or without a token, as Subject.
type None struct {
	// Subject is the subject of every request (default "anonymous").
	Subject string
}

// Authenticate returns the fixed subject.
func (n None) Authenticate(context.Context, string) (string, error) {
	if n.Subject == "" {
		return "anonymous", nil
	}
	return n.Subject, nil
}

// JWT checks signed tokens: HS256 with a shared secret, or RS256/ES256
// with keys from a JWKS URL. `exp` is required, `sub` is the subject, and
// `iss`/`aud` are checked when configured.
type JWT struct {
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc
	close   func()
	cache   *tokenCache // verified tokens: cache.go
}

// JWTConfig configures JWT. Exactly one of Secret and JWKSURL is set.
type JWTConfig struct {
	// Secret is the HS256 key (at least 16 bytes).
	Secret string
	// JWKSURL serves the RS256/ES256 public keys. Keys are cached,
	// refreshed hourly, and refreshed early when a token names an unknown
	// `kid` (at most once every RefreshMin).
	JWKSURL  string
	Issuer   string
	Audience string
	// Leeway allows for clock skew on exp/nbf (default 30s).
	Leeway time.Duration
	// RefreshMin bounds JWKS refreshes for unknown key ids (default 1m).
	RefreshMin time.Duration
}

// NewJWT returns a JWT authenticator. With a JWKS URL it fetches the keys
// in the background; Close stops that.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	j := &JWT{close: func() {}, cache: newTokenCache(tokenCacheSize)}
	var methods []string
	switch {
	case cfg.Secret != "" && cfg.JWKSURL != "":
		return nil, errors.New("auth: set either a jwt secret or a jwks_url, not both")
	case cfg.JWKSURL != "":
		kf, stop, err := newJWKS(cfg.JWKSURL, cfg.RefreshMin)
		if err != nil {
			return nil, err
		}
		j.keyfunc, j.close = kf, stop
		methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
	case len(cfg.Secret) < 16:
		return nil, errors.New("auth: jwt secret must be at least 16 bytes")
	default:
		secret := []byte(cfg.Secret)
		j.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		methods = []string{jwt.SigningMethodHS256.Alg()}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	return j, nil
}

// Close stops the background JWKS refresh, if any.
func (j *JWT) Close() { j.close() }

// Authenticate verifies the token and returns its `sub`. A token that
// verified is remembered (by its SHA-256) until its exp, for at most a
// minute, so repeated requests with one token skip the signature check.
func (j *JWT) Authenticate(_ context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no token", ErrUnauthorized)
	}
	key := tokenKey(token)
	if sub, ok := j.cache.get(key); ok {
		return sub, nil
	}
	claims := jwt.RegisteredClaims{}
	if _, err := j.parser.ParseWithClaims(token, &claims, j.keyfunc); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if claims.Subject == "" || len(claims.Subject) > 256 {
		return "", fmt.Errorf("%w: token has no usable sub", ErrUnauthorized)
	}
	if claims.ExpiresAt != nil { // required by the parser; checked anyway
		j.cache.put(key, claims.Subject, claims.ExpiresAt.Time)
	}
	return claims.Subject, nil
}

// SignHS256 mints a token for subject valid for ttl: for tests, the CLI
// and development.
func SignHS256(secret, subject string, ttl time.Duration, issuer, audience string) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(time.Now()),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl)),
		Issuer:    issuer,
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}
