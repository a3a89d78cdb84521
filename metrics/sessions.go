package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// The op label values of the session store metrics.
var sessionOps = []string{"create", "get", "put_part", "transition", "try_lock", "unlock", "ping", "set_plan", "reserve_open", "release_open"}

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
// If s is also a sessions.PlanSetter, so is the result; likewise for
// sessions.OpenLimiter.
func (m *Metrics) Sessions(s sessions.Store) sessions.Store {
	is := &instrumentedSessions{m: m, next: s}
	_, plan := s.(sessions.PlanSetter)
	_, open := s.(sessions.OpenLimiter)
	switch {
	case plan && open:
		return &instrumentedPlanOpenSessions{&instrumentedPlanSessions{is}, openForwarder{is}}
	case plan:
		return &instrumentedPlanSessions{is}
	case open:
		return &instrumentedOpenSessions{is, openForwarder{is}}
	}
	return is
}

type instrumentedSessions struct {
	m    *Metrics
	next sessions.Store
}

// Unwrap returns the store being instrumented.
func (s *instrumentedSessions) Unwrap() sessions.Store { return s.next }

func (s *instrumentedSessions) observe(op string, start time.Time, err error) {
	s.m.redisDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && (errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
		s.m.redisErrors.WithLabelValues(op).Inc()
	}
}

func (s *instrumentedSessions) Create(ctx context.Context, sess *sessions.Session) error {
	start := time.Now()
	err := s.next.Create(ctx, sess)
	s.observe("create", start, err)
	if err == nil {
		s.m.created.WithLabelValues(string(sess.Strategy)).Inc()
		s.m.transitions.WithLabelValues(string(sessions.StatePending)).Inc()
	}
	return err
}

func (s *instrumentedSessions) Get(ctx context.Context, id string) (*sessions.Session, error) {
	start := time.Now()
	sess, err := s.next.Get(ctx, id)
	s.observe("get", start, err)
	return sess, err
}

// GetSession reads the session without its parts when the store can
// (sessions.RedisStore.GetSession), and falls back to Get otherwise, so the
// broker's cheaper read is not lost behind this decorator.
func (s *instrumentedSessions) GetSession(ctx context.Context, id string) (*sessions.Session, error) {
	start := time.Now()
	var sess *sessions.Session
	var err error
	if r, ok := s.next.(interface {
		GetSession(context.Context, string) (*sessions.Session, error)
	}); ok {
		sess, err = r.GetSession(ctx, id)
	} else {
		sess, err = s.next.Get(ctx, id)
	}
	s.observe("get_session", start, err)
	return sess, err
}

func (s *instrumentedSessions) PutPart(ctx context.Context, id string, p multipart.Part) (*sessions.Session, error) {
	start := time.Now()
	sess, err := s.next.PutPart(ctx, id, p)
	s.observe("put_part", start, err)
	if err == nil {
		s.m.partsReport.Inc()
	}
	return sess, err
}

func (s *instrumentedSessions) Transition(ctx context.Context, id string, c sessions.Change) (*sessions.Session, error) {
	start := time.Now()
	sess, err := s.next.Transition(ctx, id, c)
	s.observe("transition", start, err)
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
	start := time.Now()
	token, ok, err := s.next.TryLock(ctx, id, ttl)
	s.observe("try_lock", start, err)
	return token, ok, err
}

func (s *instrumentedSessions) Unlock(ctx context.Context, id, token string) error {
	start := time.Now()
	err := s.next.Unlock(ctx, id, token)
	s.observe("unlock", start, err)
	return err
}

func (s *instrumentedSessions) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.next.Ping(ctx)
	s.observe("ping", start, err)
	return err
}

// instrumentedPlanSessions is an instrumentedSessions whose store is also
// a sessions.PlanSetter.
type instrumentedPlanSessions struct {
	*instrumentedSessions
}

// SetPlan calls the store's SetPlan.
func (s *instrumentedPlanSessions) SetPlan(ctx context.Context, id string, size, partSize int64, partCount int) (*sessions.Session, error) {
	start := time.Now()
	sess, err := s.next.(sessions.PlanSetter).SetPlan(ctx, id, size, partSize, partCount)
	s.observe("set_plan", start, err)
	return sess, err
}

// openForwarder forwards sessions.OpenLimiter to the store, timed.
type openForwarder struct{ s *instrumentedSessions }

// ReserveOpen calls the store's ReserveOpen.
func (f openForwarder) ReserveOpen(ctx context.Context, subject, id string, expiresAt time.Time, max int) (bool, error) {
	start := time.Now()
	ok, err := f.s.next.(sessions.OpenLimiter).ReserveOpen(ctx, subject, id, expiresAt, max)
	f.s.observe("reserve_open", start, err)
	return ok, err
}

// ReleaseOpen calls the store's ReleaseOpen.
func (f openForwarder) ReleaseOpen(ctx context.Context, subject, id string) error {
	start := time.Now()
	err := f.s.next.(sessions.OpenLimiter).ReleaseOpen(ctx, subject, id)
	f.s.observe("release_open", start, err)
	return err
}

// instrumentedOpenSessions is an instrumentedSessions whose store is also
// a sessions.OpenLimiter.
type instrumentedOpenSessions struct {
	*instrumentedSessions
	openForwarder
}

// instrumentedPlanOpenSessions is both of the above.
type instrumentedPlanOpenSessions struct {
	*instrumentedPlanSessions
	openForwarder
}
