// Package sessiontest is a conformance suite for implementations of
// sessions.Store, in the spirit of testing/fstest: any store, in memory or
// on a real Redis, must pass Run.
//
// Every subtest uses fresh random session ids, so the suite can run against
// a store shared with other tests or other runs. Two subtests wait for
// expiry (of a lock after 300 ms, of a session after 1 s) and poll for at
// most a few seconds, so the whole suite takes a few seconds.
package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// Run runs the conformance suite as subtests of t. newStore is called once
// per subtest and may return a fresh store or the same shared one.
func Run(t *testing.T, newStore func(t *testing.T) sessions.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s sessions.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateExists", testCreateExists},
		{"NotFound", testNotFound},
		{"PutPart", testPutPart},
		{"PutPartConcurrent", testPutPartConcurrent},
		{"PutPartWrongState", testPutPartWrongState},
		{"Transition", testTransition},
		{"TransitionConcurrent", testTransitionConcurrent},
		{"TransitionRejected", testTransitionRejected},
		{"Lock", testLock},
		{"LockExpiry", testLockExpiry},
		{"Expiry", testExpiry},
		{"Ping", testPing},
		{"ExpiryIndex", testExpiryIndex},
		{"ExpiryClaim", testExpiryClaim},
		{"TransitionFenced", testTransitionFenced},
		{"EventMark", testEventMark},
		{"ExtendLock", testExtendLock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// newID returns a random session id.
func newID(t *testing.T) string {
	t.Helper()
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "st_" + hex.EncodeToString(b[:])
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// multipartSession returns a pending multipart session with every field
// set; its times carry sub-millisecond digits on purpose.
func multipartSession(id string) *sessions.Session {
	now := time.Now().Add(123456 * time.Nanosecond)
	return &sessions.Session{
		ID:          id,
		Subject:     "alice",
		Profile:     "default",
		Backend:     "main",
		Key:         "alice/2026/11/27/" + id + ".mp4",
		UploadID:    "upload-" + id,
		Strategy:    sessions.StrategyMultipart,
		State:       sessions.StatePending,
		Filename:    "clip with spaces.mp4",
		ContentType: "video/mp4",
		Size:        200*16*multipart.MiB + 17,
		PartSize:    16 * multipart.MiB,
		PartCount:   201,
		Metadata:    map[string]string{"title": "Ünïcode \"quoted\" title", "empty": ""},
		CreatedAt:   now,
		UpdatedAt:   now.Add(time.Millisecond),
		ExpiresAt:   now.Add(time.Hour),
	}
}

// openSession returns a pending multipart session of unknown size
// (multipart.OpenEnded): no size and no plan yet.
func openSession(id string) *sessions.Session {
	sess := multipartSession(id)
	sess.Kind, sess.Size, sess.PartSize, sess.PartCount = multipart.OpenEnded, 0, 0, 0
	return sess
}

// singleSession returns a pending single-PUT session.
func singleSession(id string) *sessions.Session {
	now := time.Now()
	return &sessions.Session{
		ID:          id,
		Subject:     "bob",
		Profile:     "images",
		Backend:     "main",
		Key:         "bob/" + id + ".png",
		Strategy:    sessions.StrategySingle,
		State:       sessions.StatePending,
		Filename:    "a.png",
		ContentType: "image/png",
		Size:        1234,
		CreatedAt:   now,
		UpdatedAt:   now,
		ExpiresAt:   now.Add(time.Hour),
	}
}

func mustCreate(t *testing.T, s sessions.Store, sess *sessions.Session) {
	t.Helper()
	if err := s.Create(testContext(t), sess); err != nil {
		t.Fatalf("Create(%s): %v", sess.ID, err)
	}
}

func mustGet(t *testing.T, s sessions.Store, id string) *sessions.Session {
	t.Helper()
	got, err := s.Get(testContext(t), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

func mustPutPart(t *testing.T, s sessions.Store, id string, p multipart.Part) *sessions.Session {
	t.Helper()
	got, err := s.PutPart(testContext(t), id, p)
	if err != nil {
		t.Fatalf("PutPart(%s, %d): %v", id, p.Number, err)
	}
	return got
}

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// checkFields compares every field but Parts and UpdatedAt; times to the
// millisecond.
func checkFields(t *testing.T, what string, got, want *sessions.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil session", what)
	}
	str := []struct{ name, got, want string }{
		{"ID", got.ID, want.ID},
		{"Subject", got.Subject, want.Subject},
		{"Profile", got.Profile, want.Profile},
		{"Backend", got.Backend, want.Backend},
		{"Key", got.Key, want.Key},
		{"UploadID", got.UploadID, want.UploadID},
		{"Strategy", string(got.Strategy), string(want.Strategy)},
		{"Kind", got.Kind.String(), want.Kind.String()},
		{"State", string(got.State), string(want.State)},
		{"Filename", got.Filename, want.Filename},
		{"ContentType", got.ContentType, want.ContentType},
		{"ETag", got.ETag, want.ETag},
		{"Reason", got.Reason, want.Reason},
	}
	for _, f := range str {
		if f.got != f.want {
			t.Errorf("%s: %s = %q, want %q", what, f.name, f.got, f.want)
		}
	}
	if got.Size != want.Size || got.PartSize != want.PartSize || got.PartCount != want.PartCount {
		t.Errorf("%s: Size, PartSize, PartCount = %d, %d, %d, want %d, %d, %d", what,
			got.Size, got.PartSize, got.PartCount, want.Size, want.PartSize, want.PartCount)
	}
	if !maps.Equal(got.Metadata, want.Metadata) {
		t.Errorf("%s: Metadata = %v, want %v", what, got.Metadata, want.Metadata)
	}
	if !got.CreatedAt.Equal(ms(want.CreatedAt)) {
		t.Errorf("%s: CreatedAt = %v, want %v", what, got.CreatedAt, ms(want.CreatedAt))
	}
	if !got.ExpiresAt.Equal(ms(want.ExpiresAt)) {
		t.Errorf("%s: ExpiresAt = %v, want %v", what, got.ExpiresAt, ms(want.ExpiresAt))
	}
}

func checkParts(t *testing.T, what string, got, want []multipart.Part) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d parts %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: parts[%d] = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func checkStateError(t *testing.T, what string, err error, current sessions.State) {
	t.Helper()
	var se *sessions.StateError
	if !errors.As(err, &se) {
		t.Fatalf("%s: err = %v, want *sessions.StateError", what, err)
	}
	if se.Current != current {
		t.Errorf("%s: StateError.Current = %q, want %q", what, se.Current, current)
	}
	if !errors.Is(err, sessions.ErrConflict) {
		t.Errorf("%s: errors.Is(%v, ErrConflict) = false", what, err)
	}
}

func testCreateGet(t *testing.T, s sessions.Store) {
	for _, want := range []*sessions.Session{multipartSession(newID(t)), singleSession(newID(t)), openSession(newID(t))} {
		mustCreate(t, s, want)
		orig := *want
		orig.Metadata = maps.Clone(want.Metadata)
		// The store must not keep the caller's session.
		want.State = sessions.StateAborted
		want.Subject = "mallory"
		if want.Metadata != nil {
			want.Metadata["title"] = "changed"
		}

		got := mustGet(t, s, orig.ID)
		what := "Get " + string(orig.Strategy)
		checkFields(t, what, got, &orig)
		if !got.UpdatedAt.Equal(ms(orig.UpdatedAt)) {
			t.Errorf("%s: UpdatedAt = %v, want %v", what, got.UpdatedAt, ms(orig.UpdatedAt))
		}
		checkParts(t, what, got.Parts, nil)
		if orig.Strategy == sessions.StrategySingle && (got.UploadID != "" || got.PartSize != 0 || got.PartCount != 0) {
			t.Errorf("%s: UploadID %q, PartSize %d, PartCount %d, want empty", what, got.UploadID, got.PartSize, got.PartCount)
		}
	}
}

func testCreateExists(t *testing.T, s sessions.Store) {
	first := multipartSession(newID(t))
	mustCreate(t, s, first)
	second := singleSession(first.ID)
	err := s.Create(testContext(t), second)
	if !errors.Is(err, sessions.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	checkFields(t, "Get after refused Create", mustGet(t, s, first.ID), first)
}

func testNotFound(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	id := newID(t)
	if _, err := s.Get(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}
	if _, err := s.PutPart(ctx, id, multipart.Part{Number: 1, ETag: `"a"`, Size: 5}); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("PutPart: err = %v, want ErrNotFound", err)
	}
	c := sessions.Change{From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted}
	if _, err := s.Transition(ctx, id, c); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Transition: err = %v, want ErrNotFound", err)
	}
	// A refused call must not have created anything.
	if _, err := s.Get(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Get after refused calls: err = %v, want ErrNotFound", err)
	}
}

func testPutPart(t *testing.T, s sessions.Store) {
	want := multipartSession(newID(t))
	mustCreate(t, s, want)

	p2 := multipart.Part{Number: 2, ETag: `"etag-2"`, Size: 16 * multipart.MiB}
	got := mustPutPart(t, s, want.ID, p2)
	want.State = sessions.StateUploading
	checkFields(t, "PutPart 2", got, want)
	checkParts(t, "PutPart 2", got.Parts, []multipart.Part{p2})
	if got.UpdatedAt.Before(ms(want.CreatedAt)) {
		t.Errorf("PutPart 2: UpdatedAt %v before CreatedAt %v", got.UpdatedAt, want.CreatedAt)
	}

	p1 := multipart.Part{Number: 1, ETag: "etag with space", Size: 16 * multipart.MiB}
	mustPutPart(t, s, want.ID, p1)
	p2b := multipart.Part{Number: 2, ETag: `"etag-2-again"`, Size: 16*multipart.MiB - 1}
	got = mustPutPart(t, s, want.ID, p2b)
	checkFields(t, "PutPart 2 again", got, want)
	checkParts(t, "PutPart 2 again", got.Parts, []multipart.Part{p1, p2b})

	p10 := multipart.Part{Number: 10, ETag: `"x"`, Size: 1}
	mustPutPart(t, s, want.ID, p10)
	got = mustGet(t, s, want.ID)
	checkFields(t, "Get", got, want)
	checkParts(t, "Get (sorted by number)", got.Parts, []multipart.Part{p1, p2b, p10})
}

func testPutPartConcurrent(t *testing.T, s sessions.Store) {
	const workers, perWorker = 20, 10
	want := multipartSession(newID(t))
	want.PartCount = workers * perWorker
	mustCreate(t, s, want)
	ctx := testContext(t)

	part := func(n int) multipart.Part {
		return multipart.Part{Number: n, ETag: fmt.Sprintf(`"etag-%d"`, n), Size: 5*multipart.MiB + int64(n)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				n := i*workers + w + 1 // interleave the numbers between workers
				if _, err := s.PutPart(ctx, want.ID, part(n)); err != nil {
					errs <- fmt.Errorf("PutPart %d: %w", n, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := mustGet(t, s, want.ID)
	wantParts := make([]multipart.Part, 0, workers*perWorker)
	for n := 1; n <= workers*perWorker; n++ {
		wantParts = append(wantParts, part(n))
	}
	checkParts(t, "Get after concurrent PutPart", got.Parts, wantParts)
	if got.State != sessions.StateUploading {
		t.Errorf("State = %q, want uploading", got.State)
	}
}

func testPutPartWrongState(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	for _, st := range []sessions.State{sessions.StateCompleting, sessions.StateCompleted, sessions.StateAborted, sessions.StateExpired} {
		sess := multipartSession(newID(t))
		mustCreate(t, s, sess)
		p1 := multipart.Part{Number: 1, ETag: `"one"`, Size: 5 * multipart.MiB}
		mustPutPart(t, s, sess.ID, p1)
		c := sessions.Change{From: []sessions.State{sessions.StatePending, sessions.StateUploading}, To: st}
		if _, err := s.Transition(ctx, sess.ID, c); err != nil {
			t.Fatalf("Transition to %s: %v", st, err)
		}

		_, err := s.PutPart(ctx, sess.ID, multipart.Part{Number: 2, ETag: `"two"`, Size: 5})
		checkStateError(t, "PutPart in "+string(st), err, st)

		got := mustGet(t, s, sess.ID)
		if got.State != st {
			t.Errorf("state after refused PutPart = %q, want %q", got.State, st)
		}
		checkParts(t, "parts after refused PutPart in "+string(st), got.Parts, []multipart.Part{p1})
	}
}

func testTransition(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	want := multipartSession(newID(t))
	mustCreate(t, s, want)

	// From does not match: refused, nothing changes.
	_, err := s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StateUploading, sessions.StateCompleting},
		To:   sessions.StateCompleted,
		ETag: `"never"`,
	})
	checkStateError(t, "Transition from uploading of a pending session", err, sessions.StatePending)
	_, err = s.Transition(ctx, want.ID, sessions.Change{To: sessions.StateAborted})
	checkStateError(t, "Transition with empty From", err, sessions.StatePending)
	checkFields(t, "Get after refused Transition", mustGet(t, s, want.ID), want)

	p1 := multipart.Part{Number: 1, ETag: `"one"`, Size: 5 * multipart.MiB}
	mustPutPart(t, s, want.ID, p1)

	// Matching From: state, ETag and ExpiresAt applied, parts kept.
	newExpiry := time.Now().Add(48*time.Hour + 789*time.Microsecond)
	got, err := s.Transition(ctx, want.ID, sessions.Change{
		From:      []sessions.State{sessions.StatePending, sessions.StateUploading},
		To:        sessions.StateCompleted,
		ETag:      `"final-etag-2"`,
		ExpiresAt: newExpiry,
	})
	if err != nil {
		t.Fatalf("Transition to completed: %v", err)
	}
	want.State = sessions.StateCompleted
	want.ETag = `"final-etag-2"`
	want.ExpiresAt = newExpiry
	checkFields(t, "Transition to completed", got, want)
	checkParts(t, "Transition to completed", got.Parts, []multipart.Part{p1})
	if got.UpdatedAt.Before(ms(want.CreatedAt)) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", got.UpdatedAt, want.CreatedAt)
	}
	got = mustGet(t, s, want.ID)
	checkFields(t, "Get after Transition", got, want)
	checkParts(t, "Get after Transition", got.Parts, []multipart.Part{p1})

	// A change without ETag or ExpiresAt keeps both.
	got, err = s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StateCompleted},
		To:   sessions.StateCompleted,
	})
	if err != nil {
		t.Fatalf("Transition completed to completed: %v", err)
	}
	checkFields(t, "Transition without ETag and ExpiresAt", got, want)
}

