package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/broker/verifyhttp"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/events"
	"github.com/chute-dev/chute/internal/jsonlog"
	"github.com/chute-dev/chute/internal/wiring"
	"github.com/chute-dev/chute/metrics"
	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/tracing"
	"github.com/chute-dev/chute/web"
)

// stack is a wired Chute: the HTTP server and what it must close.
type stack struct {
	server *httpapi.Server
	redis  redis.UniversalClient
	cfg    *config.Config
	log    *slog.Logger
	// janitor runs the expiry janitor until its context ends (nil: off).
	janitor func(ctx context.Context) error
	// deliverer posts events to the webhooks; nil when none is configured.
	deliverer *events.Deliverer
	// signCache follows other replicas' session ends for the broker's
	// signing cache until its context ends.
	signCache func(ctx context.Context) error
	// tracer exports the traces (a no-op when tracing is off); run
	// flushes it at shutdown.
	tracer *tracing.Tracer
}

// wire builds the broker, its stores and its HTTP server from cfg.
func wire(cfg *config.Config, log *slog.Logger) (*stack, error) {
	rc, err := newRedis(cfg.Sessions)
	if err != nil {
		return nil, err
	}
	mx := metrics.New()               // served at /metrics; the stores below are instrumented
	tr, err := newTracer(cfg.Tracing) // off: its decorators return what they are given
	if err != nil {
		_ = rc.Close()
		return nil, err
	}

	stores := map[string]broker.ObjectStore{}
	caps := map[string]broker.Capabilities{}
	for name, b := range cfg.Backends {
		bc := wiring.Backend(name, b)
		bc.CompleteTimeout = time.Duration(cfg.Limits.CompleteTimeout) // the store call has the whole complete's time
		s3, err := backends.NewS3(bc)
		if err != nil {
			_ = rc.Close()
			return nil, fmt.Errorf("backends.%s: %w", name, err)
		}
		probeStore(log, name, s3)
		stores[name] = tr.Store(name, mx.Store(name, s3))
		caps[name] = tr.Capabilities(name, mx.Capabilities(name, broker.ResolveCapabilities(s3)))
		warnPreset(log, name, s3.Preset(), time.Duration(cfg.Sessions.TTL))
	}
	profiles := map[string]broker.Profile{}
	var verifier broker.Verifier
	for name, p := range cfg.Profiles {
		profiles[name] = wiring.Profile(name, p)
		if p.Verify.URL != "" && verifier == nil {
			verifier = verifyhttp.New(tr.Client("verify_hook")) // nil when off: its own client
		}
	}
	outbox, deliverer := webhooks(cfg, rc, log, mx, tr)
	quotaStore, quotaLimits := quotas(cfg, rc) // quota.go
	authz, err := webhookAuthorizer(cfg, tr.Client("authorizer"))
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	rs := sessions.NewRedisStore(rc, sessions.WithKeyPrefix(cfg.Sessions.KeyPrefix),
		sessions.WithRetention(time.Duration(cfg.Sessions.Retention)))
	// Uploads in flight and the janitor's backlog, read at each scrape.
	mx.SessionIndex(func(ctx context.Context) (int64, int64, error) { return rs.IndexCounts(ctx, time.Now()) })
	svc, err := broker.New(broker.Config{
		Profiles:     profiles,
		Backends:     stores,
		Capabilities: caps,
		Sessions:     tr.Sessions(mx.Sessions(rs)),
		TTL:          time.Duration(cfg.Sessions.TTL),
		Logger:       log,

		MaxOpenSessions: cfg.Limits.MaxOpenSessions,
		CompleteTimeout: time.Duration(cfg.Limits.CompleteTimeout),

		Authorizer:        authz,
		AuthorizerHeaders: cfg.Auth.Authorizer.Headers,

		Events:   outbox,
		Verifier: verifier,

		Quotas: quotaStore, QuotaLimits: quotaLimits,

		SignCache: broker.SignCacheConfig{Bus: sessions.NewEndBus(rc, cfg.Sessions.KeyPrefix), ReadTimeout: time.Duration(cfg.Server.RequestTimeout)},
	})
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	authn, err := wiring.Authenticator(cfg)
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	middleware := []fiber.Handler{mx.Middleware()}
	if mw := tr.Middleware(); mw != nil { // the server span holds the metrics' time too
		middleware = append([]fiber.Handler{mw}, middleware...)
	}
	srv := httpapi.New(svc, tr.Authenticator(authn), httpapi.Options{
		BodyLimit:      int(cfg.Server.BodyLimit),
		RequestTimeout: time.Duration(cfg.Server.RequestTimeout),
		ReadTimeout:    time.Duration(cfg.Server.ReadTimeout),
		WriteTimeout:   time.Duration(cfg.Server.WriteTimeout),
		CORSOrigins:    cfg.Server.CORSOrigins,
		Logger:         log,
		Static:         web.FS(),
		Middleware:     middleware,
		Metrics:        mx.Handler(),
		RateLimiter:    tr.RateLimiter(wiring.RateLimiter(cfg, rc)),
		SignLimiter:    wiring.SignLimiter(cfg),
	})
	st := &stack{server: srv, redis: rc, cfg: cfg, log: log, deliverer: deliverer, signCache: svc.RunSignCache, tracer: tr}
	if cfg.Janitor.Enabled {
		jc := broker.JanitorConfig{
			Interval: time.Duration(cfg.Janitor.Interval), Batch: cfg.Janitor.Batch, Observe: mx.JanitorOutcome,
			PromoteInterval: time.Duration(cfg.Janitor.PromoteInterval),
		}
		st.janitor = func(ctx context.Context) error { return svc.RunJanitor(ctx, jc) }
	}
	return st, nil
}

