package tracing

import (
	"reflect"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/sessions"
)

// TestSessionsKeepEveryAbility: traced, the Redis store still states every
// optional ability it has (the janitor, promoter, reconciler and lock
// renewal find theirs through session.AbilitiesOf).
func TestSessionsKeepEveryAbility(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	store := sessions.NewRedisStore(rc)
	tr := NewWithExporter(Config{Enabled: true}, tracetest.NewInMemoryExporter())
	raw := reflect.ValueOf(session.AbilitiesOf(store))
	traced := reflect.ValueOf(session.AbilitiesOf(tr.Sessions(store)))
	for i := range raw.NumField() {
		name := raw.Type().Field(i).Name
		if raw.Field(i).IsNil() {
			t.Errorf("RedisStore lacks %s", name)
		} else if traced.Field(i).IsNil() {
			t.Errorf("the tracing decorator hides %s", name)
		}
	}
}
