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
