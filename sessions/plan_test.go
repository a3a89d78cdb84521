package sessions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

func TestRedisStoreSetPlan(t *testing.T) {
	m, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	ctx := context.Background()
	expires := time.Now().Add(time.Hour)
	s := session("upl_plan", expires)
	s.Size, s.PartSize, s.PartCount = 0, 0, 0
	if err := store.Create(ctx, s); err != nil {
		t.Fatal(err)
	}

	// Only a completing session takes a plan.
	_, err := store.SetPlan(ctx, s.ID, 12*multipart.MiB, 5*multipart.MiB, 3)
	var se *sessions.StateError
	if !errors.As(err, &se) || se.Current != sessions.StatePending {
		t.Fatalf("SetPlan on pending: err = %v, want StateError{pending}", err)
	}
	if _, err := store.Transition(ctx, s.ID, sessions.Change{From: []sessions.State{sessions.StatePending}, To: sessions.StateCompleting}); err != nil {
		t.Fatal(err)
	}
	got, err := store.SetPlan(ctx, s.ID, 12*multipart.MiB, 5*multipart.MiB, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 12*multipart.MiB || got.PartSize != 5*multipart.MiB || got.PartCount != 3 || got.State != sessions.StateCompleting {
		t.Fatalf("SetPlan returned %+v", got)
	}
	again, err := store.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Size != got.Size || again.PartSize != got.PartSize || again.PartCount != got.PartCount {
		t.Fatalf("Get after SetPlan = %+v", again)
	}
	// The expiry is untouched.
	ttlNear(t, m, "chute:{upl_plan}:s", expires.Add(sessions.DefaultRetention))

	if _, err := store.SetPlan(ctx, "upl_missing", 1, 1, 1); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("SetPlan on unknown: err = %v, want ErrNotFound", err)
	}
	if _, err := store.SetPlan(ctx, s.ID, -1, 0, 0); err == nil {
		t.Fatal("SetPlan accepted a negative size")
	}
}

// TestRedisStoreOpenEndedSession: a session of unknown size is stored as
// every version wrote it (size -1), loads as multipart.OpenEnded with size
// 0, and becomes Sized when its plan is recorded.
func TestRedisStoreOpenEndedSession(t *testing.T) {
	m, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	ctx := context.Background()
	s := session("upl_open", time.Now().Add(time.Hour))
	s.Kind, s.Size, s.PartSize, s.PartCount = multipart.OpenEnded, 0, 0, 0
	if err := store.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := m.HGet("chute:{upl_open}:s", "size"); got != "-1" {
		t.Fatalf("size field of an open-ended session = %q, want -1 (the encoding earlier versions read)", got)
	}
	check := func(what string, kind multipart.Kind, size int64) {
		t.Helper()
		for name, get := range map[string]func(context.Context, string) (*sessions.Session, error){"Get": store.Get, "GetSession": store.GetSession} {
			got, err := get(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != kind || got.Size != size {
				t.Fatalf("%s: %s = kind %v, size %d; want %v, %d", what, name, got.Kind, got.Size, kind, size)
			}
		}
	}
	check("created open-ended", multipart.OpenEnded, 0)

	// A hash an earlier version wrote (size -1 and no other trace of the
	// kind) loads as open-ended too.
	m.HSet("chute:{upl_open}:s", "size", "-1")
	check("written by an earlier version", multipart.OpenEnded, 0)

	if _, err := store.Transition(ctx, s.ID, sessions.Change{From: []sessions.State{sessions.StatePending}, To: sessions.StateCompleting}); err != nil {
		t.Fatal(err)
	}
	got, err := store.SetPlan(ctx, s.ID, 12*multipart.MiB, 5*multipart.MiB, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != multipart.Sized || got.Size != 12*multipart.MiB {
		t.Fatalf("SetPlan returned kind %v, size %d", got.Kind, got.Size)
	}
	check("after SetPlan", multipart.Sized, 12*multipart.MiB)

	// A sized session of size 0 stays sized.
	z := session("upl_zero", time.Now().Add(time.Hour))
	z.Size = 0
	if err := store.Create(ctx, z); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Get(ctx, z.ID); err != nil || got.Kind != multipart.Sized || got.Size != 0 {
		t.Fatalf("sized session of 0 bytes loads as %+v, %v", got, err)
	}
}
