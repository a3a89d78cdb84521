// Package sessions owns Chute's upload sessions: the model and its store.
//
// # Redis key layout
//
// RedisStore keeps each session under three keys, all sharing the hash tag
// {<id>} so that they land in one Redis Cluster slot (every Lua script and
// MULTI/EXEC touches the keys of one session only). <prefix> is "chute" unless
// WithKeyPrefix sets another:
//
//	<prefix>:{<id>}:s  hash of the session's fields: id, subject, profile,
//	                   backend, key, upload_id, strategy, state, filename,
//	                   content_type, size, part_size, part_count, etag,
//	                   reason (set when rejected), metadata (a JSON
//	                   object, written once at create, "" when empty),
//	                   created_at, updated_at, expires_at
//	                   (unix milliseconds, "" for a zero time);
//	                   size is -1 while the session is open-ended
//	                   (multipart.OpenEnded, the Uppy routes: the Kind
//	                   is not a field of its own, so that every version
//	                   reads the same hash),
//	                   event_pending (the type of the event the session
//	                   ended with, until it is published; see EventMarker)
//	<prefix>:{<id>}:p  hash of reported parts: part number -> "<size> <etag>"
//	<prefix>:{<id>}:l  the lock: a random token, SET NX PX
//	<prefix>:{<id>}:j  the janitor's claim (Expirer.ClaimExpiry): SET NX PX
//	<prefix>:events:reconcile  the claim of one pass of the event
//	                   reconciler (EventMarker.ClaimEventPass): SET NX PX
//	<prefix>:expiry    the expiry index: sorted set of the ids of sessions
//	                   not yet terminal, scored by ExpiresAt (unix ms)
//
// Per-subject keys carry the subject as hash tag instead: the rate limiter
// and the open-session set (limits.go), and the byte quotas (QuotaStore,
// quota.go: <prefix>:q:{<subject>}:...); each of their scripts touches the
// keys of one subject only.
//
// The session and parts hashes expire at the session's ExpiresAt plus the
// store's retention (WithRetention, default DefaultRetention = 24h)
// (PEXPIREAT): Create sets it, PutPart gives the parts hash the same expiry,
// and a Transition whose Change has an ExpiresAt moves both. The retention
// lets the janitor read key, upload_id and backend of a session past its
// ExpiresAt; once the keys expire the session is gone (ErrNotFound). No
// state "expired" is written by the store itself: the janitor writes it
// with a Transition. The lock and claim keys expire after their ttl and do
// not depend on the session existing.
//
// # Expiry index
//
// The index key has no hash tag of a session, so in Redis Cluster it lives
// in another slot than the session's keys, and no script may touch both.
// The index is therefore written by a second command right after the
// session's script succeeds: Create adds the id (ZADD, score ExpiresAt), a
// Transition with an ExpiresAt moves its score, a Transition to a terminal
// state (completed, aborted, expired, rejected) removes it (ZREM). If the
// process dies, or Redis fails, between the two commands:
//
//   - after a terminal Transition, a stale entry stays: the janitor finds
//     the session terminal (or gone) and drops the entry;
//   - after a Transition that moved ExpiresAt, the old score stays: the
//     janitor finds the session not yet due and re-scores it;
//   - after a Create, the session has no entry (Create then returns the
//     error, so the broker abandons the upload; if the process died, the
//     session is never expired by the janitor). Such a session's keys
//     expire at ExpiresAt plus the retention, after which `chute gc` sees
//     its store upload as one no session knows, and removes it.
//
// The index errors of a Transition are not returned (the change itself is
// written); those of Create are.
//
// ScanUploads (SCAN MATCH <prefix>:{*}:s on every master) lists every
// session for `chute gc`; it reads the whole key space and is meant for
// maintenance, not for the request path.
//
// # Fencing and pending events
//
// A Transition whose Change has a Token runs only while the lock key holds
// that token (it is read in the same script: the lock shares the
// session's hash tag), else ErrLockLost. A Change with an Event writes
// event_pending in the same script as the state, so a session never ends
// without a trace of its unpublished event; EventDone clears it (a
// compare-and-delete), and PendingEvents finds what is left by SCAN of the
// session hashes on every master, like ScanUploads: the outbox stream is in
// another slot, so no script can append to it and change a session at
// once.
//
// SetPlan (plan.go, the optional PlanSetter) writes size, part_size and
// part_count of a completing session, for uploads whose size is learned
// only at completion (the Uppy-compatible routes).
//
// Every change (Create, PutPart, Transition, Unlock) is one Lua script (plus
// the expiry index command described above) and
// every Get one MULTI/EXEC of the two HGETALLs (cheaper than a script for
// a pure read), so each is atomic; a part report writes one field of the parts
// hash, never a read-modify-write of a whole record. PutPart and Transition
// read the whole session, parts included, in the same script, so a report
// costs time in proportion to the parts already reported.
//
// Caveats: updated_at comes from the clock of the process calling the
// store, the other times from the caller; expiry is judged by the Redis
// server's clock against those absolute times, so clock skew between the
// broker and Redis shifts it.
//
// Failures of Redis itself (refused connection, timeout, error reply) are
// wrapped with ErrUnavailable.
package sessions

import "github.com/chute-dev/chute/broker/session"

// The session model and the Store port belong to the broker (package
// broker/session); RedisStore implements them. These aliases keep this
// package's own spelling.
type (
	State      = session.State
	Strategy   = session.Strategy
	Session    = session.Session
	Change     = session.Change
	StateError = session.StateError
	Store      = session.Store

	Expirer      = session.Expirer
	OpenLimiter  = session.OpenLimiter
	PlanSetter   = session.PlanSetter
	Stager       = session.Stager
	StagedUpload = session.StagedUpload
	EventMarker  = session.EventMarker
	LockExtender = session.LockExtender

	Abilities       = session.Abilities
	AbilityProvider = session.AbilityProvider
)

// The states and strategies (session's).
const (
	StatePending    = session.StatePending
	StateUploading  = session.StateUploading
	StateCompleting = session.StateCompleting
	StateCompleted  = session.StateCompleted
	StateAborted    = session.StateAborted
	StateExpired    = session.StateExpired
	StateRejected   = session.StateRejected

	StrategySingle    = session.StrategySingle
	StrategyMultipart = session.StrategyMultipart
)

// Errors returned by a Store (session's).
var (
	ErrNotFound    = session.ErrNotFound
	ErrExists      = session.ErrExists
	ErrConflict    = session.ErrConflict
	ErrLockLost    = session.ErrLockLost
	ErrUnavailable = session.ErrUnavailable
)

// The capability finders (session's).
var (
	AsExpirer      = session.AsExpirer
	AsStager       = session.AsStager
	AsEventMarker  = session.AsEventMarker
	AsLockExtender = session.AsLockExtender
	AsOpenLimiter  = session.AsOpenLimiter
	AsPlanSetter   = session.AsPlanSetter
	AbilitiesOf    = session.AbilitiesOf
)
