package broker

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// The promoter finishes the staged single uploads of the Uppy routes
// (staging.go): Uppy never calls complete after a form upload, so every
// few seconds it looks for the staged object of each open form session
// and, when there is one, completes the session as a complete call would
// (checks, copy into place, upload.completed). Every replica may run it:
// the session lock makes each completion happen once. It keeps an ended
// session in its index until the session's form expires, then removes
// whatever a late post left at the staging key.

// DefaultPromoteInterval is the promoter's default period.
const DefaultPromoteInterval = 2 * time.Second

// promoteBatch is the most staged sessions one pass looks at.
const promoteBatch = 200

// PromoteTick counts what one pass did.
type PromoteTick struct {
	Seen      int // index entries read
	Promoted  int // sessions completed now
	Waiting   int // no staged object yet, or ended with its form still usable
	Forgotten int // entries dropped: session ended, gone, or its form expired
	Failed    int // left for a later pass
}

// PromoteStaged is one pass of the promoter.
func (s *Service) PromoteStaged(ctx context.Context) (PromoteTick, error) {
	var res PromoteTick
	st, ok := session.AsStager(s.sessions)
	if !ok {
		return res, nil
	}
	entries, err := st.Staged(ctx, promoteBatch)
	if err != nil {
		return res, err
	}
	res.Seen = len(entries)
	for _, e := range entries {
		if ctx.Err() != nil {
			break
		}
		switch s.promoteOne(ctx, e) {
		case promoted:
			res.Promoted++ // kept until its form expires (the sweep)
		case forget:
			res.Forgotten++
			_ = st.Unstage(ctx, e.ID)
		case waiting, ended:
			res.Waiting++
		case failed:
			res.Failed++
		}
	}
	return res, nil
}

type promoteOutcome int

const (
	waiting promoteOutcome = iota
	promoted
	forget
	failed
	ended // the session ended; its form is still usable: swept once it is not
)

func (s *Service) promoteOne(ctx context.Context, e session.StagedUpload) promoteOutcome {
	sess, err := s.sessions.Get(ctx, e.ID)
	if errors.Is(err, session.ErrNotFound) {
		return forget
	}
	if err != nil {
		return failed
	}
	store, ok := s.backends[sess.Backend]
	if !ok {
		return forget
	}
	if !open(s.state(sess)) {
		// Completed, aborted, expired or rejected. Its form can still be
		// posted until it expires, writing the staging key again (never
		// the session's key): once it cannot, the last staged object goes.
		if !s.now().After(e.Until) {
			return ended
		}
		if err := store.Remove(ctx, StagingKey(sess.Key, sess.ID)); err != nil && !errors.Is(err, ErrNotFound) {
			return failed
		}
		return forget
	}
	if _, err := store.Stat(ctx, StagingKey(sess.Key, sess.ID)); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return failed
		}
		if s.now().After(e.Until) {
			return forget // the form can no longer be used; the janitor ends the session
		}
		return waiting
	}
	prof := s.profiles[sess.Profile]
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.completeLocked(lctx, sess.ID, func(work context.Context, sess *session.Session) (ObjectInfo, error) {
		return s.finishStaged(work, sess, &prof)
	})
	switch code := ErrorCode(err); {
	case err == nil:
		s.log.Info("promoter: staged upload completed", "id", sess.ID)
		return promoted
	case code == CodeStorageUnavailable || code == CodeInternal:
		s.log.Warn("promoter: staged upload left for a later pass", "id", sess.ID, "err", err)
		return failed
	default:
		// Refused for good (too large, wrong type, key taken): the
		// complete aborted the session, or it ended meanwhile.
		s.log.Info("promoter: staged upload refused", "id", sess.ID, "code", string(code))
		return forget
	}
}

// runPromoter runs PromoteStaged every interval until ctx is done.
func (s *Service) runPromoter(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.claimPromoterPass(ctx, interval) {
			continue
		}
		if res, err := s.PromoteStaged(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("promoter pass", "err", err)
		} else if res.Promoted+res.Failed > 0 {
			s.log.Info("promoter pass", "seen", res.Seen, "promoted", res.Promoted, "waiting", res.Waiting,
				"forgotten", res.Forgotten, "failed", res.Failed)
		}
	}
}

// claimPromoterPass reports whether this process runs the promoter pass
// of the period that starts now: every replica ticks, and the one that
// takes the store's pass claim (for most of the period) runs the pass,
// so the staged index is read once per period, not once per replica. A
// claim error skips the pass; the next period tries again.
func (s *Service) claimPromoterPass(ctx context.Context, interval time.Duration) bool {
	st, ok := session.AsStager(s.sessions)
	if !ok {
		return false
	}
	ok, err := st.ClaimStagedPass(ctx, max(interval*9/10, time.Millisecond))
	if err != nil && ctx.Err() == nil {
		s.log.Warn("promoter: pass claim", "err", err)
	}
	return err == nil && ok
}
