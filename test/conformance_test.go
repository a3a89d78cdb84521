package test

import (
	"time"

	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/backends/storetest"
	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/sessions/sessiontest"
	"github.com/chute-dev/chute/test/containers"
)

// TestSessionStoreOnRedis runs the session store conformance suite against
// a real Redis.
func TestSessionStoreOnRedis(t *testing.T) {
	containers.RequireDocker(t)
	url := containers.StartRedis(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	t.Cleanup(func() { _ = rc.Close() })
	sessiontest.Run(t, func(t *testing.T) sessions.Store {
		return sessions.NewRedisStore(rc, sessions.WithRetention(time.Second))
	})
}

// TestObjectStoreOnStore runs the object store conformance suite against
// the run's store (CHUTE_TEST_STORE: versitygw or SeaweedFS), which
// verifies signatures, with the store's provider preset, so that the
// suite holds the store to the checksums and conditional writes the
// preset claims.
func TestObjectStoreOnStore(t *testing.T) {
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "conformance")
	store, err := backends.NewS3(backends.Config{
		Name: s3.Kind, Provider: s3.Kind, Endpoint: "http://" + s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, store)
}
