package sessions_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/sessions"
)

func TestRateLimiterBurstThenRefuse(t *testing.T) {
	_, client := newMiniredis(t)
	ctx := context.Background()
	// 1 request per minute: after the burst nothing refills during the test.
	l := sessions.NewRateLimiter(client, "t", 1.0/60, 5)
	for i := range 5 {
		ok, wait, err := l.Allow(ctx, "alice")
		if err != nil || !ok || wait != 0 {
			t.Fatalf("request %d: ok=%v wait=%v err=%v, want allowed", i+1, ok, wait, err)
		}
	}
	ok, wait, err := l.Allow(ctx, "alice")
	if err != nil || ok {
		t.Fatalf("request 6: ok=%v err=%v, want refused", ok, err)
	}
	if wait <= 50*time.Second || wait > 60*time.Second {
		t.Errorf("request 6: wait %v, want about a minute", wait)
	}
	// Another subject has its own budget.
	if ok, _, err := l.Allow(ctx, "bob"); err != nil || !ok {
		t.Fatalf("bob: ok=%v err=%v, want allowed", ok, err)
	}
}

func TestRateLimiterSharedAcrossInstances(t *testing.T) {
	m, client := newMiniredis(t)
	ctx := context.Background()
	a := sessions.NewRateLimiter(client, "t", 1.0/60, 2)
	b := sessions.NewRateLimiter(client, "t", 1.0/60, 2)
	for _, l := range []*sessions.RateLimiter{a, b} {
		if ok, _, err := l.Allow(ctx, "alice"); err != nil || !ok {
			t.Fatalf("ok=%v err=%v, want allowed", ok, err)
		}
	}
	if ok, _, _ := a.Allow(ctx, "alice"); ok {
		t.Fatal("third request across two replicas allowed, want refused")
	}
	if !m.Exists("t:rl:{alice}") {
		t.Errorf("no key t:rl:{alice}; keys: %v", m.Keys())
	}
}

func TestRateLimiterRefills(t *testing.T) {
	_, client := newMiniredis(t)
	ctx := context.Background()
	l := sessions.NewRateLimiter(client, "t", 1000, 1) // one per millisecond
	if ok, _, _ := l.Allow(ctx, "alice"); !ok {
		t.Fatal("first request refused")
	}
	// Whatever the clock did, the answer names a wait of at most the interval.
	ok, wait, err := l.Allow(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !ok && (wait <= 0 || wait > time.Millisecond) {
		t.Errorf("refused with wait %v, want at most 1ms", wait)
	}
	time.Sleep(5 * time.Millisecond) // not an assertion on speed: lets the budget refill
	if ok, _, err := l.Allow(ctx, "alice"); err != nil || !ok {
		t.Fatalf("after the interval: ok=%v err=%v, want allowed", ok, err)
	}
}

func TestReserveOpenCap(t *testing.T) {
	m, client := newMiniredis(t)
	ctx := context.Background()
	st := sessions.NewRedisStore(client, sessions.WithKeyPrefix("t"))
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"a", "b", "c"} {
		ok, err := st.ReserveOpen(ctx, "alice", id, exp, 3)
		if err != nil || !ok {
			t.Fatalf("reserve %s: ok=%v err=%v", id, ok, err)
		}
	}
	if ok, err := st.ReserveOpen(ctx, "alice", "d", exp, 3); err != nil || ok {
		t.Fatalf("reserve over the cap: ok=%v err=%v, want refused", ok, err)
	}
	// Re-reserving a recorded id is allowed at the cap.
	if ok, err := st.ReserveOpen(ctx, "alice", "b", exp, 3); err != nil || !ok {
		t.Fatalf("re-reserve b: ok=%v err=%v", ok, err)
	}
	if ok, _ := st.ReserveOpen(ctx, "bob", "x", exp, 3); !ok {
		t.Fatal("bob has his own cap")
	}
	if err := st.ReleaseOpen(ctx, "alice", "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseOpen(ctx, "alice", "never-reserved"); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.ReserveOpen(ctx, "alice", "d", exp, 3); err != nil || !ok {
		t.Fatalf("reserve after a release: ok=%v err=%v", ok, err)
	}
	members, err := m.ZMembers("t:open:{alice}")
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 {
		t.Errorf("open set = %v, want b c d", members)
	}
	if ttl := m.TTL("t:open:{alice}"); ttl <= 0 {
		t.Errorf("open set has no expiry (ttl %v)", ttl)
	}
}

func TestReserveOpenPrunesExpired(t *testing.T) {
	_, client := newMiniredis(t)
	ctx := context.Background()
	st := sessions.NewRedisStore(client)
	past := time.Now().Add(-time.Second)
	for _, id := range []string{"old1", "old2"} {
		if ok, err := st.ReserveOpen(ctx, "alice", id, past, 2); err != nil || !ok {
			t.Fatalf("reserve %s: ok=%v err=%v", id, ok, err)
		}
	}
	// Both recorded sessions are past their expiry: they no longer count.
	if ok, err := st.ReserveOpen(ctx, "alice", "new", time.Now().Add(time.Hour), 1); err != nil || !ok {
		t.Fatalf("reserve with only expired members: ok=%v err=%v, want allowed", ok, err)
	}
	if ok, _ := st.ReserveOpen(ctx, "alice", "new2", time.Now().Add(time.Hour), 1); ok {
		t.Fatal("cap 1 with one live member: want refused")
	}
}

// TestRateLimiterFailsFastOnAHungRedis: a Redis that accepts connections
// and never answers (stopped, blackholed) costs a request at most
// RateLimitWait, and the requests after it nothing for RateLimitPause.
func TestRateLimiterFailsFastOnAHungRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	client := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ReadTimeout: 3 * time.Second})
	t.Cleanup(func() { _ = client.Close() })
	l := sessions.NewRateLimiter(client, "t", 10, 10)
	start := time.Now()
	_, _, err = l.Allow(context.Background(), "alice")
	if !errors.Is(err, sessions.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > sessions.RateLimitWait+200*time.Millisecond {
		t.Fatalf("first request waited %v, want about %v", d, sessions.RateLimitWait)
	}
	start = time.Now()
	for range 100 {
		if _, _, err := l.Allow(context.Background(), "alice"); !errors.Is(err, sessions.ErrUnavailable) {
			t.Fatalf("err %v, want ErrUnavailable", err)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("100 requests in the pause took %v: the limiter asked the hung Redis again", d)
	}
}
