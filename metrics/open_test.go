package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/sessions"
)

// openStub is a session store with the OpenLimiter capability only.
type openStub struct {
	stubSessions
	reserved *[]string
}

func (o openStub) ReserveOpen(_ context.Context, _, id string, _ time.Time, _ int) (bool, error) {
	*o.reserved = append(*o.reserved, id)
	return true, nil
}

func (o openStub) ReleaseOpen(context.Context, string, string) error { return nil }

func TestSessionsKeepsOpenLimiter(t *testing.T) {
	m := New()
	if _, ok := m.Sessions(stubSessions{}).(sessions.OpenLimiter); ok {
		t.Fatal("a store without ReserveOpen gained it")
	}
	var got []string
	wrapped := m.Sessions(openStub{reserved: &got})
	ol, ok := wrapped.(sessions.OpenLimiter)
	if !ok {
		t.Fatal("OpenLimiter hidden by the decorator")
	}
	if _, ok := wrapped.(sessions.PlanSetter); ok {
		t.Fatal("a store without SetPlan gained it")
	}
	if ok, err := ol.ReserveOpen(context.Background(), "alice", "a", time.Now().Add(time.Hour), 1); !ok || err != nil || len(got) != 1 {
		t.Fatalf("ReserveOpen: %v %v, store saw %v", ok, err, got)
	}
	if n := testutil.CollectAndCount(m.redisDuration, "chute_redis_request_duration_seconds"); n == 0 {
		t.Error("no redis duration observed")
	}

	// The Redis store has both capabilities, and keeps both.
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	both := m.Sessions(sessions.NewRedisStore(rc))
	if _, ok := both.(sessions.PlanSetter); !ok {
		t.Error("RedisStore lost PlanSetter")
	}
	ol, ok = both.(sessions.OpenLimiter)
	if !ok {
		t.Fatal("RedisStore lost OpenLimiter")
	}
	if ok, err := ol.ReserveOpen(context.Background(), "alice", "a", time.Now().Add(time.Hour), 1); !ok || err != nil {
		t.Fatalf("ReserveOpen on Redis: %v %v", ok, err)
	}
	if ok, _ := ol.ReserveOpen(context.Background(), "alice", "b", time.Now().Add(time.Hour), 1); ok {
		t.Fatal("second reserve over a cap of 1 allowed")
	}
	if err := ol.ReleaseOpen(context.Background(), "alice", "a"); err != nil {
		t.Fatal(err)
	}
}