// webhooks returns the event outbox and its deliverer for cfg.Webhooks,
// both on the sessions Redis; nil, nil when no webhook is configured.
func webhooks(cfg *config.Config, rc redis.UniversalClient, log *slog.Logger, mx *metrics.Metrics, tr *tracing.Tracer) (broker.EventSink, *events.Deliverer) {
	if len(cfg.Webhooks) == 0 {
		return nil, nil
	}
	hooks := make([]events.Webhook, 0, len(cfg.Webhooks))
	for _, w := range cfg.Webhooks {
		hooks = append(hooks, events.Webhook{URL: w.URL, Secret: w.Secret, Events: w.Events})
	}
	wd := cfg.WebhookDelivery
	outbox := events.NewOutbox(rc, cfg.Sessions.KeyPrefix, hooks, int64(wd.StreamMaxLen))
	outbox.SetPropagator(tr.Propagator()) // nil when tracing is off
	d := events.NewDeliverer(rc, cfg.Sessions.KeyPrefix, hooks, events.DeliveryConfig{
		Timeout: time.Duration(wd.Timeout), MaxAttempts: wd.MaxAttempts, MaxAge: time.Duration(wd.MaxAge),
		Backoff: time.Duration(wd.Backoff), MaxBackoff: time.Duration(wd.MaxBackoff),
		Transport: tr.Transport("webhook", nil), Propagator: tr.Propagator(),
	}, log, mx.Webhooks())
	return outbox, d
}

// redactedURLError keeps a URL parse error from echoing a password.
func redactedURLError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "@") {
		return "not a valid redis:// URL"
	}
	return msg
}

// beforeServe runs in the server's goroutine just before it serves; tests
// delay it to stop chute before the server runs.
var beforeServe = func() {}

// run listens and serves until ctx is cancelled, then shuts down
// gracefully: no new connections, in-flight requests get the grace
// period, then Redis is closed.
func (s *stack) run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen %s: %w", s.cfg.Server.Listen, err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	stopJanitor := s.startJanitor(ctx)
	stopSignCache := s.startSignCache(ctx)
	errc := make(chan error, 1)
	go func() {
		beforeServe()
		errc <- s.server.App().Listener(ln)
	}()
	stopDeliverer := s.startDeliverer()
	select {
	case err := <-errc:
		stopJanitor()
		stopSignCache()
		stopDeliverer()
		s.flushTraces()
		_ = s.redis.Close()
		return err
	case <-ctx.Done():
	}
	stopJanitor()
	grace := time.Duration(s.cfg.Server.ShutdownGrace)
	s.log.Info("shutting down", "grace", grace.String())
	if err := s.server.App().ShutdownWithTimeout(grace); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	// A stop that came before the server ran is a no-op for fasthttp,
	// which would then start and serve on: closing the listener makes
	// it return at once (after a shutdown that did run, it is closed).
	_ = ln.Close()
	<-errc
	stopSignCache()
	stopDeliverer() // after the server: its last requests may have published events
	s.flushTraces() // after everything that makes spans
	return s.redis.Close()
}

