package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/webhook"
	"github.com/chute-dev/chute/config"
)

// webhookAuthorizer returns the upload authorizer auth.authorizer
// configures, or nil (no authorizer) when its url is empty.
// hc is its HTTP client (nil: the authorizer's own).
func webhookAuthorizer(cfg *config.Config, hc *http.Client) (broker.Authorizer, error) {
	a := cfg.Auth.Authorizer
	if a.URL == "" {
		return nil, nil
	}
	w, err := webhook.New(webhook.Config{URL: a.URL, Timeout: time.Duration(a.Timeout), Secret: a.Secret, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("auth.authorizer: %w", err)
	}
	return w, nil
}
