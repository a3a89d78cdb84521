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
//	                   (unix milliseconds, "" for a zero time)
//	<prefix>:{<id>}:p  hash of reported parts: part number -> "<size> <etag>"
//	<prefix>:{<id>}:l  the lock: a random token, SET NX PX
//	<prefix>:{<id>}:j  the janitor's claim (Expirer.ClaimExpiry): SET NX PX
//	<prefix>:expiry    the expiry index: sorted set of the ids of sessions
//	                   not yet terminal, scored by ExpiresAt (unix ms)
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

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/multipart"
)

// State is where a session is in its life.
type State string

// The states of a session.
const (
	StatePending    State = "pending"    // created, no part reported yet
	StateUploading  State = "uploading"  // at least one part reported
	StateCompleting State = "completing" // a complete call is running
	StateCompleted  State = "completed"
	StateAborted    State = "aborted"
	StateExpired    State = "expired"
	// StateRejected: the profile's verify hook refused the finished
	// upload; its object was removed. Reason holds the hook's reason.
	StateRejected State = "rejected"
)

// Terminal reports whether st ends a session: completed, aborted,
// expired or rejected. A terminal session never changes again.
func (st State) Terminal() bool {
	return st == StateCompleted || st == StateAborted || st == StateExpired || st == StateRejected
}

// Strategy is how the bytes reach the store.
type Strategy string

// The strategies.
const (
	StrategySingle    Strategy = "single"    // one presigned PUT
	StrategyMultipart Strategy = "multipart" // presigned parts + CompleteMultipartUpload
)

// Session is one upload. Parts holds the reported parts, sorted by number;
// it is filled by Get and the methods that return a session.
type Session struct {
	ID          string
	Subject     string
	Profile     string
	Backend     string
	Key         string
	UploadID    string // empty for single
	Strategy    Strategy
	State       State
	Filename    string
	ContentType string
	Size        int64
	PartSize    int64 // 0 for single
	PartCount   int   // 0 for single
	Metadata    map[string]string
	ETag        string // final object's ETag, once completed
	Reason      string // why the session was rejected (StateRejected)
	// ChecksumAlgorithm is the checksum algorithm asked for at create
	// (empty: none), and Checksum the whole object's checksum: the value
	// declared at create, then the one verified at complete.
	ChecksumAlgorithm string
	Checksum          string
	// EventPending is the type of the event that ended the session while
	// it is not yet known to be published (see Change.Event), else empty.
	EventPending string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ExpiresAt    time.Time
	Parts        []multipart.Part
}

// Change is an atomic state transition: it applies only when the current
// state is one of From.
type Change struct {
	From []State
	To   State
	// ETag, when not empty, is stored as the session's final ETag.
	ETag string
	// Reason, when not empty, is stored as the session's Reason.
	Reason string
	// Checksum, when not empty, is stored as the session's whole-object
	// checksum.
	Checksum string
	// ExpiresAt, when not zero, replaces the session's expiry (and the
	// retention of its keys).
	ExpiresAt time.Time
	// Token, when not empty, fences the change: it applies only while the
	// session's lock (TryLock) holds this token, and fails with
	// ErrLockLost otherwise, so that a holder whose lock ran out cannot
	// overwrite what the next holder wrote.
	Token string
	// Event, when not empty, is the type of the event the change ends the
	// session with: it is recorded as the session's EventPending in the
	// same atomic step, and stays until EventDone clears it (see
	// EventMarker).
	Event string
}

// Errors returned by a Store.
var (
	ErrNotFound = errors.New("sessions: not found")
	ErrExists   = errors.New("sessions: id already exists")
	ErrConflict = errors.New("sessions: wrong state")
	// ErrLockLost is returned by a Transition fenced with a Token the
	// session's lock no longer holds (it ran out, and maybe another
	// process took it). Nothing was changed.
	ErrLockLost = errors.New("sessions: the session lock is no longer held by this token")
)

// StateError is returned (wrapping ErrConflict) when a change or a part
// report does not fit the session's current state.
type StateError struct {
	Current State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("sessions: wrong state %q", e.Current)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *StateError) Unwrap() error { return ErrConflict }

// Store keeps sessions. Every method is safe for concurrent use by many
// processes sharing one backing store.
type Store interface {
	// Create stores a new session (with no parts). ErrExists if the id is taken.
	Create(ctx context.Context, s *Session) error
	// Get returns the session with its parts. ErrNotFound if unknown or expired from the store.
	Get(ctx context.Context, id string) (*Session, error)
	// PutPart records a reported part (replacing an earlier report of the
	// same number) if the session is pending or uploading, and moves it to
	// uploading. Concurrent reports of different parts are never lost.
	// Returns the updated session; *StateError in another state.
	PutPart(ctx context.Context, id string, p multipart.Part) (*Session, error)
	// Transition applies c atomically and returns the updated session;
	// *StateError if the current state is not in c.From.
	Transition(ctx context.Context, id string, c Change) (*Session, error)
	// TryLock takes the session's exclusive lock for at most ttl. ok is
	// false if someone else holds it. The token releases it.
	TryLock(ctx context.Context, id string, ttl time.Duration) (token string, ok bool, err error)
	// Unlock releases the lock if token still holds it.
	Unlock(ctx context.Context, id, token string) error
	// Ping checks the backing store is reachable.
	Ping(ctx context.Context) error
}
