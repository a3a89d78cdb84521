package broker

// Byte quotas per subject: the bytes a subject may hold in open uploads
// (open_bytes), and the bytes it may upload in a rolling day (daily_bytes),
// globally and per profile. The counts live behind the Quotas port
// (sessions.QuotaStore keeps them in the sessions Redis, shared by every
// replica).
//
// A create reserves its declared size in every scope that has a limit
// (the global one, and its profile's) — at once, or not at all. An upload
// of unknown size (the Uppy-compatible routes) reserves the most it may
// become: the profile's max_size (for a single form upload, at most what
// one PUT carries). The daily limit counts the bytes completed in the
// last day plus the bytes reserved by open uploads, so uploads started
// within the limit can never pass it once they complete.
//
// When a session ends its reservation is settled: a completed upload's
// real size counts into the rolling day; an aborted, expired or rejected
// one counts nothing. Reservations end by themselves quotaGrace after the
// session (or a form's policy) expires, so a lost release never holds a
// subject's quota for good.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/multipart"
)

// QuotaLimit is one scope's byte limits. Scope is "" for the subject's
// global quota, else the name of the profile whose uploads it counts. A
// limit of 0 is no limit.
type QuotaLimit struct {
	Scope string
	// OpenBytes bounds the bytes reserved by the subject's open uploads.
	OpenBytes int64
	// DailyBytes bounds the bytes completed in the rolling day plus those
	// reserved by open uploads.
	DailyBytes int64
}

// Quotas keeps each subject's byte reservations and completed bytes.
type Quotas interface {
	// Reserve holds bytes for upload id of subject until until in the
	// scope of every limit, unless that would pass one of them: then it
	// holds nothing and returns a *QuotaExceeded.
	Reserve(ctx context.Context, subject, id string, bytes int64, until time.Time, limits []QuotaLimit) error
	// Settle ends id's reservations in scopes and counts bytes as
	// completed now in those where id held one.
	Settle(ctx context.Context, subject, id string, bytes int64, scopes []string) error
	// Release ends id's reservations in scopes, counting nothing.
	Release(ctx context.Context, subject, id string, scopes []string) error
}

// Quota names, as the configuration and the error messages spell them.
const (
	QuotaOpenBytes  = "open_bytes"
	QuotaDailyBytes = "daily_bytes"
)

// QuotaExceeded is the refusal of a reservation: which quota, its limit,
// what the subject already uses against it and what the upload needs.
// It is the cause of a quota_exceeded error.
type QuotaExceeded struct {
	Scope string // "" or a profile name
	Quota string // QuotaOpenBytes or QuotaDailyBytes
	Limit int64
	Used  int64
	Need  int64
	// RetryAfter, when positive, is when the daily quota has room for the
	// upload if nothing else changes.
	RetryAfter time.Duration
}

func (e *QuotaExceeded) Error() string {
	return fmt.Sprintf("quota %s of scope %q exceeded: limit %d, used %d, need %d", e.Quota, e.Scope, e.Limit, e.Used, e.Need)
}

// quotaGrace is how long a reservation outlives the expiry it is made
// for, so that a complete that ends just after it still settles it.
const quotaGrace = 15 * time.Minute

// quotaPolicy is the Service's quota configuration.
type quotaPolicy struct {
	store  Quotas
	global QuotaLimit
	byProf map[string]QuotaLimit
}

// newQuotaPolicy checks the limits (each scope once, profiles known) and
// returns the policy; off when store is nil or no limit is set.
func newQuotaPolicy(store Quotas, limits []QuotaLimit, profiles map[string]Profile) (quotaPolicy, error) {
	p := quotaPolicy{byProf: map[string]QuotaLimit{}}
	seen := map[string]bool{}
	on := false
	for _, l := range limits {
		if seen[l.Scope] {
			return p, fmt.Errorf("broker: quota scope %q given twice", l.Scope)
		}
		seen[l.Scope] = true
		if l.OpenBytes < 0 || l.DailyBytes < 0 {
			return p, fmt.Errorf("broker: quota of scope %q is negative", l.Scope)
		}
		if l.OpenBytes == 0 && l.DailyBytes == 0 {
			continue
		}
		on = true
		if l.Scope == "" {
			p.global = l
			continue
		}
		if _, ok := profiles[l.Scope]; !ok {
			return p, fmt.Errorf("broker: quota for unknown profile %q", l.Scope)
		}
		p.byProf[l.Scope] = l
	}
	if on && store == nil {
		return p, errors.New("broker: quotas are configured but there is no quota store")
	}
	if on {
		p.store = store
	}
	return p, nil
}

