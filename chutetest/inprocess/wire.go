package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/broker/verifyhttp"
	"github.com/chute-dev/chute/broker/webhook"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/events"
	"github.com/chute-dev/chute/internal/wiring"
	"github.com/chute-dev/chute/metrics"
	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/web"
)

// running is a wired Chute in this process: its HTTP server and the
// background jobs `chute serve` runs beside it.
type running struct {
	cfg    *config.Config
	log    *slog.Logger
	srv    *httpapi.Server
	rc     redis.UniversalClient
	jobs   []job // signing cache, janitor, webhook delivery
	cancel context.CancelFunc
	done   []chan struct{} // closed when jobs[i] has returned
	served chan error
}

// wire builds the broker for cfg as cmd/chute's wire does, from the same
// packages, minus what this package doesn't serve (see the package
// documentation), which is an error here rather than silently left out.
func wire(cfg *config.Config, log *slog.Logger) (_ *running, err error) {
	if err := unsupported(cfg); err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(cfg.Sessions.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("sessions.redis_url: %w", err)
	}
	rc := redis.NewClient(ropts)
	defer func() {
		if err != nil {
			_ = rc.Close()
		}
	}()
	mx := metrics.New()

	stores := map[string]broker.ObjectStore{}
	caps := map[string]broker.Capabilities{}
	for name, b := range cfg.Backends {
		bc := wiring.Backend(name, b)
		bc.CompleteTimeout = time.Duration(cfg.Limits.CompleteTimeout)
		s3, err := backends.NewS3(bc)
		if err != nil {
			return nil, fmt.Errorf("backends.%s: %w", name, err)
		}
		stores[name] = mx.Store(name, s3)
		caps[name] = mx.Capabilities(name, broker.ResolveCapabilities(s3))
	}
	profiles := map[string]broker.Profile{}
	var verifier broker.Verifier
	for name, p := range cfg.Profiles {
		profiles[name] = wiring.Profile(name, p)
		if p.Verify.URL != "" && verifier == nil {
			verifier = verifyhttp.New(nil)
		}
	}
	var authz broker.Authorizer
	if a := cfg.Auth.Authorizer; a.URL != "" {
		w, err := webhook.New(webhook.Config{URL: a.URL, Timeout: time.Duration(a.Timeout), Secret: a.Secret})
		if err != nil {
			return nil, fmt.Errorf("auth.authorizer: %w", err)
		}
		authz = w
	}
	var outbox broker.EventSink
	var deliverer *events.Deliverer
	if len(cfg.Webhooks) > 0 {
		hooks := make([]events.Webhook, 0, len(cfg.Webhooks))
		for _, w := range cfg.Webhooks {
			hooks = append(hooks, events.Webhook{URL: w.URL, Secret: w.Secret, Events: w.Events})
		}
		wd := cfg.WebhookDelivery
		outbox = events.NewOutbox(rc, cfg.Sessions.KeyPrefix, hooks, int64(wd.StreamMaxLen))
		deliverer = events.NewDeliverer(rc, cfg.Sessions.KeyPrefix, hooks, events.DeliveryConfig{
			Timeout: time.Duration(wd.Timeout), MaxAttempts: wd.MaxAttempts, MaxAge: time.Duration(wd.MaxAge),
			Backoff: time.Duration(wd.Backoff), MaxBackoff: time.Duration(wd.MaxBackoff),
		}, log, mx.Webhooks())
	}
	rs := sessions.NewRedisStore(rc, sessions.WithKeyPrefix(cfg.Sessions.KeyPrefix),
		sessions.WithRetention(time.Duration(cfg.Sessions.Retention)))
	mx.SessionIndex(func(ctx context.Context) (int64, int64, error) { return rs.IndexCounts(ctx, time.Now()) })
	svc, err := broker.New(broker.Config{
		Profiles:          profiles,
		Backends:          stores,
		Capabilities:      caps,
		Sessions:          mx.Sessions(rs),
		TTL:               time.Duration(cfg.Sessions.TTL),
		Logger:            log,
		MaxOpenSessions:   cfg.Limits.MaxOpenSessions,
		CompleteTimeout:   time.Duration(cfg.Limits.CompleteTimeout),
		Authorizer:        authz,
		AuthorizerHeaders: cfg.Auth.Authorizer.Headers,
		Events:            outbox,
		Verifier:          verifier,
		SignCache:         broker.SignCacheConfig{Bus: sessions.NewEndBus(rc, cfg.Sessions.KeyPrefix), ReadTimeout: time.Duration(cfg.Server.RequestTimeout)},
	})
	if err != nil {
		return nil, err
	}
	authn, err := wiring.Authenticator(cfg)
	if err != nil {
		return nil, err
	}
	srv := httpapi.New(svc, authn, httpapi.Options{
		BodyLimit:      int(cfg.Server.BodyLimit),
		RequestTimeout: time.Duration(cfg.Server.RequestTimeout),
		ReadTimeout:    time.Duration(cfg.Server.ReadTimeout),
		WriteTimeout:   time.Duration(cfg.Server.WriteTimeout),
		CORSOrigins:    cfg.Server.CORSOrigins,
		Logger:         log,
		Static:         web.FS(),
		Middleware:     []fiber.Handler{mx.Middleware()},
		Metrics:        mx.Handler(),
		RateLimiter:    wiring.RateLimiter(cfg, rc),
		SignLimiter:    wiring.SignLimiter(cfg),
	})
	r := &running{cfg: cfg, log: log, srv: srv, rc: rc}
	r.jobs = append(r.jobs, job{"signing cache", svc.RunSignCache})
	if cfg.Janitor.Enabled {
		jc := broker.JanitorConfig{
			Interval: time.Duration(cfg.Janitor.Interval), Batch: cfg.Janitor.Batch, Observe: mx.JanitorOutcome,
			PromoteInterval: time.Duration(cfg.Janitor.PromoteInterval),
		}
		r.jobs = append(r.jobs, job{"janitor", func(ctx context.Context) error { return svc.RunJanitor(ctx, jc) }})
	}
	if deliverer != nil {
		r.jobs = append(r.jobs, job{"webhook delivery", deliverer.Run})
	}
	return r, nil
}

