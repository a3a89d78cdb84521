package broker

// Events are never lost: a transition that ends a session records, in the
// same Redis script, that its event is pending (session.Change.Event);
// emit clears the mark once the EventSink took the event. A process that
// dies between the two leaves the mark behind, and the reconciler, run on
// every janitor tick in every replica, publishes the event again for each
// mark older than a grace period. Delivery is therefore at least once: a
// receiver deduplicates on the event id (<upload id>:<type>).

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// DefaultEventGrace is how old a pending event mark must be before the
// reconciler publishes its event again: long enough for the process that
// wrote it to publish it itself.
const DefaultEventGrace = 10 * time.Second

// eventMark is the Change.Event of a transition ending a session with an
// event of type typ: typ when events are published, else none.
func (s *Service) eventMark(typ string) string {
	if s.events == nil {
		return ""
	}
	return typ
}

// eventPublished clears sess's pending mark of typ, if it has one.
func (s *Service) eventPublished(ctx context.Context, typ string, sess *session.Session) {
	if sess.EventPending != typ {
		return
	}
	em, ok := session.AsEventMarker(s.sessions)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := em.EventDone(cctx, sess.ID, typ); err != nil {
		// The mark stays: the reconciler publishes the event once more.
		s.log.Warn("clear pending event mark", "type", typ, "id", sess.ID, "err", err)
	}
}

// ReconcileEvents is one reconciliation pass: unless another process holds
// the pass claim (taken for claim), it publishes again the event of every
// session whose pending mark is at least grace old, with the side effects
// of a session's end that died with it (open-session slot, signing
// cache), and clears the mark. It returns how many events it published.
// A store without session.EventMarker has nothing to reconcile.
func (s *Service) ReconcileEvents(ctx context.Context, grace, claim time.Duration) (int, error) {
	em, ok := session.AsEventMarker(s.sessions)
	if !ok {
		return 0, nil
	}
	if ok, err := em.ClaimEventPass(ctx, max(claim, time.Millisecond)); err != nil || !ok {
		return 0, err
	}
	type mark struct{ id, typ string }
	var due []mark
	err := em.PendingEvents(ctx, func(id, typ string, changed time.Time) {
		if time.Since(changed) >= grace {
			due = append(due, mark{id, typ})
		}
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range due {
		if ctx.Err() != nil {
			break
		}
		sess, err := s.sessions.Get(ctx, m.id)
		if errors.Is(err, session.ErrNotFound) {
			continue
		}
		if err != nil {
			s.log.Warn("reconcile event: read session", "id", m.id, "err", err)
			continue
		}
		if sess.EventPending != m.typ {
			continue // published meanwhile
		}
		s.releaseOpen(ctx, sess)
		s.sessionEnded(ctx, sess)
		if s.events != nil {
			ev := NewEvent(m.typ, sess, s.bucketOf(sess.Backend), s.now())
			if err := s.events.Publish(context.WithoutCancel(ctx), ev); err != nil {
				s.log.Error("reconcile event: publish", "type", m.typ, "id", m.id, "err", err)
				continue
			}
			n++
			s.log.Info("published an event its process did not", "type", m.typ, "id", m.id)
		}
		s.eventPublished(ctx, m.typ, sess)
	}
	return n, nil
}
