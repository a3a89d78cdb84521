package sessions

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestEndBus: announcements reach every subscriber of the same prefix,
// not others; a subscription reports its start (reset) and, after the
// connection is lost, its restart.
func TestEndBus(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })

	type ann struct{ id, state string }
	follow := func(prefix string) (chan ann, chan struct{}) {
		got, resets := make(chan ann, 10), make(chan struct{}, 10)
		bus := NewEndBus(rc, prefix)
		bus.retry = 20 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- bus.SubscribeEnded(ctx, func(id, state string) { got <- ann{id, state} }, func() { resets <- struct{}{} })
		}()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != context.Canceled {
					t.Errorf("SubscribeEnded returned %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("SubscribeEnded did not return after cancel")
			}
		})
		return got, resets
	}
	wait := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	a, resetA := follow("")
	b, resetB := follow("chute")
	other, resetO := follow("other")
	wait("reset of a", resetA)
	wait("reset of b", resetB)
	wait("reset of other", resetO)

	if err := NewEndBus(rc, "").PublishEnded(context.Background(), "upl_x", "completed"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan ann{a, b} {
		select {
		case m := <-c:
			if m != (ann{"upl_x", "completed"}) {
				t.Fatalf("got %+v", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("announcement not delivered")
		}
	}
	select {
	case m := <-other:
		t.Fatalf("another prefix got %+v", m)
	case <-time.After(100 * time.Millisecond):
	}

	// The connection drops: the feed restarts and says so.
	mr.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	wait("reset of a after a restart", resetA)
	wait("reset of b after a restart", resetB)
}