// flushTraces exports the spans still buffered, within a few seconds.
func (s *stack) flushTraces() {
	if s.tracer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.tracer.Shutdown(ctx); err != nil {
		s.log.Warn("tracing: spans not exported at shutdown", "err", err)
	}
}

// newTracer returns the tracer cfg configures (one that traces nothing
// when tracing is off).
func newTracer(cfg config.Tracing) (*tracing.Tracer, error) {
	tr, err := tracing.New(tracing.Config{
		Enabled: cfg.Enabled, Endpoint: cfg.OTLPEndpoint, SampleRatio: float64(cfg.SampleRatio),
		ServiceName: cfg.ServiceName, ServiceVersion: buildInfo().Version,
	})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return tr, nil
}

// startJanitor runs the janitor in the background, if it is on; the
// function returned stops it and waits until its current session is done.
func (s *stack) startJanitor(ctx context.Context) (stop func()) {
	if s.janitor == nil {
		return func() {}
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.janitor(jctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("janitor stopped", "err", err)
		}
	}()
	s.log.Info("janitor started", "interval", time.Duration(s.cfg.Janitor.Interval).String(), "batch", s.cfg.Janitor.Batch)
	return func() {
		cancel()
		<-done
	}
}

// startSignCache runs the signing cache's follower in the background; the
// function returned stops it.
func (s *stack) startSignCache(ctx context.Context) (stop func()) {
	if s.signCache == nil {
		return func() {}
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.signCache(sctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("signing cache follower stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// startDeliverer runs the webhook deliverer, if any, until the returned
// function is called; that function waits for it to stop (a POST in
// flight is cancelled and its entry retried later, by any replica).
func (s *stack) startDeliverer() (stop func()) {
	if s.deliverer == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.deliverer.Run(ctx)
	}()
	s.log.Info("webhook delivery started", "webhooks", len(s.cfg.Webhooks), "consumer", s.deliverer.Consumer())
	return func() {
		cancel()
		<-done
	}
}

func newLogger(format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(jsonlog.New(stderrLog, opts)) // slog's JSON, the access log line faster
	}
	return slog.New(slog.NewTextHandler(stderrLog, opts))
}

// warnPreset logs what a backend's provider preset makes risky in cfg:
// a store that purges incomplete uploads before sessions expire, or one
// without POST policy uploads.
func warnPreset(log *slog.Logger, name string, p backends.Preset, sessionTTL time.Duration) {
	if p.PurgesIncompleteAfter > 0 && sessionTTL >= p.PurgesIncompleteAfter {
		log.Warn("the store purges incomplete multipart uploads before sessions expire: uploads left open that long fail at complete; lower sessions.ttl",
			"backend", name, "provider", p.Name, "store_purges_after", p.PurgesIncompleteAfter.String(), "sessions_ttl", sessionTTL.String())
	}
	if !p.PostPolicy() {
		log.Info("the store takes no POST policy uploads: GET /s3/params answers a presigned PUT (it needs size=) instead of a form",
			"backend", name, "provider", p.Name)
	}
}

// probeStore finds out by trying which checksums a store without a
// provider preset (generic) verifies and whether it honours conditional
// completes (backends.S3.Probe), so that checksums work on any store that
// checks them. A store that is down, or refuses the probe, is taken to
// verify nothing; the log says so.
func probeStore(log *slog.Logger, name string, s3 *backends.S3) {
	if s3.Preset().Name != backends.ProviderGeneric {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	p, err := s3.Probe(ctx)
	// Every ability in p was shown before any error: keep what was shown.
	s3.SetProbed(p)
	if err != nil {
		log.Warn("store probe incomplete: only what it showed is assumed (set backends."+name+".provider to use a preset)",
			"backend", name, "err", err, "part_checksums", checksum.List(p.PartChecksums))
		return
	}
	log.Info("store probed", "backend", name, "part_checksums", checksum.List(p.PartChecksums),
		"full_object_checksums", checksum.List(p.FullObjectChecksums), "conditional_writes", p.ConditionalWrites,
		"took_ms", time.Since(start).Milliseconds())
}
