package metrics

import (
	"context"
	"reflect"
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
	if _, ok := sessions.AsOpenLimiter(m.Sessions(stubSessions{})); ok {
		t.Fatal("a store without ReserveOpen gained it")
	}
	var got []string
	wrapped := m.Sessions(openStub{reserved: &got})
	ol, ok := sessions.AsOpenLimiter(wrapped)
	if !ok {
		t.Fatal("OpenLimiter hidden by the decorator")
	}
	if _, ok := sessions.AsPlanSetter(wrapped); ok {
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
	if _, ok := sessions.AsPlanSetter(both); !ok {
		t.Error("RedisStore lost PlanSetter")
	}
	ol, ok = sessions.AsOpenLimiter(both)
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

// TestSessionsKeepEveryAbility: the decorator states every optional ability
// the Redis store has (a field added to sessions.Abilities is covered
// without touching this test).
func TestSessionsKeepEveryAbility(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	store := sessions.NewRedisStore(rc)
	raw := reflect.ValueOf(sessions.AbilitiesOf(store))
	wrapped := reflect.ValueOf(sessions.AbilitiesOf(New().Sessions(store)))
	for i := range raw.NumField() {
		name := raw.Type().Field(i).Name
		if raw.Field(i).IsNil() {
			t.Errorf("RedisStore lacks %s (the test expects the Redis store to have every ability)", name)
			continue
		}
		if wrapped.Field(i).IsNil() {
			t.Errorf("the metrics decorator hides %s", name)
		}
	}
}
