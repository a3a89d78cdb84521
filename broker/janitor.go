package broker

// The janitor ends sessions that are past their expiry: it aborts what
// they left in the object store, writes the state expired, gives back the
// open-session slot and announces upload.expired. It needs a session store
// that is a session.Expirer (RedisStore is). Every replica may run one:
// a session is claimed in Redis before it is handled, and handled under
// its session lock, so each is handled by one janitor at a time and its
// upload is aborted once. See docs/lifecycle.md for the guarantees.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// Janitor defaults.
const (
	DefaultJanitorInterval = time.Minute
	DefaultJanitorBatch    = 100
)

// Outcomes of one session's visit, as JanitorConfig.Observe is told.
const (
	JanitorExpired = "expired" // the session was expired and its upload aborted
	JanitorFailed  = "failed"  // a store or Redis failure: retried on a later tick
)

// JanitorConfig tunes RunJanitor.
type JanitorConfig struct {
	// Interval between ticks (default DefaultJanitorInterval).
	Interval time.Duration
	// Batch is the most sessions one tick takes (default DefaultJanitorBatch).
	Batch int
	// Claim is how long a janitor's claim on a session keeps other
	// janitors away from it (default: half the interval, at least a
	// second). A session whose visit failed is retried once it runs out.
	Claim time.Duration
	// Observe, when set, is told the outcome of each visit that expired a
	// session or failed (for metrics).
	Observe func(outcome string)
	// PromoteInterval is the period of the promoter of staged Uppy single
	// uploads (promoter.go), run beside the janitor (default
	// DefaultPromoteInterval; negative: off).
	PromoteInterval time.Duration
	// EventGrace is how old a session's pending event mark must be before
	// a tick publishes its event again (default DefaultEventGrace; see
	// reconcile.go).
	EventGrace time.Duration
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultJanitorInterval
	}
	if c.Batch <= 0 {
		c.Batch = DefaultJanitorBatch
	}
	if c.Claim <= 0 {
		c.Claim = max(c.Interval/2, time.Second)
	}
	if c.EventGrace <= 0 {
		c.EventGrace = DefaultEventGrace
	}
	if c.PromoteInterval == 0 {
		c.PromoteInterval = DefaultPromoteInterval
	}
	return c
}

// JanitorTick counts what one tick did.
type JanitorTick struct {
	Due       int // ids taken from the expiry index
	Expired   int // sessions expired now
	Forgotten int // index entries dropped: session gone or already ended
	Busy      int // claimed by another janitor, or locked by a complete
	Failed    int // left for a later tick
}

// errNoExpirer is returned when the session store keeps no expiry index.
var errNoExpirer = errors.New("broker: the session store keeps no expiry index (not a session.Expirer)")

// CanExpire reports whether the session store supports the janitor.
func (s *Service) CanExpire() bool {
	_, ok := session.AsExpirer(s.sessions)
	return ok
}

