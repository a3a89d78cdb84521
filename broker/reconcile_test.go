package broker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

// failingSink refuses every event while fail is set.
type failingSink struct {
	sink
	fail atomic.Bool
}

func (f *failingSink) Publish(ctx context.Context, ev Event) error {
	if f.fail.Load() {
		return errors.New("outbox down")
	}
	return f.sink.Publish(ctx, ev)
}

func pendingMark(t *testing.T, svc *Service, id string) string {
	t.Helper()
	sess, err := svc.sessions.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sess.EventPending
}

// TestReconcileEventLeftByACrash: a session ended by a process that died
// before publishing (the transition with its mark written, nothing else)
// gets its event from the reconciler once the grace has passed, once.
func TestReconcileEventLeftByACrash(t *testing.T) {
	e := newJanitorEnv(t)
	a, b := e.service(t), e.service(t)
	res := e.createMultipart(t, a)

	// What a process that died right after the transition leaves behind.
	if _, err := a.sessions.Transition(t.Context(), res.ID, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted, Event: EventAborted,
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.ReconcileEvents(t.Context(), time.Hour, time.Millisecond); err != nil || n != 0 {
		t.Fatalf("within the grace: %d events, %v; want none", n, err)
	}
	e.mr.FastForward(time.Second) // the pass claim runs out
	n, err := b.ReconcileEvents(t.Context(), 0, time.Second)
	if err != nil || n != 1 {
		t.Fatalf("reconcile: %d events, %v; want 1", n, err)
	}
	evs := e.sink.ofType(EventAborted)
	if len(evs) != 1 || evs[0].ID != res.ID+":"+EventAborted || evs[0].Upload.ID != res.ID || evs[0].Upload.Key != res.Key {
		t.Fatalf("events %+v", evs)
	}
	if m := pendingMark(t, b, res.ID); m != "" {
		t.Fatalf("mark %q left after the reconciler published", m)
	}
	// Another replica's pass within the claim does nothing; a later pass
	// finds no mark.
	if n, err := a.ReconcileEvents(t.Context(), 0, time.Second); err != nil || n != 0 {
		t.Fatalf("second replica: %d events, %v", n, err)
	}
	e.mr.FastForward(2 * time.Second)
	if n, err := a.ReconcileEvents(t.Context(), 0, time.Second); err != nil || n != 0 {
		t.Fatalf("later pass: %d events, %v", n, err)
	}
	if len(e.sink.ofType(EventAborted)) != 1 {
		t.Fatalf("events %+v", e.sink.ofType(EventAborted))
	}
}

// TestReconcileEventTheSinkRefused: an abort whose event the sink refused
// keeps its mark and is published by a later pass; one that went out
// leaves no mark.
func TestReconcileEventTheSinkRefused(t *testing.T) {
	e := newJanitorEnv(t)
	fs := &failingSink{}
	svc, err := New(Config{
		Profiles: e.service(t).profiles, Backends: map[string]ObjectStore{"main": e.store},
		Sessions: sessions.NewRedisStore(e.rc), TTL: time.Hour, Events: fs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ok := e.createMultipart(t, svc)
	if _, err := svc.Abort(t.Context(), "alice", ok.ID); err != nil {
		t.Fatal(err)
	}
	if m := pendingMark(t, svc, ok.ID); m != "" {
		t.Fatalf("a published event left the mark %q", m)
	}
	fs.fail.Store(true)
	lost := e.createMultipart(t, svc)
	if _, err := svc.Abort(t.Context(), "alice", lost.ID); err != nil {
		t.Fatal(err)
	}
	if m := pendingMark(t, svc, lost.ID); m != EventAborted {
		t.Fatalf("mark %q after a refused publish, want %s", m, EventAborted)
	}
	fs.fail.Store(false)
	if n, err := svc.ReconcileEvents(t.Context(), 0, time.Millisecond); err != nil || n != 1 {
		t.Fatalf("reconcile: %d, %v; want 1", n, err)
	}
	evs := fs.ofType(EventAborted)
	if len(evs) != 2 || evs[1].ID != lost.ID+":"+EventAborted {
		t.Fatalf("events %+v", evs)
	}
}

// TestCompleteFencedByLockToken: a complete whose lock ran out and was
// taken by another holder while it worked cannot write its result.
func TestCompleteFencedByLockToken(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	res := e.createMultipart(t, svc)
	lockKey := "chute:{" + res.ID + "}:l"
	_, err := svc.completeLocked(t.Context(), res.ID, func(ctx context.Context, sess *sessions.Session) (ObjectInfo, error) {
		// The lock runs out and another replica takes it meanwhile.
		e.mr.Del(lockKey)
		if err := e.mr.Set(lockKey, "another-holder"); err != nil {
			t.Fatal(err)
		}
		return ObjectInfo{Size: sess.Size, ETag: "stale-result"}, nil
	})
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeConflict {
		t.Fatalf("complete with a lost lock: %v, want conflict", err)
	}
	sess, err := svc.sessions.Get(t.Context(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sess.State != sessions.StateCompleting || sess.ETag != "" || sess.EventPending != "" {
		t.Fatalf("the stale holder wrote: state %q etag %q mark %q", sess.State, sess.ETag, sess.EventPending)
	}
	if len(e.sink.ofType(EventCompleted)) != 0 {
		t.Fatal("the stale holder announced upload.completed")
	}
	if v, _ := e.mr.Get(lockKey); v != "another-holder" {
		t.Fatalf("the stale holder's unlock freed the other's lock: %q", v)
	}
}

// TestCompleteLockIsALease: the lock of a running complete is short-lived
// and renewed by its holder, so a dead holder frees it soon.
func TestCompleteLockIsALease(t *testing.T) {
	old := lockLease
	lockLease = 300 * time.Millisecond
	t.Cleanup(func() { lockLease = old })
	e := newJanitorEnv(t)
	svc := e.service(t)
	res := e.createMultipart(t, svc)
	lockKey := "chute:{" + res.ID + "}:l"
	_, err := svc.completeLocked(t.Context(), res.ID, func(ctx context.Context, sess *sessions.Session) (ObjectInfo, error) {
		if ttl := e.mr.TTL(lockKey); ttl <= 0 || ttl > lockLease {
			t.Errorf("lock ttl %v, want at most the lease %v", ttl, lockLease)
		}
		for range 3 {
			e.mr.FastForward(200 * time.Millisecond) // 600ms in all: gone unless renewed
			time.Sleep(250 * time.Millisecond)       // a renewal every 100ms
		}
		if v, _ := e.mr.Get(lockKey); v != lockToken(ctx) || v == "" {
			t.Errorf("lock %q after twice its lease, want the holder's token", v)
		}
		return ObjectInfo{Size: sess.Size, ETag: "etag-1"}, nil
	})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if e.mr.Exists(lockKey) {
		t.Error("the lock outlived the complete")
	}
}
