package tracing

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/multipart"
)

// Sessions returns s traced: every call is a client span "session.<op>"
// (create, get, put_part, transition, try_lock, ...) with the upload id,
// and where the call returns a session its profile, strategy and state.
// Only failures of the store itself (session.ErrUnavailable, a deadline)
// mark a span failed; an answer about a session (not found, wrong state)
// is recorded as chute.outcome. A Create also names the new upload on the
// span around it (the request's server span), which learns its id only
// then. Off, s itself is returned.
//
// The result states s's optional abilities (session.AbilityProvider),
// resolved here once: OpenLimiter and PlanSetter traced like the calls
// above, the others passed through untraced.
func (t *Tracer) Sessions(s session.Store) session.Store {
	if !t.Enabled() {
		return s
	}
	ts := &tracedSessions{t: t, next: s}
	a := session.AbilitiesOf(s)
	if a.OpenLimiter != nil {
		a.OpenLimiter = tracedOpenLimiter{ts, a.OpenLimiter}
	}
	if a.PlanSetter != nil {
		a.PlanSetter = tracedPlanSetter{ts, a.PlanSetter}
	}
	ts.abilities = a
	return ts
}

type tracedSessions struct {
	t         *Tracer
	next      session.Store
	abilities session.Abilities
}

// Abilities implements session.AbilityProvider.
func (s *tracedSessions) Abilities() session.Abilities { return s.abilities }

var dbRedis = attribute.String("db.system.name", "redis")

func (s *tracedSessions) span(ctx context.Context, op, id string) (context.Context, trace.Span) {
	return s.t.start(ctx, "session."+op, trace.SpanKindClient, dbRedis,
		attribute.String("db.operation.name", op), AttrUploadID.String(id))
}

// sessionErrorKind names a session store error for a span: failed is
// true for failures of the store itself.
func sessionErrorKind(err error) (kind string, failed bool) {
	var se *session.StateError
	switch {
	case err == nil:
		return "ok", false
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded", true
	case errors.Is(err, session.ErrUnavailable):
		return "unavailable", true
	case errors.Is(err, session.ErrNotFound):
		return "not_found", false
	case errors.Is(err, session.ErrExists):
		return "exists", false
	case errors.Is(err, session.ErrLockLost):
		return "lock_lost", false
	case errors.As(err, &se), errors.Is(err, session.ErrConflict):
		return "conflict", false
	}
	return "other", true
}

// endSession ends span with the outcome of err and what sess says.
func endSession(span trace.Span, sess *session.Session, err error) {
	kind, failed := sessionErrorKind(err)
	if sess != nil {
		span.SetAttributes(AttrProfile.String(sess.Profile), AttrState.String(string(sess.State)))
	}
	span.SetAttributes(AttrOutcome.String(kind))
	if !failed {
		err = nil
	}
	end(span, err, kind)
}

func (s *tracedSessions) Create(ctx context.Context, sess *session.Session) error {
	// The span around (the request's) learns the id of its upload here.
	trace.SpanFromContext(ctx).SetAttributes(AttrUploadID.String(sess.ID), AttrProfile.String(sess.Profile))
	ctx, span := s.span(ctx, "create", sess.ID)
	span.SetAttributes(AttrStrategy.String(string(sess.Strategy)), AttrBackend.String(sess.Backend))
	err := s.next.Create(ctx, sess)
	endSession(span, sess, err)
	return err
}

func (s *tracedSessions) Get(ctx context.Context, id string) (*session.Session, error) {
	ctx, span := s.span(ctx, "get", id)
	sess, err := s.next.Get(ctx, id)
	endSession(span, sess, err)
	return sess, err
}

// GetSession reads the session without its parts when the store can, and
// falls back to Get otherwise, so the broker's cheaper read is not lost
// behind this decorator.
func (s *tracedSessions) GetSession(ctx context.Context, id string) (*session.Session, error) {
	ctx, span := s.span(ctx, "get_session", id)
	var sess *session.Session
	var err error
	if r, ok := s.next.(interface {
		GetSession(context.Context, string) (*session.Session, error)
	}); ok {
		sess, err = r.GetSession(ctx, id)
	} else {
		sess, err = s.next.Get(ctx, id)
	}
	endSession(span, sess, err)
	return sess, err
}

func (s *tracedSessions) PutPart(ctx context.Context, id string, p multipart.Part) (*session.Session, error) {
	ctx, span := s.span(ctx, "put_part", id)
	span.SetAttributes(partAttr(p.Number))
	sess, err := s.next.PutPart(ctx, id, p)
	endSession(span, sess, err)
	return sess, err
}

func (s *tracedSessions) Transition(ctx context.Context, id string, c session.Change) (*session.Session, error) {
	ctx, span := s.span(ctx, "transition", id)
	span.SetAttributes(attribute.String("chute.to_state", string(c.To)))
	sess, err := s.next.Transition(ctx, id, c)
	endSession(span, sess, err)
	return sess, err
}

func (s *tracedSessions) TryLock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	ctx, span := s.span(ctx, "try_lock", id)
	token, ok, err := s.next.TryLock(ctx, id, ttl)
	span.SetAttributes(attribute.Bool("chute.locked", ok))
	endSession(span, nil, err)
	return token, ok, err
}

func (s *tracedSessions) Unlock(ctx context.Context, id, token string) error {
	ctx, span := s.span(ctx, "unlock", id)
	err := s.next.Unlock(ctx, id, token)
	endSession(span, nil, err)
	return err
}

func (s *tracedSessions) Ping(ctx context.Context) error {
	ctx, span := s.t.start(ctx, "session.ping", trace.SpanKindClient, dbRedis)
	err := s.next.Ping(ctx)
	endSession(span, nil, err)
	return err
}

// tracedPlanSetter traces the store's SetPlan.
type tracedPlanSetter struct {
	s    *tracedSessions
	next session.PlanSetter
}

// SetPlan calls the store's SetPlan.
func (p tracedPlanSetter) SetPlan(ctx context.Context, id string, size, partSize int64, partCount int) (*session.Session, error) {
	ctx, span := p.s.span(ctx, "set_plan", id)
	sess, err := p.next.SetPlan(ctx, id, size, partSize, partCount)
	endSession(span, sess, err)
	return sess, err
}

// tracedOpenLimiter traces the store's session.OpenLimiter calls.
type tracedOpenLimiter struct {
	s    *tracedSessions
	next session.OpenLimiter
}

// ReserveOpen calls the store's ReserveOpen.
func (o tracedOpenLimiter) ReserveOpen(ctx context.Context, subject, id string, expiresAt time.Time, max int) (bool, error) {
	ctx, span := o.s.span(ctx, "reserve_open", id)
	ok, err := o.next.ReserveOpen(ctx, subject, id, expiresAt, max)
	span.SetAttributes(attribute.Bool("chute.reserved", ok))
	endSession(span, nil, err)
	return ok, err
}

// ReleaseOpen calls the store's ReleaseOpen.
func (o tracedOpenLimiter) ReleaseOpen(ctx context.Context, subject, id string) error {
	ctx, span := o.s.span(ctx, "release_open", id)
	err := o.next.ReleaseOpen(ctx, subject, id)
	endSession(span, nil, err)
	return err
}