// RunJanitor runs a tick now and then every cfg.Interval until ctx is
// done; it returns ctx's error, or at once if the session store is not a
// session.Expirer.
func (s *Service) RunJanitor(ctx context.Context, cfg JanitorConfig) error {
	if !s.CanExpire() {
		return errNoExpirer
	}
	cfg = cfg.withDefaults()
	if cfg.PromoteInterval > 0 {
		done := make(chan struct{})
		pctx, cancel := context.WithCancel(ctx)
		go func() {
			defer close(done)
			s.runPromoter(pctx, cfg.PromoteInterval)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		if res, err := s.ExpireDue(ctx, cfg); err != nil && ctx.Err() == nil {
			s.log.Warn("janitor tick", "err", err)
		} else if res.Expired+res.Failed > 0 {
			s.log.Info("janitor tick", "due", res.Due, "expired", res.Expired, "forgotten", res.Forgotten,
				"busy", res.Busy, "failed", res.Failed)
		}
		if _, err := s.ReconcileEvents(ctx, cfg.EventGrace, cfg.Claim); err != nil && ctx.Err() == nil {
			s.log.Warn("janitor: reconcile events", "err", err) // reconcile.go
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ExpireDue is one tick of the janitor: it visits at most cfg.Batch
// sessions due for expiry. The error is that of reading the index; the
// failures of single sessions are counted in the result and logged.
func (s *Service) ExpireDue(ctx context.Context, cfg JanitorConfig) (JanitorTick, error) {
	var res JanitorTick
	exp, ok := session.AsExpirer(s.sessions)
	if !ok {
		return res, errNoExpirer
	}
	cfg = cfg.withDefaults()
	ids, err := exp.DueForExpiry(ctx, s.now(), cfg.Batch)
	if err != nil {
		return res, fmt.Errorf("janitor: read expiry index: %w", err)
	}
	res.Due = len(ids)
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		out, err := s.expireOne(ctx, exp, id, cfg.Claim)
		switch out {
		case visitExpired:
			res.Expired++
		case visitForgotten:
			res.Forgotten++
		case visitBusy:
			res.Busy++
		case visitFailed:
			res.Failed++
			s.log.Warn("janitor: session left for a later tick", "id", id, "err", err)
		}
		if cfg.Observe != nil && (out == visitExpired || out == visitFailed) {
			cfg.Observe(map[visit]string{visitExpired: JanitorExpired, visitFailed: JanitorFailed}[out])
		}
	}
	return res, nil
}

type visit int

const (
	visitExpired visit = iota
	visitForgotten
	visitBusy
	visitFailed
)

// expireOne handles one due id: claim it, take the session lock (so that
// no complete runs meanwhile), re-read it, and end it if it is still open
// or stuck in completing past its expiry.
func (s *Service) expireOne(ctx context.Context, exp session.Expirer, id string, claim time.Duration) (visit, error) {
	ok, err := exp.ClaimExpiry(ctx, id, claim)
	if err != nil {
		return visitFailed, err
	}
	if !ok {
		return visitBusy, nil
	}
	// The store work finishes even when the janitor is stopped meanwhile.
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.complete)
	defer cancel()
	token, ok, err := s.sessions.TryLock(work, id, s.lockTTL()) // renewed while held: lease.go
	if err != nil {
		return visitFailed, err
	}
	if !ok {
		return visitBusy, nil // a complete (or another janitor) holds it
	}
	defer func() {
		if err := s.sessions.Unlock(work, id, token); err != nil {
			s.log.Warn("janitor: unlock session", "id", id, "err", err)
		}
	}()
	defer s.keepLock(work, id, token)()

	sess, err := s.sessions.Get(work, id)
	if errors.Is(err, session.ErrNotFound) {
		return s.forget(work, exp, id)
	}
	if err != nil {
		return visitFailed, err
	}
	if sess.State != session.StatePending && sess.State != session.StateUploading && sess.State != session.StateCompleting {
		return s.forget(work, exp, id) // ended already: a stale entry
	}
	if s.now().Before(sess.ExpiresAt) {
		// Its expiry moved and the index missed it: score it again.
		if err := exp.ScheduleExpiry(work, id, sess.ExpiresAt); err != nil {
			return visitFailed, err
		}
		return visitForgotten, nil
	}

	if err := s.discardUpload(work, sess); err != nil {
		return visitFailed, err // the claim runs out; a later tick retries
	}
	done, err := s.sessions.Transition(work, id, session.Change{
		From:  []session.State{session.StatePending, session.StateUploading, session.StateCompleting},
		To:    session.StateExpired,
		Token: token,
		Event: s.eventMark(EventExpired),
	})
	if errors.Is(err, session.ErrConflict) || errors.Is(err, session.ErrNotFound) {
		return s.forget(work, exp, id) // aborted by its client meanwhile
	}
	if err != nil {
		return visitFailed, err
	}
	s.releaseOpen(work, done)
	s.emit(work, EventExpired, done)
	if _, err := s.forget(work, exp, id); err != nil {
		s.log.Warn("janitor: drop from expiry index", "id", id, "err", err)
	}
	s.log.Info("janitor: session expired", "id", id, "backend", done.Backend, "strategy", string(done.Strategy),
		"was", string(sess.State), "parts", len(sess.Parts))
	return visitExpired, nil
}

func (s *Service) forget(ctx context.Context, exp session.Expirer, id string) (visit, error) {
	if err := exp.ForgetExpiry(ctx, id); err != nil {
		return visitFailed, err
	}
	return visitForgotten, nil
}

// discardUpload removes what an expired session left in its store: its
// multipart upload (every native upload has one, a single upload too),
// or the staged object of an Uppy single upload. An upload the store no
// longer has is fine. It never deletes the object at a session's key, so
// never one another session may own.
func (s *Service) discardUpload(ctx context.Context, sess *session.Session) error {
	store, ok := s.backends[sess.Backend]
	if !ok {
		return fmt.Errorf("janitor: session %s uses unknown backend %q", sess.ID, sess.Backend)
	}
	var err error
	switch {
	case sess.UploadID != "":
		err = store.AbortMultipart(ctx, sess.Key, sess.UploadID)
	case sess.Strategy == session.StrategySingle:
		err = store.Remove(ctx, StagingKey(sess.Key, sess.ID))
	}
	if err == nil || errors.Is(err, ErrNotFound) {
		err = s.discardUnverified(ctx, store, sess) // verify.go
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("janitor: discard upload of %s in backend %s: %w", sess.ID, sess.Backend, err)
	}
	return nil
}
