package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/sessions/sessiontest"
	"github.com/chute-dev/chute/test/containers"
)

// TestSessionsOnRedisCluster runs the session store conformance suite on
// a real three-master Redis Cluster: every script and transaction must
// stay in one slot, or Redis answers CROSSSLOT.
func TestSessionsOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	rc := cl.Client(t)
	sessiontest.Run(t, func(t *testing.T) sessions.Store {
		return sessions.NewRedisStore(rc, sessions.WithRetention(time.Second))
	})

	// The sessions really spread over the masters (else the suite above
	// proves nothing about slots).
	ctx := t.Context()
	store := sessions.NewRedisStore(rc)
	for i := range 30 {
		id := fmt.Sprintf("upl_spread%02d", i)
		exp := time.Now().Add(time.Hour)
		if err := store.Create(ctx, &sessions.Session{ID: id, Subject: "s", Profile: "default", Backend: "main",
			Key: "k/" + id, Strategy: sessions.StrategySingle, State: sessions.StatePending, Size: 1,
			ContentType: "text/plain", CreatedAt: time.Now(), ExpiresAt: exp}); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	var holding atomic.Int32 // ForEachMaster runs fn on the masters concurrently
	err := rc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, "chute:{upl_spread*").Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			holding.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if holding.Load() < 2 {
		t.Fatalf("sessions landed on %d master(s), want them spread over the cluster", holding.Load())
	}
}

// TestLimitsOnRedisCluster checks the rate limiter and the open-session
// limit on the cluster: both are single-key scripts whose keys carry the
// subject as hash tag.
func TestLimitsOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	rc := cl.Client(t)
	ctx := t.Context()

	rl := sessions.NewRateLimiter(rc, "", 0.001, 3) // ~no refill during the test
	for _, subject := range []string{"alice", "bob", "carol"} {
		for i := range 3 {
			ok, _, err := rl.Allow(ctx, subject)
			if err != nil || !ok {
				t.Fatalf("%s request %d: allowed=%v err=%v", subject, i+1, ok, err)
			}
		}
		ok, wait, err := rl.Allow(ctx, subject)
		if err != nil || ok || wait <= 0 {
			t.Fatalf("%s over the burst: allowed=%v wait=%v err=%v", subject, ok, wait, err)
		}
	}

	store := sessions.NewRedisStore(rc)
	exp := time.Now().Add(time.Hour)
	for i := range 2 {
		ok, err := store.ReserveOpen(ctx, "dave", fmt.Sprintf("upl_open%d", i), exp, 2)
		if err != nil || !ok {
			t.Fatalf("reserve %d: %v %v", i, ok, err)
		}
	}
	if ok, err := store.ReserveOpen(ctx, "dave", "upl_open2", exp, 2); err != nil || ok {
		t.Fatalf("reserve over the limit: %v %v", ok, err)
	}
	if err := store.ReleaseOpen(ctx, "dave", "upl_open0"); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.ReserveOpen(ctx, "dave", "upl_open2", exp, 2); err != nil || !ok {
		t.Fatalf("reserve after a release: %v %v", ok, err)
	}
}

// TestServeOnRedisCluster uploads through `chute serve` configured with
// sessions.redis_cluster (and a rate limit, which uses the cluster too).
func TestServeOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	tg := startServeEnv(t, `profiles:
  default:
    max_size: 1GiB
limits:
  rate: 100
  burst: 200
`, []string{"CHUTE_SESSIONS_REDIS_CLUSTER_ADDRS=" + strings.Join(cl.Addrs, ",")}, nil)
	t.Run("one byte", func(t *testing.T) { singleFile(t, tg, 1) })
	t.Run("multipart", func(t *testing.T) { multipartFile(t, tg, 40*mib, 3) })
	t.Run("idempotent and concurrent complete", func(t *testing.T) { concurrentComplete(t, tg) })

	// The sessions are in the cluster.
	var n atomic.Int32
	rc := cl.Client(t)
	_ = rc.ForEachMaster(t.Context(), func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, "chute:{upl_*}:s").Result()
		if err == nil && len(keys) > 0 {
			n.Add(1)
		}
		return nil
	})
	if n.Load() == 0 {
		t.Fatal("no session key in the cluster")
	}
}

// startServeEnv runs `chute serve` on a fresh versitygw with the given
// YAML and the extra CHUTE_* variables (which name the Redis). front,
// when set, is given the store's host:port and returns the endpoint Chute
// is to use instead (e.g. a fault gate in front of it).
func startServeEnv(t *testing.T, yaml string, extra []string, front func(s3 string) string) *target {
	t.Helper()
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + s3.Endpoint
	if front != nil {
		endpoint = front(s3.Endpoint)
	}
	env := append([]string{
		"CHUTE_SERVER_LISTEN=" + addr,
		"CHUTE_SERVER_PUBLIC_URL=http://" + addr,
		"CHUTE_AUTH_MODE=jwt",
		"CHUTE_AUTH_JWT_SECRET=" + jwtSecret,
		"CHUTE_BACKENDS_MAIN_ENDPOINT=" + endpoint,
		"CHUTE_BACKENDS_MAIN_REGION=" + s3.Region,
		"CHUTE_BACKENDS_MAIN_BUCKET=" + s3.Bucket,
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=" + s3.AccessKey,
		"CHUTE_BACKENDS_MAIN_SECRET_KEY=" + s3.SecretKey,
		"CHUTE_BACKENDS_MAIN_PATH_STYLE=true",
	}, extra...)
	logs := startChute(t, addr, env, "serve", "--config", path)
	return &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs}
}
