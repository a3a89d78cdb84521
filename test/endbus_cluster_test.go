package test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/test/containers"
)

// TestEndBusOnRedisCluster: on a Redis Cluster, an end announced through
// any master reaches a subscriber wherever its connection landed (classic
// pub/sub is broadcast over the cluster bus), so replicas on one Cluster
// keep each other's signing caches right (broker/signcache.go).
func TestEndBusOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	rc := cl.Client(t)
	got, resets := make(chan string, 10), make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sessions.NewEndBus(rc, "").SubscribeEnded(ctx, func(id, state string) { got <- id + " " + state }, func() { resets <- struct{}{} })
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-resets:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription on the cluster")
	}
	// Publish through each master directly, and through the cluster client.
	for i, addr := range cl.Addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		bus := sessions.NewEndBus(c, "")
		if err := bus.PublishEnded(t.Context(), "upl_node"+string(rune('a'+i)), "aborted"); err != nil {
			t.Fatalf("publish on %s: %v", addr, err)
		}
		_ = c.Close()
	}
	if err := sessions.NewEndBus(rc, "").PublishEnded(t.Context(), "upl_cluster", "completed"); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"upl_nodea aborted": true, "upl_nodeb aborted": true, "upl_nodec aborted": true, "upl_cluster completed": true}
	for len(want) > 0 {
		select {
		case m := <-got:
			if !want[m] {
				t.Fatalf("unexpected announcement %q", m)
			}
			delete(want, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("announcements not delivered: %v", want)
		}
	}
}
