package containers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go/network"
)

func TestRedisAnswersPingAndKeepsData(t *testing.T) {
	RequireDocker(t)
	url := StartRedis(t, "--maxmemory", "64mb")

	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", url, err)
	}
	if !strings.HasPrefix(opts.Addr, "127.0.0.1:") {
		t.Errorf("Redis address %q is not on 127.0.0.1", opts.Addr)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", got, err)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	// The extra argument reached redis-server.
	cfg, err := rdb.ConfigGet(ctx, "maxmemory").Result()
	if err != nil {
		t.Fatalf("CONFIG GET: %v", err)
	}
	if cfg["maxmemory"] != fmt.Sprint(64<<20) {
		t.Errorf("maxmemory = %q, want %d", cfg["maxmemory"], 64<<20)
	}
}

func TestVersityGWStoresObjectsAndChecksSignatures(t *testing.T) {
	RequireDocker(t)
	s3 := StartVersityGW(t, "chute-test")
	if s3.Kind != KindVersityGW {
		t.Fatalf("Kind = %q, want %q", s3.Kind, KindVersityGW)
	}
	checkStore(t, s3)
}

func TestSeaweedFSStoresObjectsAndChecksSignatures(t *testing.T) {
	RequireDocker(t)
	s3 := StartSeaweedFS(t, "chute-test")
	if s3.Kind != KindSeaweedFS {
		t.Fatalf("Kind = %q, want %q", s3.Kind, KindSeaweedFS)
	}
	checkStore(t, s3)
}

