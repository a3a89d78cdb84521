package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// newJWKS returns a key function backed by a cached, refreshed JWKS.
func newJWKS(rawURL string, refreshMin time.Duration) (jwt.Keyfunc, func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, fmt.Errorf("auth: jwks_url must be an http(s) URL")
	}
	if refreshMin <= 0 {
		refreshMin = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{rawURL}, keyfunc.Override{
		RefreshInterval:   time.Hour,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(refreshMin), 1),
		RateLimitWaitMax:  2 * time.Second,
		HTTPTimeout:       5 * time.Second,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				slog.Default().WarnContext(ctx, "JWKS refresh failed", "host", u.Host, "err", err)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("auth: jwks: %w", err)
	}
	return kf.Keyfunc, cancel, nil
}