// testTransitionRejected: a rejection keeps its reason, is terminal (it
// leaves the expiry index, when the store has one) and takes no parts.
func testTransitionRejected(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	want := singleSession(newID(t))
	mustCreate(t, s, want)
	if _, err := s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateCompleting,
	}); err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(time.Hour)
	got, err := s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StateCompleting}, To: sessions.StateRejected,
		Reason: "video is 12 minutes long; at most 10 allowed", ExpiresAt: expiry,
	})
	if err != nil {
		t.Fatalf("Transition to rejected: %v", err)
	}
	want.State, want.Reason, want.ExpiresAt = sessions.StateRejected, "video is 12 minutes long; at most 10 allowed", expiry
	checkFields(t, "Transition to rejected", got, want)
	checkFields(t, "Get after rejected", mustGet(t, s, want.ID), want)
	if !sessions.StateRejected.Terminal() {
		t.Errorf("rejected is not terminal")
	}

	// A later change without a reason keeps it.
	if _, err := s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StateRejected}, To: sessions.StateRejected,
	}); err != nil {
		t.Fatal(err)
	}
	checkFields(t, "Get after a change without reason", mustGet(t, s, want.ID), want)

	_, err = s.PutPart(ctx, want.ID, multipart.Part{Number: 1, ETag: `"x"`, Size: 1})
	checkStateError(t, "PutPart on a rejected session", err, sessions.StateRejected)
	if e, ok := s.(sessions.Expirer); ok && dueHas(t, e, time.Now().Add(48*time.Hour), want.ID) {
		t.Errorf("a rejected session is still in the expiry index")
	}
}

