package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSessionIndexGauges(t *testing.T) {
	m := New()
	var open, due int64 = 7, 3
	var fail error
	var deadline time.Time
	m.SessionIndex(func(ctx context.Context) (int64, int64, error) {
		deadline, _ = ctx.Deadline()
		return open, due, fail
	})
	want := `
# HELP chute_janitor_backlog_sessions Sessions past their expiry that the janitor has not ended yet, across all replicas: read from Redis at each scrape.
# TYPE chute_janitor_backlog_sessions gauge
chute_janitor_backlog_sessions 3
# HELP chute_sessions_open Sessions not yet ended whose expiry is ahead (uploads in flight), across all replicas: read from Redis at each scrape.
# TYPE chute_sessions_open gauge
chute_sessions_open 7
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "chute_sessions_open", "chute_janitor_backlog_sessions"); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(deadline); d <= 0 || d > indexTimeout {
		t.Errorf("read's deadline %v from now, want within %v", d, indexTimeout)
	}

	// Read at each scrape, not cached.
	open, due = 1, 0
	want = strings.NewReplacer("sessions 3", "sessions 0", "open 7", "open 1").Replace(want)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "chute_sessions_open", "chute_janitor_backlog_sessions"); err != nil {
		t.Fatalf("after a change: %v", err)
	}

	// A failed read exports neither gauge.
	fail = errors.New("redis down")
	if n, err := testutil.GatherAndCount(m.Registry(), "chute_sessions_open", "chute_janitor_backlog_sessions"); err != nil || n != 0 {
		t.Errorf("with the read failing: %d series (%v), want none", n, err)
	}
}
