package main

import (
	"fmt"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/webhook"
	"github.com/chute-dev/chute/config"
)

// webhookAuthorizer returns the upload authorizer auth.authorizer
// configures, or nil (no authorizer) when its url is empty.
func webhookAuthorizer(cfg *config.Config) (broker.Authorizer, error) {
	a := cfg.Auth.Authorizer
	if a.URL == "" {
		return nil, nil
	}
	w, err := webhook.New(webhook.Config{URL: a.URL, Timeout: time.Duration(a.Timeout), Secret: a.Secret})
	if err != nil {
		return nil, fmt.Errorf("auth.authorizer: %w", err)
	}
	return w, nil
}
