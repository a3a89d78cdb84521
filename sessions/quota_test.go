package sessions_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

// fakeClock is a settable clock for the quota store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newQuotaStore(t *testing.T) (*sessions.QuotaStore, *fakeClock) {
	_, client := newMiniredis(t)
	q := sessions.NewQuotaStore(client, "t")
	// Two minutes into the next hour: hour buckets are easy to reason
	// about, and the keys' expiries (PEXPIREAT, on miniredis's wall clock)
	// lie ahead.
	clk := &fakeClock{t: time.Now().Truncate(time.Hour).Add(time.Hour + 2*time.Minute)}
	sessions.SetQuotaClock(q, clk.now)
	return q, clk
}

func usage(t *testing.T, q *sessions.QuotaStore, subject, scope string) sessions.QuotaUsage {
	t.Helper()
	u, err := q.Usage(context.Background(), subject, scope)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestQuotaOpenBytes(t *testing.T) {
	q, clk := newQuotaStore(t)
	ctx := context.Background()
	lim := []sessions.QuotaLimit{{OpenBytes: 25}}
	until := clk.now().Add(time.Hour)
	for _, id := range []string{"upl_a", "upl_b"} {
		if ref, err := q.Reserve(ctx, "alice", id, 10, until, lim); err != nil || ref != nil {
			t.Fatalf("reserve %s: %+v %v", id, ref, err)
		}
	}
	ref, err := q.Reserve(ctx, "alice", "upl_c", 10, until, lim)
	if err != nil || ref == nil {
		t.Fatalf("third reserve: %+v %v, want refused", ref, err)
	}
	if ref.Daily || ref.Limit != 25 || ref.Used != 20 || ref.Scope != "" {
		t.Errorf("refusal %+v, want open limit 25 used 20", ref)
	}
	// Another subject has its own budget.
	if ref, err := q.Reserve(ctx, "bob", "upl_d", 25, until, lim); err != nil || ref != nil {
		t.Fatalf("bob: %+v %v", ref, err)
	}
	// Re-reserving an id replaces its amount instead of adding to it.
	if ref, err := q.Reserve(ctx, "alice", "upl_b", 15, until, lim); err != nil || ref != nil {
		t.Fatalf("re-reserve: %+v %v", ref, err)
	}
	if u := usage(t, q, "alice", ""); u.OpenBytes != 25 {
		t.Fatalf("open %d, want 25", u.OpenBytes)
	}
	// A release frees the bytes; a settle moves the real size to the day.
	if err := q.Release(ctx, "alice", "upl_a", []string{""}); err != nil {
		t.Fatal(err)
	}
	if ref, err := q.Reserve(ctx, "alice", "upl_c", 10, until, lim); err != nil || ref != nil {
		t.Fatalf("reserve after release: %+v %v", ref, err)
	}
	held, err := q.Settle(ctx, "alice", "upl_b", 12, []string{""})
	if err != nil || !held {
		t.Fatalf("settle: %v %v", held, err)
	}
	if u := usage(t, q, "alice", ""); u.OpenBytes != 10 || u.DailyBytes != 12 {
		t.Fatalf("usage %+v, want open 10 daily 12", u)
	}
	// Settling again counts nothing more.
	if held, err := q.Settle(ctx, "alice", "upl_b", 12, []string{""}); err != nil || held {
		t.Fatalf("second settle: %v %v, want not held", held, err)
	}
	if u := usage(t, q, "alice", ""); u.DailyBytes != 12 {
		t.Fatalf("daily %d after a repeated settle, want 12", u.DailyBytes)
	}
}

func TestQuotaDailyRollingWindow(t *testing.T) {
	q, clk := newQuotaStore(t)
	ctx := context.Background()
	lim := []sessions.QuotaLimit{{DailyBytes: 100}}
	t0 := clk.now()
	done := func(id string, n int64) {
		t.Helper()
		if ref, err := q.Reserve(ctx, "alice", id, n, clk.now().Add(time.Hour), lim); err != nil || ref != nil {
			t.Fatalf("reserve %s: %+v %v", id, ref, err)
		}
		if held, err := q.Settle(ctx, "alice", id, n, []string{""}); err != nil || !held {
			t.Fatalf("settle %s: %v %v", id, held, err)
		}
	}
	done("upl_1", 60)
	clk.set(t0.Add(3 * time.Hour))
	done("upl_2", 30)

	// Open reservations count against the day too.
	if ref, err := q.Reserve(ctx, "alice", "upl_3", 5, clk.now().Add(48*time.Hour), lim); err != nil || ref != nil {
		t.Fatalf("reserve 5: %+v %v", ref, err)
	}
	ref, err := q.Reserve(ctx, "alice", "upl_4", 20, clk.now().Add(time.Hour), lim)
	if err != nil || ref == nil || !ref.Daily || ref.Used != 95 || ref.Limit != 100 {
		t.Fatalf("reserve 20 over the day: %+v %v, want daily refusal, used 95", ref, err)
	}
	// upl_1's 60 bytes leave the window 25 hours after the start of its hour.
	leave := t0.Truncate(time.Hour).Add(25 * time.Hour)
	if want := leave.Sub(clk.now()); ref.RetryAfter != want {
		t.Errorf("retry after %v, want %v", ref.RetryAfter, want)
	}
	clk.set(leave.Add(-time.Millisecond))
	if ref, _ := q.Reserve(ctx, "alice", "upl_4", 20, clk.now().Add(time.Hour), lim); ref == nil {
		t.Fatal("reserve allowed a millisecond before the old bytes leave the window")
	}
	if u := usage(t, q, "alice", ""); u.DailyBytes != 90 {
		t.Fatalf("daily %d before the window moves, want 90", u.DailyBytes)
	}
	clk.set(leave)
	if ref, err := q.Reserve(ctx, "alice", "upl_4", 20, clk.now().Add(time.Hour), lim); err != nil || ref != nil {
		t.Fatalf("reserve once the old bytes left: %+v %v", ref, err)
	}
	if u := usage(t, q, "alice", ""); u.DailyBytes != 30 || u.OpenBytes != 25 {
		t.Fatalf("usage %+v, want daily 30 open 25", u)
	}
	// An upload over the whole quota can never fit: no retry time.
	ref, err = q.Reserve(ctx, "alice", "upl_5", 101, clk.now().Add(time.Hour), lim)
	if err != nil || ref == nil || ref.RetryAfter != 0 {
		t.Fatalf("reserve over the whole quota: %+v %v, want refused without retry time", ref, err)
	}
}

func TestQuotaScopesAllOrNothing(t *testing.T) {
	q, clk := newQuotaStore(t)
	ctx := context.Background()
	until := clk.now().Add(time.Hour)
	lim := []sessions.QuotaLimit{{OpenBytes: 100}, {Scope: "video", OpenBytes: 30}}
	if ref, err := q.Reserve(ctx, "alice", "upl_a", 20, until, lim); err != nil || ref != nil {
		t.Fatalf("reserve: %+v %v", ref, err)
	}
	ref, err := q.Reserve(ctx, "alice", "upl_b", 20, until, lim)
	if err != nil || ref == nil || ref.Scope != "video" || ref.Used != 20 || ref.Limit != 30 {
		t.Fatalf("reserve over the profile's quota: %+v %v", ref, err)
	}
	// The refused reservation left nothing in the global scope.
	if u := usage(t, q, "alice", ""); u.OpenBytes != 20 {
		t.Fatalf("global open %d, want 20", u.OpenBytes)
	}
	if u := usage(t, q, "alice", "video"); u.OpenBytes != 20 {
		t.Fatalf("profile open %d, want 20", u.OpenBytes)
	}
	if _, err := q.Settle(ctx, "alice", "upl_a", 20, []string{"", "video"}); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []string{"", "video"} {
		if u := usage(t, q, "alice", sc); u.OpenBytes != 0 || u.DailyBytes != 20 {
			t.Fatalf("scope %q: %+v, want open 0 daily 20", sc, u)
		}
	}
}

func TestQuotaReservationEndsItself(t *testing.T) {
	q, clk := newQuotaStore(t)
	ctx := context.Background()
	lim := []sessions.QuotaLimit{{OpenBytes: 10}}
	if ref, err := q.Reserve(ctx, "alice", "upl_a", 10, clk.now().Add(time.Minute), lim); err != nil || ref != nil {
		t.Fatalf("reserve: %+v %v", ref, err)
	}
	if ref, _ := q.Reserve(ctx, "alice", "upl_b", 1, clk.now().Add(time.Hour), lim); ref == nil {
		t.Fatal("reserve over the quota allowed")
	}
	clk.set(clk.now().Add(2 * time.Minute)) // upl_a's reservation ran out (its release was lost)
	if ref, err := q.Reserve(ctx, "alice", "upl_b", 10, clk.now().Add(time.Hour), lim); err != nil || ref != nil {
		t.Fatalf("reserve after the old one ran out: %+v %v", ref, err)
	}
	// Settling the pruned reservation counts nothing.
	if held, err := q.Settle(ctx, "alice", "upl_a", 10, []string{""}); err != nil || held {
		t.Fatalf("settle of a pruned reservation: %v %v", held, err)
	}
	if u := usage(t, q, "alice", ""); u.OpenBytes != 10 || u.DailyBytes != 0 {
		t.Fatalf("usage %+v, want open 10 daily 0", u)
	}
}

// TestQuotaConcurrentReserves races reservations from many clients: the
// check and the write are one script, so exactly the ones that fit pass.
func TestQuotaConcurrentReserves(t *testing.T) {
	_, client := newMiniredis(t)
	ctx := context.Background()
	stores := []*sessions.QuotaStore{sessions.NewQuotaStore(client, "t"), sessions.NewQuotaStore(client, "t")}
	lim := []sessions.QuotaLimit{{OpenBytes: 50 << 20}, {Scope: "default", DailyBytes: 1 << 30}}
	until := time.Now().Add(time.Hour)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ref, err := stores[i%2].Reserve(ctx, "alice", fmt.Sprintf("upl_%02d", i), 10<<20, until, lim)
			if err != nil {
				t.Error(err)
			}
			if ref == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Fatalf("%d reservations of 10 MiB passed an open quota of 50 MiB, want 5", ok.Load())
	}
	if u := usage(t, stores[0], "alice", "default"); u.OpenBytes != 50<<20 {
		t.Fatalf("profile scope holds %d, want 50 MiB", u.OpenBytes)
	}
}

