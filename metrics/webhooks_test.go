package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookCounters(t *testing.T) {
	m := New()
	w := m.Webhooks()
	before := scrape(t, m)
	for _, s := range []string{
		`chute_webhook_deliveries_total{type="upload.expired"} 0`,
		`chute_webhook_dead_letters_total{type="upload.completed"} 0`,
	} {
		if !strings.Contains(before, s) {
			t.Errorf("missing before any delivery: %s", s)
		}
	}
	w.WebhookFailed("upload.completed")
	w.WebhookFailed("upload.completed")
	w.WebhookDelivered("upload.completed", 20*time.Millisecond)
	w.WebhookDead("upload.aborted")
	w.WebhookDead("something.else")
	text := scrape(t, m)
	for _, s := range []string{
		`chute_webhook_failures_total{type="upload.completed"} 2`,
		`chute_webhook_deliveries_total{type="upload.completed"} 1`,
		`chute_webhook_dead_letters_total{type="upload.aborted"} 1`,
		`chute_webhook_dead_letters_total{type="other"} 1`,
	} {
		if !strings.Contains(text, s) {
			t.Errorf("missing %s", s)
		}
	}
	if n := histCount(t, m, "chute_webhook_delivery_duration_seconds", `type="upload.completed"`); n != 1 {
		t.Errorf("duration count %d, want 1", n)
	}
}