func testTransitionConcurrent(t *testing.T, s sessions.Store) {
	const racers = 10
	sess := multipartSession(newID(t))
	mustCreate(t, s, sess)
	ctx := testContext(t)

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   int
		others []error
	)
	start := make(chan struct{})
	for range racers {
		wg.Go(func() {
			<-start
			_, err := s.Transition(ctx, sess.ID, sessions.Change{
				From: []sessions.State{sessions.StatePending},
				To:   sessions.StateCompleting,
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				others = append(others, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d Transitions pending→completing succeeded, want exactly 1", wins)
	}
	for _, err := range others {
		checkStateError(t, "losing Transition", err, sessions.StateCompleting)
	}
	if got := mustGet(t, s, sess.ID); got.State != sessions.StateCompleting {
		t.Errorf("State = %q, want completing", got.State)
	}
}

func mustTryLock(t *testing.T, s sessions.Store, id string, ttl time.Duration, wantOK bool) string {
	t.Helper()
	token, ok, err := s.TryLock(testContext(t), id, ttl)
	if err != nil {
		t.Fatalf("TryLock(%s): %v", id, err)
	}
	if ok != wantOK {
		t.Fatalf("TryLock(%s): ok = %v, want %v", id, ok, wantOK)
	}
	if ok && token == "" {
		t.Fatalf("TryLock(%s): ok with an empty token", id)
	}
	return token
}

func mustUnlock(t *testing.T, s sessions.Store, id, token string) {
	t.Helper()
	if err := s.Unlock(testContext(t), id, token); err != nil {
		t.Fatalf("Unlock(%s): %v", id, err)
	}
}

func testLock(t *testing.T, s sessions.Store) {
	id, other := newID(t), newID(t)
	mustCreate(t, s, multipartSession(id))

	token := mustTryLock(t, s, id, 10*time.Second, true)
	mustTryLock(t, s, id, 10*time.Second, false)

	// Another session's lock is independent.
	otherToken := mustTryLock(t, s, other, 10*time.Second, true)

	// A wrong token releases nothing.
	mustUnlock(t, s, id, token+"x")
	mustUnlock(t, s, id, otherToken)
	mustTryLock(t, s, id, 10*time.Second, false)

	mustUnlock(t, s, id, token)
	token2 := mustTryLock(t, s, id, 10*time.Second, true)
	if token2 == token {
		t.Errorf("two lock holders got the same token %q", token)
	}
	// The old token does not release the new holder.
	mustUnlock(t, s, id, token)
	mustTryLock(t, s, id, 10*time.Second, false)

	mustUnlock(t, s, id, token2)
	mustUnlock(t, s, other, otherToken)
	mustUnlock(t, s, other, otherToken) // unlocking a free lock is fine
	mustUnlock(t, s, id, mustTryLock(t, s, id, 10*time.Second, true))
}

func testLockExpiry(t *testing.T, s sessions.Store) {
	id := newID(t)
	first := mustTryLock(t, s, id, 300*time.Millisecond, true)

	var second string
	deadline := time.Now().Add(5 * time.Second)
	for second == "" {
		if time.Now().After(deadline) {
			t.Fatal("a lock taken with a 300ms ttl was still held after 5s")
		}
		time.Sleep(25 * time.Millisecond)
		token, ok, err := s.TryLock(testContext(t), id, 10*time.Second)
		if err != nil {
			t.Fatalf("TryLock: %v", err)
		}
		if ok {
			second = token
		}
	}
	// The first holder's late Unlock must not free the second's lock.
	mustUnlock(t, s, id, first)
	mustTryLock(t, s, id, 10*time.Second, false)
	mustUnlock(t, s, id, second)
}

func testExpiry(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	start := time.Now()

	// short expires at its own ExpiresAt, parts and all.
	short := multipartSession(newID(t))
	short.ExpiresAt = start.Add(time.Second)
	// moved starts with an hour and gets a 1s expiry from a Transition.
	moved := multipartSession(newID(t))
	// extended starts with 1s and gets an hour from a Transition.
	extended := multipartSession(newID(t))
	extended.ExpiresAt = start.Add(time.Second)

	for _, sess := range []*sessions.Session{short, moved, extended} {
		mustCreate(t, s, sess)
	}
	_, errPut := s.PutPart(ctx, short.ID, multipart.Part{Number: 1, ETag: `"e"`, Size: 5})
	_, errMoved := s.Transition(ctx, moved.ID, sessions.Change{
		From:      []sessions.State{sessions.StatePending},
		To:        sessions.StateAborted,
		ExpiresAt: start.Add(time.Second),
	})
	_, errExt := s.Transition(ctx, extended.ID, sessions.Change{
		From:      []sessions.State{sessions.StatePending},
		To:        sessions.StateUploading,
		ExpiresAt: start.Add(time.Hour),
	})
	// These calls ran well within the second before the expiry.
	for _, err := range []error{errPut, errMoved, errExt} {
		if err != nil {
			t.Fatalf("within 1s of Create (after %v): %v", time.Since(start), err)
		}
	}

	// A store with a retention keeps the keys that long past ExpiresAt.
	var retention time.Duration
	if r, ok := s.(interface{ Retention() time.Duration }); ok {
		retention = r.Retention()
	}
	if retention > 2*time.Second {
		t.Fatalf("the store keeps sessions %v past their expiry: run the suite on a store with a retention of at most 2s", retention)
	}
	deadline := start.Add(6*time.Second + retention)
	gone := map[string]bool{}
	for len(gone) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("sessions past their ExpiresAt still there after 5s: short gone %v, moved gone %v", gone[short.ID], gone[moved.ID])
		}
		for _, id := range []string{short.ID, moved.ID} {
			if gone[id] {
				continue
			}
			_, err := s.Get(ctx, id)
			switch {
			case errors.Is(err, sessions.ErrNotFound):
				if early := time.Until(start.Add(time.Second + retention)); early > 250*time.Millisecond {
					t.Errorf("session %s vanished %v before its ExpiresAt plus the retention (%v)", id, early, retention)
				}
				gone[id] = true
			case err != nil:
				t.Fatalf("Get(%s): %v", id, err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}

	// extended's original expiry has passed too: its later one holds.
	got, err := s.Get(ctx, extended.ID)
	if err != nil {
		t.Fatalf("Get of a session whose expiry was extended: %v", err)
	}
	if got.State != sessions.StateUploading {
		t.Errorf("extended: State = %q, want uploading", got.State)
	}
}

func testPing(t *testing.T, s sessions.Store) {
	if err := s.Ping(testContext(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// expirer returns the store's Expirer; the expiry subtests need one.
func expirer(t *testing.T, s sessions.Store) sessions.Expirer {
	t.Helper()
	e, ok := sessions.AsExpirer(s)
	if !ok {
		t.Fatalf("%T is not a sessions.Expirer", s)
	}
	return e
}

// dueHas reports whether id is among the ids due at now (the index may be
// shared with other tests: the limit is large).
func dueHas(t *testing.T, e sessions.Expirer, now time.Time, id string) bool {
	t.Helper()
	ids, err := e.DueForExpiry(testContext(t), now, 1_000_000)
	if err != nil {
		t.Fatalf("DueForExpiry: %v", err)
	}
	return slices.Contains(ids, id)
}

func testExpiryIndex(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	e := expirer(t, s)
	now := time.Now()

	a := multipartSession(newID(t))
	a.ExpiresAt = now.Add(time.Hour)
	mustCreate(t, s, a)
	if dueHas(t, e, now, a.ID) {
		t.Errorf("a session expiring in an hour is due now")
	}
	if !dueHas(t, e, now.Add(2*time.Hour), a.ID) {
		t.Errorf("a session expiring in an hour is not due in two hours")
	}
	if ids, err := e.DueForExpiry(ctx, now.Add(2*time.Hour), 1); err != nil || len(ids) != 1 {
		t.Errorf("DueForExpiry(limit 1) = %v, %v; want one id", ids, err)
	}

	// A Transition with an ExpiresAt moves the entry.
	b := multipartSession(newID(t))
	b.ExpiresAt = now.Add(time.Hour)
	mustCreate(t, s, b)
	if _, err := s.Transition(ctx, b.ID, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateUploading, ExpiresAt: now.Add(3 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if dueHas(t, e, now.Add(2*time.Hour), b.ID) {
		t.Errorf("a session moved to expire in 3h is still due in 2h")
	}
	if !dueHas(t, e, now.Add(4*time.Hour), b.ID) {
		t.Errorf("a session moved to expire in 3h is not due in 4h")
	}

	// Terminal sessions leave the index, with or without an ExpiresAt.
	if _, err := s.Transition(ctx, a.ID, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, b.ID, sessions.Change{
		From: []sessions.State{sessions.StateUploading}, To: sessions.StateCompleted, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if dueHas(t, e, now.Add(10*time.Hour), id) {
			t.Errorf("terminal session %s is still in the expiry index", id)
		}
	}

	// ForgetExpiry removes an entry, and is a no-op for an unknown id.
	c := multipartSession(newID(t))
	c.ExpiresAt = now.Add(time.Hour)
	mustCreate(t, s, c)
	for range 2 {
		if err := e.ForgetExpiry(ctx, c.ID); err != nil {
			t.Fatalf("ForgetExpiry: %v", err)
		}
	}
	if dueHas(t, e, now.Add(2*time.Hour), c.ID) {
		t.Errorf("a forgotten session is still due")
	}
	// ScheduleExpiry puts it back, at the time it is given.
	if err := e.ScheduleExpiry(ctx, c.ID, now.Add(5*time.Hour)); err != nil {
		t.Fatalf("ScheduleExpiry: %v", err)
	}
	if dueHas(t, e, now.Add(4*time.Hour), c.ID) || !dueHas(t, e, now.Add(6*time.Hour), c.ID) {
		t.Errorf("a session scheduled for 5h is not due between 4h and 6h")
	}
	if got := mustGet(t, s, c.ID); got.State != sessions.StatePending {
		t.Errorf("ForgetExpiry changed the session: state %q", got.State)
	}
}

func testExpiryClaim(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	e := expirer(t, s)
	id := newID(t)

	// Many claims at once: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			ok, err := e.ClaimExpiry(ctx, id, 300*time.Millisecond)
			if err != nil {
				t.Errorf("ClaimExpiry: %v", err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d of 8 concurrent claims won, want 1", won)
	}
	// The claim runs out: someone may claim again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := e.ClaimExpiry(ctx, id, time.Minute)
		if err != nil {
			t.Fatalf("ClaimExpiry: %v", err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a 300ms claim still held after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok, err := e.ClaimExpiry(ctx, id, time.Minute); ok || err != nil {
		t.Errorf("claim while another holds it = %v, %v; want false, nil", ok, err)
	}
}

// testTransitionFenced: a Transition fenced with a lock token applies only
// while the lock holds that token; a stale token (the lock ran out and
// another holder took it) changes nothing.
func testTransitionFenced(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	want := multipartSession(newID(t))
	mustCreate(t, s, want)
	toCompleting := sessions.Change{
		From: []sessions.State{sessions.StatePending, sessions.StateUploading},
		To:   sessions.StateCompleting,
	}

	// No lock at all: a fenced change is refused.
	c := toCompleting
	c.Token = "nobody-holds-this"
	if _, err := s.Transition(ctx, want.ID, c); !errors.Is(err, sessions.ErrLockLost) {
		t.Fatalf("fenced Transition without a lock: %v, want ErrLockLost", err)
	}

	// The first holder's lock runs out; a second holder takes it.
	stale := mustTryLock(t, s, want.ID, 200*time.Millisecond, true)
	var fresh string
	deadline := time.Now().Add(5 * time.Second)
	for fresh == "" {
		if time.Now().After(deadline) {
			t.Fatal("a lock with a 200ms ttl was still held after 5s")
		}
		time.Sleep(25 * time.Millisecond)
		tok, ok, err := s.TryLock(ctx, want.ID, 10*time.Second)
		if err != nil {
			t.Fatalf("TryLock: %v", err)
		}
		if ok {
			fresh = tok
		}
	}
	c.Token = stale
	if _, err := s.Transition(ctx, want.ID, c); !errors.Is(err, sessions.ErrLockLost) {
		t.Fatalf("Transition fenced with a stale token: %v, want ErrLockLost", err)
	}
	checkFields(t, "Get after a stale token's Transition", mustGet(t, s, want.ID), want)

	// The holder's token applies; an unfenced change still works as before.
	c.Token = fresh
	got, err := s.Transition(ctx, want.ID, c)
	if err != nil {
		t.Fatalf("Transition fenced with the holder's token: %v", err)
	}
	if got.State != sessions.StateCompleting {
		t.Fatalf("state %q after the fenced Transition, want completing", got.State)
	}
	// The stale holder cannot write a result over the new holder's.
	_, err = s.Transition(ctx, want.ID, sessions.Change{
		From: []sessions.State{sessions.StateCompleting}, To: sessions.StateCompleted, ETag: `"stale"`, Token: stale,
	})
	if !errors.Is(err, sessions.ErrLockLost) {
		t.Fatalf("stale token completing: %v, want ErrLockLost", err)
	}
	if got := mustGet(t, s, want.ID); got.State != sessions.StateCompleting || got.ETag != want.ETag {
		t.Fatalf("after the stale complete: state %q etag %q", got.State, got.ETag)
	}
	mustUnlock(t, s, want.ID, fresh)
}

// testEventMark: a Change with an Event marks the session in the same
// step; EventDone clears the mark only if it is still of that type; a
// store that is an EventMarker lists the marks left.
func testEventMark(t *testing.T, s sessions.Store) {
	ctx := testContext(t)
	id, other := newID(t), newID(t)
	mustCreate(t, s, multipartSession(id))
	mustCreate(t, s, multipartSession(other))
	if got := mustGet(t, s, id); got.EventPending != "" {
		t.Fatalf("a new session has the event mark %q", got.EventPending)
	}
	got, err := s.Transition(ctx, id, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted, Event: "upload.aborted",
	})
	if err != nil {
		t.Fatalf("Transition with an Event: %v", err)
	}
	if got.EventPending != "upload.aborted" || mustGet(t, s, id).EventPending != "upload.aborted" {
		t.Fatalf("event mark %q after the Transition, want upload.aborted", got.EventPending)
	}
	// A refused change marks nothing.
	if _, err := s.Transition(ctx, other, sessions.Change{
		From: []sessions.State{sessions.StateCompleting}, To: sessions.StateCompleted, Event: "upload.completed",
	}); err == nil {
		t.Fatal("a Transition from the wrong state applied")
	}
	if got := mustGet(t, s, other); got.EventPending != "" {
		t.Fatalf("a refused Transition left the mark %q", got.EventPending)
	}

	em, ok := sessions.AsEventMarker(s)
	if !ok {
		return // the marks are still written and read through Get
	}
	found := func() map[string]string {
		m := map[string]string{}
		if err := em.PendingEvents(ctx, func(sid, typ string, changed time.Time) {
			if sid == id || sid == other {
				m[sid] = typ
				if time.Since(changed) > time.Minute || changed.After(time.Now().Add(time.Minute)) {
					t.Errorf("mark of %s changed at %v", sid, changed)
				}
			}
		}); err != nil {
			t.Fatalf("PendingEvents: %v", err)
		}
		return m
	}
	if m := found(); len(m) != 1 || m[id] != "upload.aborted" {
		t.Fatalf("PendingEvents found %v, want only %s", m, id)
	}
	// A mark of another type is not cleared.
	if err := em.EventDone(ctx, id, "upload.completed"); err != nil {
		t.Fatalf("EventDone: %v", err)
	}
	if mustGet(t, s, id).EventPending != "upload.aborted" {
		t.Fatal("EventDone of another type cleared the mark")
	}
	if err := em.EventDone(ctx, id, "upload.aborted"); err != nil {
		t.Fatalf("EventDone: %v", err)
	}
	if got := mustGet(t, s, id); got.EventPending != "" || got.State != sessions.StateAborted {
		t.Fatalf("after EventDone: mark %q state %q", got.EventPending, got.State)
	}
	if m := found(); len(m) != 0 {
		t.Fatalf("PendingEvents after EventDone found %v", m)
	}
	// One pass claim at a time.
	if ok, err := em.ClaimEventPass(ctx, 10*time.Second); err != nil {
		t.Fatalf("ClaimEventPass: %v", err)
	} else if ok {
		if again, err := em.ClaimEventPass(ctx, 10*time.Second); err != nil || again {
			t.Fatalf("second ClaimEventPass: %v %v, want refused", again, err)
		}
	}
}

// testExtendLock: a store that is a LockExtender renews a lock only for
// the token holding it.
func testExtendLock(t *testing.T, s sessions.Store) {
	le, ok := sessions.AsLockExtender(s)
	if !ok {
		return
	}
	ctx := testContext(t)
	id := newID(t)
	token := mustTryLock(t, s, id, 300*time.Millisecond, true)
	for range 4 { // well past the first ttl, renewed every 150ms
		time.Sleep(150 * time.Millisecond)
		if ok, err := le.ExtendLock(ctx, id, token, 300*time.Millisecond); err != nil || !ok {
			t.Fatalf("ExtendLock by the holder: %v %v", ok, err)
		}
	}
	mustTryLock(t, s, id, time.Second, false)
	if ok, err := le.ExtendLock(ctx, id, token+"x", time.Minute); err != nil || ok {
		t.Fatalf("ExtendLock with another token: %v %v, want refused", ok, err)
	}
	mustUnlock(t, s, id, token)
	if ok, err := le.ExtendLock(ctx, id, token, time.Minute); err != nil || ok {
		t.Fatalf("ExtendLock of a released lock: %v %v, want refused", ok, err)
	}
	mustUnlock(t, s, id, mustTryLock(t, s, id, time.Second, true))
}
