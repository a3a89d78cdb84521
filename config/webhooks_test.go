package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWebhooksYAMLAndEnv(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, minimalYAML+`
webhooks:
  - url: "https://app.example.com/hooks?token=abc"
    events: ["upload.completed"]
  - url: "http://127.0.0.1:9000/h"
webhook_delivery: { timeout: 2s, max_attempts: 3 }
`)
	c := mustLoad(t, path, []string{
		"CHUTE_WEBHOOKS_0_SECRET_FILE=" + secretFile,
		"CHUTE_WEBHOOKS_2_URL=https://added.example.com/x",
		"CHUTE_WEBHOOK_DELIVERY_MAX_AGE=1h",
	})
	if len(c.Webhooks) != 3 {
		t.Fatalf("webhooks %+v", c.Webhooks)
	}
	if c.Webhooks[0].Secret != "from-a-file" || !slices.Equal(c.Webhooks[0].Events, []string{"upload.completed"}) {
		t.Errorf("webhooks[0] %+v", c.Webhooks[0])
	}
	if !slices.Equal(c.Webhooks[1].Events, WebhookEvents) || c.Webhooks[2].URL != "https://added.example.com/x" {
		t.Errorf("webhooks[1..2] %+v", c.Webhooks[1:])
	}
	wd := c.WebhookDelivery
	if wd.Timeout.String() != "2s" || wd.MaxAttempts != 3 || wd.MaxAge.String() != "1h" || wd.StreamMaxLen != defaultWebhookMaxLen {
		t.Errorf("webhook_delivery %+v", wd)
	}
	r := c.Redacted()
	if r.Webhooks[0].Secret != Redaction || strings.Contains(r.Webhooks[0].URL, "abc") || c.Webhooks[0].Secret != "from-a-file" {
		t.Errorf("redacted %+v (original %+v)", r.Webhooks[0], c.Webhooks[0])
	}
	if msg := loadErr(t, path, []string{"CHUTE_WEBHOOKS_5_URL=https://x.example"}); !strings.Contains(msg, "CHUTE_WEBHOOKS_5_URL") {
		t.Errorf("an index past the end: %s", msg)
	}
}

func TestWebhooksValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no url", func(c *Config) { c.Webhooks = []Webhook{{}} }, "webhooks[0].url: required"},
		{"scheme", func(c *Config) { c.Webhooks = []Webhook{{URL: "ftp://x.example/h"}} }, "webhooks[0].url: must be an http:// or https:// URL"},
		{"duplicate", func(c *Config) { c.Webhooks = []Webhook{{URL: "https://a.example"}, {URL: "https://a.example"}} }, "webhooks[1].url: same URL as webhooks[0]"},
		{"event", func(c *Config) { c.Webhooks = []Webhook{{URL: "https://a.example", Events: []string{"upload.done"}}} }, `webhooks[0].events[0]: "upload.done" is not one of`},
		{"timeout", func(c *Config) { c.WebhookDelivery.Timeout = 0 }, "webhook_delivery.timeout"},
		{"attempts", func(c *Config) { c.WebhookDelivery.MaxAttempts = 0 }, "webhook_delivery.max_attempts: must be at least 1"},
		{"max age", func(c *Config) { c.WebhookDelivery.MaxAge = -1 }, "webhook_delivery.max_age: must be positive"},
		{"backoff", func(c *Config) { c.WebhookDelivery.MaxBackoff = 1 }, "webhook_delivery.max_backoff"},
		{"max len", func(c *Config) { c.WebhookDelivery.StreamMaxLen = 0 }, "webhook_delivery.stream_max_len"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	c := valid()
	c.Webhooks = []Webhook{{URL: "https://a.example/h", Events: WebhookEvents}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExampleWebhookDeliveryIsDefault(t *testing.T) {
	c := mustLoad(t, "../config.example.yaml", nil)
	if c.WebhookDelivery != Default().WebhookDelivery {
		t.Errorf("example webhook_delivery %+v, Default() %+v", c.WebhookDelivery, Default().WebhookDelivery)
	}
}
