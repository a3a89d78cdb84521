package broker

// Fencing and cleanup of the work done under a session lock.
//
// A complete (or a janitor visit) holds the session lock for the length
// of its work context plus a margin. Every transition it writes carries
// the lock's token (sessions.Change.Token): the session store refuses it
// with sessions.ErrLockLost once the lock is not this token's any more,
// so a process whose lock ran out (a stalled process, a clock jump) never
// overwrites the result of the next holder. The token travels in the work
// context (withLockToken), so that the helpers called under the lock
// (revert, reject, verify) fence their transitions without a parameter.
//
// The work context has a deadline; what must still happen after it has
// passed (recording a result the store already made, reverting, aborting,
// unlocking) runs on a fresh context from cleanupContext.

import (
	"context"
	"time"
)

// cleanupTimeout bounds the work after a complete's own deadline:
// recording or reverting its result, aborting, unlocking.
const cleanupTimeout = 15 * time.Second

type lockTokenKey struct{}

// withLockToken returns ctx carrying the session lock token.
func withLockToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, lockTokenKey{}, token)
}

// lockToken is the session lock token ctx carries, or "" (not fenced).
func lockToken(ctx context.Context) string {
	t, _ := ctx.Value(lockTokenKey{}).(string)
	return t
}

// cleanupContext returns a context that keeps ctx's values (the lock
// token) but neither its cancellation nor its deadline, bounded by
// cleanupTimeout.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
