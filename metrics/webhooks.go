package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookTypes are the event types, the only values of the type label.
var webhookTypes = []string{"upload.completed", "upload.aborted", "upload.expired"}

// webhookMetrics are the collectors of webhook delivery (package events).
type webhookMetrics struct {
	delivered *prometheus.CounterVec   // type
	failed    *prometheus.CounterVec   // type
	dead      *prometheus.CounterVec   // type
	duration  *prometheus.HistogramVec // type
}

// Webhooks returns the recorder of webhook deliveries (it implements
// events.Observer): chute_webhook_deliveries_total (2xx answers),
// chute_webhook_failures_total (failed attempts, each retry counted),
// chute_webhook_dead_letters_total (deliveries given up) and
// chute_webhook_delivery_duration_seconds, all by event type. Call it
// once per Metrics.
func (m *Metrics) Webhooks() *Webhooks {
	w := &webhookMetrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chute_webhook_deliveries_total",
			Help: "Webhook deliveries answered 2xx, by event type (one per event and webhook, or more after a lost acknowledgement).",
		}, []string{"type"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chute_webhook_failures_total",
			Help: "Webhook delivery attempts that failed (non-2xx, timeout, connection error), by event type; each retry counts.",
		}, []string{"type"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chute_webhook_dead_letters_total",
			Help: "Webhook deliveries given up after their max attempts or max age and moved to the dead-letter stream, by event type.",
		}, []string{"type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chute_webhook_delivery_duration_seconds",
			Help:    "Time of a successful webhook POST, by event type.",
			Buckets: prometheus.DefBuckets,
		}, []string{"type"}),
	}
	m.register(w.delivered, w.failed, w.dead, w.duration)
	for _, t := range webhookTypes {
		w.delivered.WithLabelValues(t)
		w.failed.WithLabelValues(t)
		w.dead.WithLabelValues(t)
	}
	return &Webhooks{w}
}

// Webhooks records webhook deliveries; see Metrics.Webhooks.
type Webhooks struct{ w *webhookMetrics }

func webhookType(t string) string {
	for _, k := range webhookTypes {
		if t == k {
			return t
		}
	}
	return "other"
}

// WebhookDelivered counts a 2xx answer that took d.
func (w *Webhooks) WebhookDelivered(eventType string, d time.Duration) {
	t := webhookType(eventType)
	w.w.delivered.WithLabelValues(t).Inc()
	w.w.duration.WithLabelValues(t).Observe(d.Seconds())
}

// WebhookFailed counts a failed attempt.
func (w *Webhooks) WebhookFailed(eventType string) {
	w.w.failed.WithLabelValues(webhookType(eventType)).Inc()
}

// WebhookDead counts a delivery given up.
func (w *Webhooks) WebhookDead(eventType string) {
	w.w.dead.WithLabelValues(webhookType(eventType)).Inc()
}
