// Package session is the broker's session model and the port of the
// store that keeps sessions: what a session is, its states, the atomic
// changes a store must offer, and the optional abilities (expiry index,
// open-session counts, ...) a store may have. It is pure: package
// sessions implements the port on Redis, and the broker depends on this
// package only, never on a Redis client.
package session

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
	// Kind is what the session knows of its size. multipart.Sized: Size
	// (and for multipart PartSize and PartCount) were told at create.
	// multipart.OpenEnded (the Uppy routes): Size, PartSize and PartCount
	// are 0 until complete learns the plan from the store and records it
	// (PlanSetter), which makes the session Sized.
	Kind      multipart.Kind
	Size      int64
	PartSize  int64 // 0 for single
	PartCount int   // 0 for single
	Metadata  map[string]string
	ETag      string // final object's ETag, once completed
	Reason    string // why the session was rejected (StateRejected)
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

// Expirer is an optional capability of a Store: an index of the sessions
// that will need the janitor once past their expiry. RedisStore has it.
//
// Create adds a session to the index; a Transition that moves ExpiresAt
// moves its entry; a Transition to a terminal state (State.Terminal)
// removes it. The index is kept beside the session, not in the
// same atomic step (see the package doc), so a caller must cope with ids
// whose session is gone or already terminal.
type Expirer interface {
	// DueForExpiry returns at most limit ids whose ExpiresAt is not after
	// now, the earliest first.
	DueForExpiry(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ClaimExpiry takes the janitor's claim on id for ttl; false if another
	// janitor holds it. A claim is never released: it runs out.
	ClaimExpiry(ctx context.Context, id string, ttl time.Duration) (bool, error)
	// ForgetExpiry removes id from the index (a no-op when it is not there).
	ForgetExpiry(ctx context.Context, id string) error
	// ScheduleExpiry (re)sets id's entry to expiresAt, for an entry found
	// stale.
	ScheduleExpiry(ctx context.Context, id string, expiresAt time.Time) error
}

// AsExpirer returns s's Expirer (see AbilitiesOf).
func AsExpirer(s Store) (Expirer, bool) {
	a := AbilitiesOf(s).Expirer
	return a, a != nil
}

// OpenLimiter is an optional capability of a Store: counting each
// subject's open sessions, so that a cap can be enforced across replicas.
// RedisStore has it.
type OpenLimiter interface {
	// ReserveOpen records id as an open session of subject until
	// expiresAt, unless subject already has max open sessions (those past
	// their expiry are not counted). ok is false when the cap is reached.
	// Reserving an id already recorded only moves its expiry.
	ReserveOpen(ctx context.Context, subject, id string, expiresAt time.Time, max int) (ok bool, err error)
	// ReleaseOpen forgets id as an open session of subject (a no-op when
	// it is not recorded).
	ReleaseOpen(ctx context.Context, subject, id string) error
}

// PlanSetter is an optional capability of a Store: recording the size and
// part plan of a session created without them. Chute's Uppy-compatible
// routes need it, because the Companion protocol never tells the size of
// a multipart upload up front; the plan is learned from the store's part
// list when the upload completes.
type PlanSetter interface {
	// SetPlan records size, partSize and partCount on the session if it
	// is completing, which makes its Kind multipart.Sized, and returns the
	// updated session; *StateError in any other state, ErrNotFound if the
	// session is unknown.
	SetPlan(ctx context.Context, id string, size, partSize int64, partCount int) (*Session, error)
}

// Stager is an optional capability of a Store: an index of the staged
// single uploads of the Uppy routes, which the promoter watches (a form
// upload never calls complete). RedisStore has it.
type Stager interface {
	// Stage adds id to the index until the time its form can be used.
	Stage(ctx context.Context, id string, until time.Time) error
	// Staged returns at most limit entries, the oldest form first.
	Staged(ctx context.Context, limit int) ([]StagedUpload, error)
	// Unstage removes id from the index (a no-op when it is not there).
	Unstage(ctx context.Context, id string) error
	// ClaimStagedPass takes the claim of one promoter pass for ttl; false
	// if another process holds it, so that of many replicas one looks at
	// the index per period. A claim is never released: it runs out.
	ClaimStagedPass(ctx context.Context, ttl time.Duration) (bool, error)
}

// StagedUpload is one entry of the staged index.
type StagedUpload struct {
	ID    string
	Until time.Time // when its form (or PUT URL) stops working
}

// AsStager returns s's Stager (see AbilitiesOf).
func AsStager(s Store) (Stager, bool) {
	a := AbilitiesOf(s).Stager
	return a, a != nil
}

// EventMarker is an optional capability of a Store: it keeps, beside each
// session that ended, the type of its event until the event is published,
// so that an event whose publisher died is found and published again.
// RedisStore has it.
//
// A Transition whose Change has an Event writes the mark in the same
// atomic step as the state; EventDone clears it once the event is in the
// outbox; PendingEvents finds the marks left behind.
type EventMarker interface {
	// EventDone clears id's mark if it is still typ (a no-op otherwise,
	// and for a session that is gone).
	EventDone(ctx context.Context, id, typ string) error
	// PendingEvents calls fn for every session that has a mark, with the
	// mark and the time of the session's last change. It reads the whole
	// key space (SCAN on every master) and is meant for a background pass,
	// not for the request path.
	PendingEvents(ctx context.Context, fn func(id, typ string, changed time.Time)) error
	// ClaimEventPass takes the claim of one reconciliation pass for ttl;
	// false if another process holds it. A claim is never released: it
	// runs out.
	ClaimEventPass(ctx context.Context, ttl time.Duration) (bool, error)
}

// AsEventMarker returns s's EventMarker (see AbilitiesOf).
func AsEventMarker(s Store) (EventMarker, bool) {
	a := AbilitiesOf(s).EventMarker
	return a, a != nil
}

// LockExtender is an optional capability of a Store: a lock holder renews
// its lock while it works, so that the lock can be taken with a short ttl
// and a holder that dies frees it soon. RedisStore has it.
type LockExtender interface {
	// ExtendLock sets the lock of id to expire ttl from now if token still
	// holds it; false if it does not (it ran out, maybe taken by another).
	ExtendLock(ctx context.Context, id, token string, ttl time.Duration) (bool, error)
}

// AsLockExtender returns s's LockExtender (see AbilitiesOf).
func AsLockExtender(s Store) (LockExtender, bool) {
	a := AbilitiesOf(s).LockExtender
	return a, a != nil
}

// ErrUnavailable is wrapped around every failure of the backing store
// itself (refused connection, timeout, closed client, an error reply), as
// opposed to an answer about a session (ErrNotFound, ErrExists,
// ErrConflict). Callers test it with errors.Is; the original error stays
// reachable through errors.Is and errors.As too (context.DeadlineExceeded,
// *net.OpError, redis.Error).
var ErrUnavailable = errors.New("sessions: store unavailable")

// Abilities are the optional abilities of a session store, each nil when
// the store lacks it. They are resolved once, where the store is built
// (AbilitiesOf), instead of being looked for at each call.
type Abilities struct {
	Expirer      Expirer
	OpenLimiter  OpenLimiter
	PlanSetter   PlanSetter
	Stager       Stager
	EventMarker  EventMarker
	LockExtender LockExtender
}

// AbilityProvider is a store that states its abilities itself: a
// decorator (the metrics package's) returns those of the store it wraps,
// each wrapped or passed through, so no caller needs to look behind it.
type AbilityProvider interface {
	Abilities() Abilities
}

// AbilitiesOf returns s's optional abilities: what s states when it is an
// AbilityProvider, else the abilities s has itself.
func AbilitiesOf(s Store) Abilities {
	if p, ok := s.(AbilityProvider); ok {
		return p.Abilities()
	}
	var a Abilities
	a.Expirer, _ = s.(Expirer)
	a.OpenLimiter, _ = s.(OpenLimiter)
	a.PlanSetter, _ = s.(PlanSetter)
	a.Stager, _ = s.(Stager)
	a.EventMarker, _ = s.(EventMarker)
	a.LockExtender, _ = s.(LockExtender)
	return a
}

// AsOpenLimiter returns s's OpenLimiter (see AbilitiesOf).
func AsOpenLimiter(s Store) (OpenLimiter, bool) {
	a := AbilitiesOf(s).OpenLimiter
	return a, a != nil
}

// AsPlanSetter returns s's PlanSetter (see AbilitiesOf).
func AsPlanSetter(s Store) (PlanSetter, bool) {
	a := AbilitiesOf(s).PlanSetter
	return a, a != nil
}
