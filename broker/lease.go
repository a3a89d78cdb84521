package broker

// The session lock as a lease: taken for lockLease and renewed by its
// holder every third of it while the work runs, so a replica that dies
// mid-complete (or mid-visit of the janitor) frees the session within
// lockLease, however long limits.complete_timeout is. A renewal that finds
// the lock gone stops; the transitions are fenced by the token
// (fence.go), so a holder that lost its lock writes nothing. A session
// store without session.LockExtender gets a lock for the whole work
// (complete timeout plus 30s) instead.

import (
	"context"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// lockLease is how long a renewed session lock outlives its last renewal.
var lockLease = 30 * time.Second

// lockTTL is the ttl to take the session lock with.
func (s *Service) lockTTL() time.Duration {
	if _, ok := session.AsLockExtender(s.sessions); ok {
		return lockLease
	}
	return s.complete + 30*time.Second
}

// keepLock renews the lock of id held by token until the returned stop is
// called (or ctx is done).
func (s *Service) keepLock(ctx context.Context, id, token string) (stop func()) {
	le, ok := session.AsLockExtender(s.sessions)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lockLease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, lockLease/3)
			held, err := le.ExtendLock(rctx, id, token, lockLease)
			rcancel()
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("renew session lock", "id", id, "err", err) // tried again next tick
			case err == nil && !held:
				s.log.Warn("session lock lost; this holder's transitions will be refused", "id", id)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}