// TestQuotaKeysShareASlot checks that every key of a subject carries the
// same hash tag, whatever the subject holds, and that subjects differ.
func TestQuotaKeysShareASlot(t *testing.T) {
	m, client := newMiniredis(t)
	q := sessions.NewQuotaStore(client, "t")
	ctx := context.Background()
	subjects := []string{"alice", "a}b", "}x", "{y}", "~alice", ""}
	for i, s := range subjects {
		lim := []sessions.QuotaLimit{{OpenBytes: 10}, {Scope: "video", OpenBytes: 10}}
		id := fmt.Sprintf("upl_%d", i)
		if ref, err := q.Reserve(ctx, s, id, 1, time.Now().Add(time.Hour), lim); err != nil || ref != nil {
			t.Fatalf("subject %q: %+v %v", s, ref, err)
		}
		if _, err := q.Settle(ctx, s, id, 1, []string{"", "video"}); err != nil {
			t.Fatal(err)
		}
	}
	tags := map[string]bool{}
	for _, k := range m.Keys() {
		open := strings.Index(k, "{")
		end := strings.Index(k[open:], "}")
		if open < 0 || end <= 1 {
			t.Fatalf("key %q has no hash tag", k)
		}
		tags[k[open+1:open+end]] = true
	}
	if len(tags) != len(subjects) {
		t.Fatalf("%d hash tags for %d subjects: %v", len(tags), len(subjects), tags)
	}
	if !tags["alice"] {
		t.Errorf("a plain subject is not its own tag: %v", tags)
	}
}
