// Package metrics owns Chute's Prometheus metrics: one registry (never the
// process-wide default), the collectors on it, and the decorators and
// middleware that feed them without touching the use cases:
//
//   - Store wraps a broker.ObjectStore: latency and errors per backend and
//     operation, and the count of part URLs signed;
//   - Sessions wraps a sessions.Store: Redis latency and failures, and the
//     session counters (created, completed, aborted, bytes completed, state
//     transitions), read off the store's atomic state changes;
//   - Middleware is a Fiber handler counting requests by route pattern.
//
// Handler serves the registry in the Prometheus text format. Counters are
// per process: every replica has its own, and a sum over replicas (PromQL
// sum()) is the cluster's figure. No metric is a live count of sessions by
// state, which only a scan of Redis could give; the state transition
// counters say how many sessions entered each state.
//
// Labels never carry a session id, a key, a subject or a raw path, so the
// number of series is bounded by the routes, backends and operations.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and every collector of Chute. Its methods
// are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	// all is every collector on reg, in the order registered (register).
	all []prometheus.Collector

	httpRequests *prometheus.CounterVec   // route, method, status
	httpDuration *prometheus.HistogramVec // route, method

	created     *prometheus.CounterVec // strategy
	completed   *prometheus.CounterVec // strategy
	aborted     prometheus.Counter
	transitions *prometheus.CounterVec // to
	bytesDone   prometheus.Counter
	partsSigned prometheus.Counter
	partsReport prometheus.Counter

	storeDuration *prometheus.HistogramVec // backend, op
	storeErrors   *prometheus.CounterVec   // backend, op, kind

	redisDuration *prometheus.HistogramVec // op
	redisErrors   *prometheus.CounterVec   // op

	janitor *prometheus.CounterVec // outcome
}

// New returns Metrics on a fresh registry that also holds the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chute_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})

	m.created = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_sessions_created_total",
		Help: "Upload sessions created, by strategy.",
	}, []string{"strategy"})
	m.completed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_sessions_completed_total",
		Help: "Upload sessions completed (counted once per session), by strategy.",
	}, []string{"strategy"})
	m.aborted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chute_sessions_aborted_total",
		Help: "Upload sessions aborted, by a client or because the stored object could never match.",
	})
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_sessions_state_transitions_total",
		Help: "Sessions entering a state through an explicit change: pending at create, then completing, completed, aborted, rejected (by the verify hook), or uploading after a failed complete.",
	}, []string{"to"})
	m.bytesDone = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chute_bytes_completed_total",
		Help: "Bytes of completed uploads (their declared size, checked against the store).",
	})
	m.partsSigned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chute_parts_signed_total",
		Help: "Presigned part URLs handed out for multipart uploads.",
	})
	m.partsReport = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chute_parts_reported_total",
		Help: "Part reports recorded (including reconciliations by a status sync).",
	})

	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chute_store_request_duration_seconds",
		Help:    "Time of an object store operation, by backend and operation (presign operations do no I/O).",
		Buckets: prometheus.DefBuckets,
	}, []string{"backend", "op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_store_errors_total",
		Help: "Object store operations that failed, by backend, operation and kind (not_found, unavailable, access_denied, invalid_part, other).",
	}, []string{"backend", "op", "kind"})

	m.redisDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "chute_redis_request_duration_seconds",
		Help:    "Time of a session store operation, by operation.",
		Buckets: prometheus.DefBuckets,
	}, []string{"op"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chute_redis_errors_total",
		Help: "Session store operations that failed because Redis did (unreachable, timeout, error reply), by operation.",
	}, []string{"op"})

	m.janitor = newJanitorCounter()

	for _, c := range []prometheus.Collector{
		m.httpRequests, m.httpDuration, m.created, m.completed, m.aborted, m.transitions,
		m.bytesDone, m.partsSigned, m.partsReport, m.storeDuration, m.storeErrors,
		m.redisDuration, m.redisErrors, m.janitor,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		m.register(c)
	}

	// Series that exist from the start read 0 instead of being absent,
	// so rates and alerts work before the first event.
	for _, s := range []string{"single", "multipart"} {
		m.created.WithLabelValues(s)
		m.completed.WithLabelValues(s)
	}
	for _, st := range []string{"pending", "uploading", "completing", "completed", "aborted", "rejected"} {
		m.transitions.WithLabelValues(st)
	}
	for _, op := range sessionOps[:sopGetSession] {
		m.redisErrors.WithLabelValues(op)
	}
	for _, o := range janitorOutcomes {
		m.janitor.WithLabelValues(o)
	}
	return m
}

// register puts cs on the registry and keeps them in m.all.
func (m *Metrics) register(cs ...prometheus.Collector) {
	m.reg.MustRegister(cs...)
	m.all = append(m.all, cs...)
}

// Registry returns the registry holding Chute's collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
