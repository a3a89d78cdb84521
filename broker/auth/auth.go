// Package auth turns a bearer token into a subject: the owner of the
// sessions it creates. Modes: none (every caller is one subject, for
// loopback development) and jwt (HS256 with a shared secret).
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

// JWT checks HS256 tokens: the signature with Secret, `exp` (required),
// `sub` (required, the subject), and `iss`/`aud` when configured.
type JWT struct {
	parser *jwt.Parser
	secret []byte
}

// JWTConfig configures JWT.
type JWTConfig struct {
	Secret   string
	Issuer   string
	Audience string
	// Leeway allows for clock skew on exp/nbf (default 30s).
	Leeway time.Duration
}

// NewJWT returns an HS256 authenticator.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("auth: jwt secret must be at least 16 bytes")
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &JWT{parser: jwt.NewParser(opts...), secret: []byte(cfg.Secret)}, nil
}

// Authenticate verifies the token and returns its `sub`.
func (j *JWT) Authenticate(_ context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no token", ErrUnauthorized)
	}
	claims := jwt.RegisteredClaims{}
	_, err := j.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return j.secret, nil })
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if claims.Subject == "" || len(claims.Subject) > 256 {
		return "", fmt.Errorf("%w: token has no usable sub", ErrUnauthorized)
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