// job is a background job that runs until its context ends.
type job struct {
	name string
	run  func(ctx context.Context) error
}

// stopWait bounds the wait for the server and for each background job to
// stop once told to, so that Terminate reports a hang instead of hanging.
const stopWait = 10 * time.Second

// unsupported names the first setting of cfg this package doesn't serve.
func unsupported(cfg *config.Config) error {
	if cfg.Sessions.RedisMode() != config.RedisModeSingle {
		return errors.New("sessions: only sessions.redis_url (set by this package) is served in process")
	}
	if cfg.Tracing.Enabled {
		return errors.New("tracing.enabled: not served in process; use chutetest.Run")
	}
	if cfg.Quotas.On() {
		return errors.New("quotas: not served in process; use chutetest.Run")
	}
	for name, p := range cfg.Profiles {
		if p.Quotas.On() {
			return fmt.Errorf("profiles.%s.quotas: not served in process; use chutetest.Run", name)
		}
	}
	return nil
}

// start listens on cfg.Server.Listen and serves, with the background jobs
// running; it returns the address listened on.
func (r *running) start() (string, error) {
	ln, err := net.Listen("tcp", r.cfg.Server.Listen)
	if err != nil {
		_ = r.rc.Close()
		return "", fmt.Errorf("server.listen %s: %w", r.cfg.Server.Listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make([]chan struct{}, len(r.jobs))
	for i, j := range r.jobs {
		r.done[i] = make(chan struct{})
		go func() {
			defer close(r.done[i])
			if err := j.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				r.log.Error("background job stopped", "job", j.name, "err", err)
			}
		}()
	}
	r.served = make(chan error, 1)
	go func() { r.served <- r.srv.App().Listener(ln) }()
	addr := ln.Addr().String()
	// Until the server runs, a shutdown finds no server to stop, which then
	// serves on for ever; and the container mode returns once /readyz
	// answers too.
	if err := waitReady(addr); err != nil {
		return "", errors.Join(err, r.stop(context.Background()))
	}
	return addr, nil
}

// waitReady polls GET /readyz on addr until it answers 200 (at most
// stopWait).
func waitReady(addr string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(stopWait)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return fmt.Errorf("/readyz did not answer 200 within %v: %w", stopWait, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop shuts the server down (requests in flight get until ctx ends, at
// most the configured grace), then the background jobs, then the Redis
// client. Anything that doesn't stop within stopWait of being told is an
// error naming it.
func (r *running) stop(ctx context.Context) error {
	grace := time.Duration(r.cfg.Server.ShutdownGrace)
	if d, ok := ctx.Deadline(); ok && time.Until(d) < grace {
		grace = max(time.Until(d), 0)
	}
	errs := []error{r.srv.App().ShutdownWithTimeout(grace)}
	select {
	case <-r.served:
	case <-time.After(stopWait):
		errs = append(errs, fmt.Errorf("the API server did not stop within %v", stopWait))
	}
	r.cancel()
	deadline := time.Now().Add(stopWait)
	for i, done := range r.done {
		select {
		case <-done:
		case <-time.After(time.Until(deadline)):
			errs = append(errs, fmt.Errorf("background job %q did not stop within %v", r.jobs[i].name, stopWait))
		}
	}
	errs = append(errs, r.rc.Close())
	return errors.Join(errs...)
}
