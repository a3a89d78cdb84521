package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// sessionOp is a session store operation: an index of sessionOps.
type sessionOp int

const (
	sopCreate sessionOp = iota
	sopGet
	sopPutPart
	sopTransition
	sopTryLock
	sopUnlock
	sopPing
	sopSetPlan
	sopReserveOpen
	sopReleaseOpen
	sopGetSession
	numSessionOps
)

// The op label values of the session store metrics, by sessionOp. The
// error series of those before get_session exist from the start (New).
var sessionOps = [numSessionOps]string{"create", "get", "put_part", "transition", "try_lock", "unlock", "ping",
	"set_plan", "reserve_open", "release_open", "get_session"}

// Sessions returns s instrumented: every call is timed in
// chute_redis_request_duration_seconds, and failures of Redis itself
// (sessions.ErrUnavailable, a deadline exceeded) are counted in
// chute_redis_errors_total. Answers such as not found or wrong state are
// not errors of Redis and are not counted.
//
// The session counters come from the changes that succeed, each of which
// is atomic in the store: a Create counts in chute_sessions_created_total
// and as a transition to pending; a Transition counts as a transition to
// its target state, and to completed also in
// chute_sessions_completed_total and chute_bytes_completed_total, to
// aborted in chute_sessions_aborted_total. A store only moves a session
// from completing to completed once, so each upload is counted once. The
// implicit move from pending to uploading on a first part report is not a
// transition here; part reports count in chute_parts_reported_total.
//
// The result states s's optional abilities (sessions.AbilityProvider),
// resolved here once: OpenLimiter and PlanSetter timed like the calls
// above, the others passed through as they are.
func (m *Metrics) Sessions(s sessions.Store) sessions.Store {
	is := &instrumentedSessions{m: m, next: s}
	a := sessions.AbilitiesOf(s)
	if a.OpenLimiter != nil {
		a.OpenLimiter = timedOpenLimiter{is, a.OpenLimiter}
	}
	if a.PlanSetter != nil {
		a.PlanSetter = timedPlanSetter{is, a.PlanSetter}
	}
	is.abilities = a
	return is
}

type instrumentedSessions struct {
	m         *Metrics
	next      sessions.Store
	abilities sessions.Abilities
	// duration holds each operation's duration series from its first
	// call on.
	duration [numSessionOps]observerOnce
}

// Abilities implements sessions.AbilityProvider.
func (s *instrumentedSessions) Abilities() sessions.Abilities { return s.abilities }

// observe records one call of op that started at start (a monotonic
// reading) and ended with err.
func (s *instrumentedSessions) observe(op sessionOp, start time.Duration, err error) {
	s.duration[op].get(s.m.redisDuration, sessionOps[op]).Observe((monotonic() - start).Seconds())
	if err != nil && (errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
		s.m.redisErrors.WithLabelValues(sessionOps[op]).Inc()
	}
}

func (s *instrumentedSessions) Create(ctx context.Context, sess *sessions.Session) error {
	start := monotonic()
	err := s.next.Create(ctx, sess)
	s.observe(sopCreate, start, err)
	if err == nil {
		s.m.created.WithLabelValues(string(sess.Strategy)).Inc()
		s.m.transitions.WithLabelValues(string(sessions.StatePending)).Inc()
	}
	return err
}

func (s *instrumentedSessions) Get(ctx context.Context, id string) (*sessions.Session, error) {
	start := monotonic()
	sess, err := s.next.Get(ctx, id)
	s.observe(sopGet, start, err)
	return sess, err
}

// GetSession reads the session without its parts when the store can
// (sessions.RedisStore.GetSession), and falls back to Get otherwise, so the
// broker's cheaper read is not lost behind this decorator.
func (s *instrumentedSessions) GetSession(ctx context.Context, id string) (*sessions.Session, error) {
	start := monotonic()
	var sess *sessions.Session
	var err error
	if r, ok := s.next.(interface {
		GetSession(context.Context, string) (*sessions.Session, error)
	}); ok {
		sess, err = r.GetSession(ctx, id)
	} else {
		sess, err = s.next.Get(ctx, id)
	}
	s.observe(sopGetSession, start, err)
	return sess, err
}

func (s *instrumentedSessions) PutPart(ctx context.Context, id string, p multipart.Part) (*sessions.Session, error) {
	start := monotonic()
	sess, err := s.next.PutPart(ctx, id, p)
	s.observe(sopPutPart, start, err)
	if err == nil {
		s.m.partsReport.Inc()
	}
	return sess, err
}

func (s *instrumentedSessions) Transition(ctx context.Context, id string, c sessions.Change) (*sessions.Session, error) {
	start := monotonic()
	sess, err := s.next.Transition(ctx, id, c)
	s.observe(sopTransition, start, err)
	if err == nil {
		s.m.transitions.WithLabelValues(string(c.To)).Inc()
		switch c.To {
		case sessions.StateCompleted:
			if sess != nil {
				s.m.completed.WithLabelValues(string(sess.Strategy)).Inc()
				if sess.Size > 0 { // an open-ended session's size is 0 until complete learns it
					s.m.bytesDone.Add(float64(sess.Size))
				}
			}
		case sessions.StateAborted:
			s.m.aborted.Inc()
		}
	}
	return sess, err
}

func (s *instrumentedSessions) TryLock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	start := monotonic()
	token, ok, err := s.next.TryLock(ctx, id, ttl)
	s.observe(sopTryLock, start, err)
	return token, ok, err
}

func (s *instrumentedSessions) Unlock(ctx context.Context, id, token string) error {
	start := monotonic()
	err := s.next.Unlock(ctx, id, token)
	s.observe(sopUnlock, start, err)
	return err
}

func (s *instrumentedSessions) Ping(ctx context.Context) error {
	start := monotonic()
	err := s.next.Ping(ctx)
	s.observe(sopPing, start, err)
	return err
}

// timedPlanSetter times the store's SetPlan.
type timedPlanSetter struct {
	s    *instrumentedSessions
	next sessions.PlanSetter
}

// SetPlan calls the store's SetPlan.
func (p timedPlanSetter) SetPlan(ctx context.Context, id string, size, partSize int64, partCount int) (*sessions.Session, error) {
	start := monotonic()
	sess, err := p.next.SetPlan(ctx, id, size, partSize, partCount)
	p.s.observe(sopSetPlan, start, err)
	return sess, err
}

// timedOpenLimiter times the store's sessions.OpenLimiter calls.
type timedOpenLimiter struct {
	s    *instrumentedSessions
	next sessions.OpenLimiter
}

// ReserveOpen calls the store's ReserveOpen.
func (o timedOpenLimiter) ReserveOpen(ctx context.Context, subject, id string, expiresAt time.Time, max int) (bool, error) {
	start := monotonic()
	ok, err := o.next.ReserveOpen(ctx, subject, id, expiresAt, max)
	o.s.observe(sopReserveOpen, start, err)
	return ok, err
}

// ReleaseOpen calls the store's ReleaseOpen.
func (o timedOpenLimiter) ReleaseOpen(ctx context.Context, subject, id string) error {
	start := monotonic()
	err := o.next.ReleaseOpen(ctx, subject, id)
	o.s.observe(sopReleaseOpen, start, err)
	return err
}
