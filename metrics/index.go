package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// indexTimeout bounds the read of the session index at one scrape.
const indexTimeout = 2 * time.Second

// IndexCounts reads the session store's expiry index: open sessions not
// yet expired, and expired ones the janitor has not handled yet
// (sessions.RedisStore.IndexCounts at the current time).
type IndexCounts func(ctx context.Context) (open, due int64, err error)

// SessionIndex registers two gauges read from counts at every scrape:
// chute_sessions_open (uploads in flight: sessions not ended and not
// expired) and chute_janitor_backlog_sessions (sessions past their expiry
// that the janitor has not ended yet). Both count the whole deployment,
// not this replica: every replica reports the same figure, so take max()
// over replicas, not sum(). When the read fails or takes longer than 2 s,
// the scrape has neither gauge. Call it at most once per Metrics.
func (m *Metrics) SessionIndex(counts IndexCounts) {
	m.register(&indexCollector{
		counts: counts,
		open: prometheus.NewDesc("chute_sessions_open",
			"Sessions not yet ended whose expiry is ahead (uploads in flight), across all replicas: read from Redis at each scrape.", nil, nil),
		due: prometheus.NewDesc("chute_janitor_backlog_sessions",
			"Sessions past their expiry that the janitor has not ended yet, across all replicas: read from Redis at each scrape.", nil, nil),
	})
}

type indexCollector struct {
	counts    IndexCounts
	open, due *prometheus.Desc
}

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.due
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), indexTimeout)
	defer cancel()
	open, due, err := c.counts(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(due))
}
