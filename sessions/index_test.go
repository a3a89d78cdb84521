package sessions_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

func TestIndexCounts(t *testing.T) {
	ctx := t.Context()
	m, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	other := sessions.NewRedisStore(client, sessions.WithKeyPrefix("other"))
	now := time.Now().Truncate(time.Millisecond)
	soon, later := now.Add(time.Hour), now.Add(3*time.Hour)
	for id, exp := range map[string]time.Time{"a": soon, "b": soon, "c": later} {
		if err := store.Create(ctx, session(id, exp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Create(ctx, session("x", soon)); err != nil {
		t.Fatal(err)
	}
	// An ended session leaves the index.
	if _, err := store.Transition(ctx, "b", sessions.Change{From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		at        time.Time
		open, due int64
	}{
		{now, 2, 0},
		{soon.Add(-time.Millisecond), 2, 0},
		{soon, 1, 1}, // expiring at now is due
		{later.Add(time.Minute), 0, 2},
	} {
		open, due, err := store.IndexCounts(ctx, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if open != tc.open || due != tc.due {
			t.Errorf("IndexCounts(now+%s) = open %d, due %d; want %d, %d", tc.at.Sub(now), open, due, tc.open, tc.due)
		}
	}

	m.Close()
	if _, _, err := store.IndexCounts(ctx, now); !errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("IndexCounts with Redis gone: %v, want ErrUnavailable", err)
	}
}
