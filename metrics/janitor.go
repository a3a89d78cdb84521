package metrics

import "github.com/prometheus/client_golang/prometheus"

// The outcome label values of chute_janitor_sessions_total (the
// broker.Janitor* constants).
var janitorOutcomes = []string{"expired", "failed"}

func newJanitorCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_janitor_sessions_total",
		Help: "Sessions the janitor handled, by outcome: expired (upload aborted in the store, state expired) or failed (left for a later tick).",
	}, []string{"outcome"})
}

// JanitorOutcome counts one session the janitor handled; it is the
// broker.JanitorConfig.Observe hook.
func (m *Metrics) JanitorOutcome(outcome string) {
	m.janitor.WithLabelValues(outcome).Inc()
}