// checkStore checks what every test relies on: the bucket exists and holds
// objects, exposes ETag through CORS, and requests are really authenticated
// (a wrong secret and an unsigned request are both refused).
func checkStore(t *testing.T, s3 S3) {
	t.Helper()
	if s3.Region != "us-east-1" || s3.Bucket != "chute-test" || s3.AccessKey == "" || s3.SecretKey == "" {
		t.Fatalf("unexpected S3 info %+v", s3)
	}
	client, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	body := []byte("hello, chute")
	if _, err := client.PutObject(ctx, s3.Bucket, "dir/hello.txt", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/plain"}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	obj, err := client.GetObject(ctx, s3.Bucket, "dir/hello.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatalf("read object: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("object = %q, want %q", got, body)
	}

	// The bucket's CORS rule exposes ETag, so browsers can complete uploads.
	rules, err := client.GetBucketCors(ctx, s3.Bucket)
	if err != nil {
		t.Fatalf("GetBucketCors: %v", err)
	}
	if len(rules.CORSRules) != 1 || !contains(rules.CORSRules[0].ExposeHeader, "ETag") {
		t.Fatalf("CORS rules = %+v, want one exposing ETag", rules.CORSRules)
	}

	// Credentials are really checked: a client with a wrong secret is refused.
	wrong := s3
	wrong.SecretKey += "x"
	bad, err := wrong.Client()
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.StatObject(ctx, s3.Bucket, "dir/hello.txt", minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).StatusCode; code != http.StatusForbidden {
		t.Fatalf("StatObject with a wrong secret: status %d (%v), want 403", code, err)
	}

	// An unsigned request is refused too (SeaweedFS without -s3.config would
	// serve it).
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		req, err := http.NewRequestWithContext(ctx, method,
			"http://"+s3.Endpoint+"/"+s3.Bucket+"/dir/hello.txt", strings.NewReader("forged"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("unsigned %s: %v", method, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unsigned %s: status %d, want 403", method, resp.StatusCode)
		}
	}
	obj, err = client.GetObject(ctx, s3.Bucket, "dir/hello.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err = io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after the unsigned PUT the object is %q (%v), want %q", got, err, body)
	}
}

func TestStartStoreFollowsTheEnvironment(t *testing.T) {
	t.Setenv(StoreEnv, "")
	if k := StoreKind(); k != KindVersityGW {
		t.Errorf("StoreKind() with %s unset = %q, want %q", StoreEnv, k, KindVersityGW)
	}
	t.Setenv(StoreEnv, " SeaweedFS ")
	if k := StoreKind(); k != KindSeaweedFS {
		t.Errorf("StoreKind() = %q, want %q", k, KindSeaweedFS)
	}
	t.Setenv(StoreEnv, "minio")
	d := &decisionTB{TB: t}
	StartStore(d, "bucket")
	if !strings.Contains(d.fatal, `"minio"`) || !strings.Contains(d.fatal, KindSeaweedFS) {
		t.Errorf("StartStore with an unknown store: fatal=%q, want it named with the choices", d.fatal)
	}
}

func TestContainersReachEachOtherOnANetwork(t *testing.T) {
	RequireDocker(t)
	nw, err := network.New(t.Context())
	if err != nil {
		t.Fatalf("network.New: %v", err)
	}
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network: %v", err)
		}
	})

	// No delay before the replica's initial sync (the default waits 5 s).
	r := StartRedisOn(t, &Network{Network: nw, Alias: "redis"}, "--repl-diskless-sync-delay", "0")
	s3 := StartVersityGWOn(t, &Network{Network: nw, Alias: "s3"}, "net-bucket")
	if r.NetworkURL != "redis://redis:6379/0" || s3.NetworkEndpoint != "s3:7070" {
		t.Fatalf("network addresses = %q, %q", r.NetworkURL, s3.NetworkEndpoint)
	}
	if sw := StartSeaweedFSOn(t, &Network{Network: nw, Alias: "sw"}, "net-bucket"); sw.NetworkEndpoint != "sw:8333" {
		t.Fatalf("SeaweedFS network address = %q, want sw:8333", sw.NetworkEndpoint)
	}

	// A replica started on the same network reaches the first Redis by its
	// alias: data written to the primary shows up on the replica.
	replica := StartRedisOn(t, &Network{Network: nw, Alias: "replica"}, "--replicaof", "redis", "6379")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	primary := redis.NewClient(mustParseURL(t, r.URL))
	defer primary.Close()
	secondary := redis.NewClient(mustParseURL(t, replica.URL))
	defer secondary.Close()
	if err := primary.Set(ctx, "via", "network", 0).Err(); err != nil {
		t.Fatalf("SET on primary: %v", err)
	}
	for {
		got, err := secondary.Get(ctx, "via").Result()
		if err == nil && got == "network" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("replica never saw the key over the network: %q, %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMissingImageNamesTheBuildScript(t *testing.T) {
	RequireDocker(t)
	err := requireImage(t.Context(), "chute-test/does-not-exist:local")
	if err == nil || !strings.Contains(err.Error(), "run ./scripts/build-images.sh") {
		t.Fatalf("requireImage(missing) = %v, want an error naming ./scripts/build-images.sh", err)
	}
	if err := requireImage(t.Context(), RedisImage); err != nil {
		t.Fatalf("requireImage(%s) = %v", RedisImage, err)
	}
}

// decisionTB records Fatalf and Skipf instead of stopping the test.
type decisionTB struct {
	testing.TB
	fatal, skip string
}

func (d *decisionTB) Fatalf(format string, args ...any) { d.fatal = fmt.Sprintf(format, args...) }
func (d *decisionTB) Skipf(format string, args ...any)  { d.skip = fmt.Sprintf(format, args...) }

func TestCheckDockerFailsInCISkipsElsewhere(t *testing.T) {
	down := func(context.Context) error { return errors.New("daemon down") }
	up := func(context.Context) error { return nil }

	t.Setenv("CHUTE_REQUIRE_DOCKER", "1")
	d := &decisionTB{TB: t}
	checkDocker(d, down)
	if !strings.Contains(d.fatal, "daemon down") || d.skip != "" {
		t.Errorf("required and down: fatal=%q skip=%q, want a failure", d.fatal, d.skip)
	}
	d = &decisionTB{TB: t}
	checkDocker(d, up)
	if d.fatal != "" || d.skip != "" {
		t.Errorf("required and up: fatal=%q skip=%q, want neither", d.fatal, d.skip)
	}

	t.Setenv("CHUTE_REQUIRE_DOCKER", "")
	d = &decisionTB{TB: t}
	checkDocker(d, down)
	if !strings.Contains(d.skip, "./scripts/test.sh") || d.fatal != "" {
		t.Errorf("not required and down: fatal=%q skip=%q, want a skip naming ./scripts/test.sh", d.fatal, d.skip)
	}
}

func mustParseURL(t *testing.T, url string) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", url, err)
	}
	return opts
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
