package httpapi

import (
	"context"
	"sync"
	"time"
)

// LocalLimiter is a per-subject request rate limit kept in this process
// (the generic cell rate algorithm, as sessions.RateLimiter runs it in
// Redis): each replica gives each subject its own budget, so N replicas
// allow up to N times the rate. It never fails and makes no I/O. Chute
// uses it for signing part URLs, which must not wait for Redis.
//
// It keeps one time per subject seen, at most maxSubjects of them: a full
// table first forgets the subjects whose budget is whole again (the same
// as forgetting nothing), then, if still full, lets the new subject through
// unrecorded rather than grow.
type LocalLimiter struct {
	mu       sync.Mutex
	tat      map[string]time.Time // theoretical arrival time per subject
	interval time.Duration
	burst    int
	max      int
	now      func() time.Time
}

// localLimiterSubjects bounds LocalLimiter's table.
const localLimiterSubjects = 100_000

// NewLocalLimiter allows each subject rate requests per second on average
// and bursts of up to burst (at least 1); rate must be positive.
func NewLocalLimiter(rate float64, burst int) *LocalLimiter {
	return &LocalLimiter{tat: make(map[string]time.Time), interval: time.Duration(float64(time.Second) / rate),
		burst: max(burst, 1), max: localLimiterSubjects, now: time.Now}
}

// Take takes one request from subject's budget: 0 when it may go, else how
// long until the next request fits.
func (l *LocalLimiter) Take(subject string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[subject]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(l.interval)
	if allowAt := next.Add(-time.Duration(l.burst) * l.interval); now.Before(allowAt) {
		return allowAt.Sub(now)
	}
	if !ok && len(l.tat) >= l.max {
		for s, t := range l.tat {
			if !t.After(now) {
				delete(l.tat, s)
			}
		}
		if len(l.tat) >= l.max {
			return 0
		}
	}
	l.tat[subject] = next
	return 0
}

// Allow implements RateLimiter.
func (l *LocalLimiter) Allow(_ context.Context, subject string) (bool, time.Duration, error) {
	wait := l.Take(subject)
	return wait == 0, wait, nil
}
