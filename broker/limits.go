package broker

// Per-subject policies of a create: the profile's subjects and min_size,
// and the cap on open sessions (Config.MaxOpenSessions), which is counted
// by the session store when it is a session.OpenLimiter (RedisStore is)
// so that every replica shares it. A session takes a slot when it is
// created and gives it back when it completes or is aborted; a session
// that expires gives its slot back at its expiry (a POST policy session of
// the Uppy routes, which no one completes, at its policy's expiry).

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// msgTooManyOpen is the message of the rate_limited error of the cap.
const msgTooManyOpen = "too many open uploads: complete or abort some first"

// admit checks the subject and, when the size is known, the minimum size
// of a create against its profile.
func admit(p *Profile, subject string, size *int64) error {
	if err := checkSubject(p, subject); err != nil {
		return err
	}
	if size != nil && *size < p.MinSize {
		return Errorf(CodeInvalidRequest, "size: %d bytes is under the profile's minimum of %d", *size, p.MinSize)
	}
	return nil
}

// openLimiter returns the store's OpenLimiter when the cap is on.
func (s *Service) openLimiter() session.OpenLimiter {
	if s.maxOpen <= 0 {
		return nil
	}
	ol, _ := session.AsOpenLimiter(s.sessions)
	return ol
}

// reserveOpen takes one of the subject's open-session slots for sess until
// until, rate_limited when none is left, then reserves its bytes in the
// subject's quotas (quota.go), quota_exceeded when they are spent.
func (s *Service) reserveOpen(ctx context.Context, sess *session.Session, until time.Time) error {
	if ol := s.openLimiter(); ol != nil {
		ok, err := ol.ReserveOpen(ctx, sess.Subject, sess.ID, until, s.maxOpen)
		if err != nil {
			return s.sessionError(err, "reserve open session")
		}
		if !ok {
			return Errorf(CodeRateLimited, "%s", msgTooManyOpen)
		}
	}
	if err := s.reserveQuota(ctx, sess, until); err != nil {
		s.releaseOpen(ctx, sess)
		return err
	}
	return nil
}

// releaseOpen gives back what sess holds while open: its slot and its
// quota reservation, which is settled (quota.go: a completed session's
// size counts into the rolling day). Failures are logged: the slot then
// frees itself at the session's expiry.
func (s *Service) releaseOpen(ctx context.Context, sess *session.Session) {
	s.settleQuota(ctx, sess)
	ol := s.openLimiter()
	if ol == nil || sess == nil {
		return
	}
	if err := ol.ReleaseOpen(context.WithoutCancel(ctx), sess.Subject, sess.ID); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("release open session slot", "id", sess.ID, "err", err)
	}
}

// releaseUnless releases sess's slot unless *created: deferred by the
// creates, so a failed create gives its slot back.
func (s *Service) releaseUnless(ctx context.Context, created *bool, sess *session.Session) {
	if !*created {
		s.releaseOpen(ctx, sess)
	}
}
