package broker

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// TestPromoterPassOncePerPeriod: of two replicas on one Redis, one runs the
// promoter pass of a period; the other skips it until the claim runs out.
func TestPromoterPassOncePerPeriod(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	replica := func() *Service {
		svc, err := New(Config{
			Profiles: map[string]Profile{"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
				PartSize: 5 * multipart.MiB, SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"text/plain"},
				URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{id}{ext}"}},
			Backends: map[string]ObjectStore{"main": newFakeStore()},
			Sessions: sessions.NewRedisStore(rc),
			TTL:      time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := replica(), replica()
	ctx := t.Context()
	if !a.claimPromoterPass(ctx, 2*time.Second) {
		t.Fatal("the first replica did not get the pass")
	}
	if b.claimPromoterPass(ctx, 2*time.Second) || a.claimPromoterPass(ctx, 2*time.Second) {
		t.Fatal("a second pass ran in the same period")
	}
	mr.FastForward(2 * time.Second)
	if !b.claimPromoterPass(ctx, 2*time.Second) {
		t.Fatal("the next period's pass was not taken")
	}
}