// limitsOf returns the limits a session of profile counts against.
func (p *quotaPolicy) limitsOf(profile string) []QuotaLimit {
	var out []QuotaLimit
	if p.global.OpenBytes > 0 || p.global.DailyBytes > 0 {
		out = append(out, p.global)
	}
	if l, ok := p.byProf[profile]; ok {
		out = append(out, l)
	}
	return out
}

// scopesOf returns the scopes of limitsOf(profile).
func (p *quotaPolicy) scopesOf(profile string) []string {
	ls := p.limitsOf(profile)
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Scope
	}
	return out
}

// quotaBytes is what sess reserves: its declared size, or for an upload
// of unknown size the most the profile lets it become.
func (s *Service) quotaBytes(sess *session.Session) int64 {
	if sess.Kind == multipart.Sized {
		return sess.Size
	}
	max := s.profiles[sess.Profile].MaxSize
	if sess.Strategy == session.StrategySingle {
		max = min(max, multipart.MaxSingleSize)
	}
	return max
}

// reserveQuota reserves sess's bytes until until (plus quotaGrace);
// quota_exceeded when a limit would be passed. Called by reserveOpen.
func (s *Service) reserveQuota(ctx context.Context, sess *session.Session, until time.Time) error {
	q := &s.quota
	if q.store == nil {
		return nil
	}
	limits := q.limitsOf(sess.Profile)
	if len(limits) == 0 {
		return nil
	}
	need := s.quotaBytes(sess)
	err := q.store.Reserve(ctx, sess.Subject, sess.ID, need, until.Add(quotaGrace), limits)
	var qe *QuotaExceeded
	switch {
	case err == nil:
		return nil
	case errors.As(err, &qe):
		qe.Need = need
		return &Error{Code: CodeQuotaExceeded, Message: quotaMessage(qe, sess.Kind == multipart.OpenEnded), Err: qe}
	}
	return s.sessionError(err, "reserve quota")
}

// quotaMessage tells the subject which quota a create would pass, its
// limit and the subject's own use of it (nothing of other subjects).
func quotaMessage(e *QuotaExceeded, unknown bool) string {
	scope := "your"
	if e.Scope != "" {
		scope = fmt.Sprintf("your profile %q", e.Scope)
	}
	what := fmt.Sprintf("this upload needs %s", fmtBytes(e.Need))
	if unknown {
		what = fmt.Sprintf("an upload of unknown size reserves the profile's max_size, %s", fmtBytes(e.Need))
	}
	if e.Quota == QuotaDailyBytes {
		msg := fmt.Sprintf("quota exceeded: %s daily_bytes quota is %s per rolling day; %s completed in the last 24 h or reserved by open uploads; %s",
			scope, fmtBytes(e.Limit), fmtBytes(e.Used), what)
		if e.RetryAfter > 0 {
			msg += fmt.Sprintf("; retry after %d s", retrySeconds(e.RetryAfter))
		}
		return msg
	}
	return fmt.Sprintf("quota exceeded: %s open_bytes quota is %s; %s reserved by open uploads; %s: complete or abort some first",
		scope, fmtBytes(e.Limit), fmtBytes(e.Used), what)
}

// RetryAfter returns how long the client of a failed request should wait
// before trying again, when the error says (a daily quota refusal); 0
// otherwise.
func RetryAfter(err error) time.Duration {
	var qe *QuotaExceeded
	if errors.As(err, &qe) && qe.RetryAfter > 0 {
		return time.Duration(retrySeconds(qe.RetryAfter)) * time.Second
	}
	return 0
}

func retrySeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// fmtBytes writes n in bytes and, from 1 KiB on, in the largest binary
// unit that fits (e.g. "52428800 bytes (50 MiB)").
func fmtBytes(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%d bytes (%.4g %s)", n, v, units[u])
}

// settleQuota ends sess's reservation: a completed session's size counts
// into the rolling day, any other end counts nothing. Failures are
// logged: the reservation then ends by itself. Called by releaseOpen.
func (s *Service) settleQuota(ctx context.Context, sess *session.Session) {
	q := &s.quota
	if q.store == nil || sess == nil {
		return
	}
	scopes := q.scopesOf(sess.Profile)
	if len(scopes) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var err error
	if sess.State == session.StateCompleted && sess.Kind == multipart.Sized {
		err = q.store.Settle(ctx, sess.Subject, sess.ID, sess.Size, scopes)
	} else {
		err = q.store.Release(ctx, sess.Subject, sess.ID, scopes)
	}
	if err != nil {
		s.log.Warn("settle quota reservation", "id", sess.ID, "err", err)
	}
}
