package test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/test/containers"
)

// brokerEnv connects a chute command to the run's store as backend
// "main", with JWT auth on the suite's secret, listening on addr; the
// Redis is left to the config file or the caller.
func brokerEnv(addr string, s3 containers.S3) []string {
	return []string{
		"CHUTE_SERVER_LISTEN=" + addr,
		"CHUTE_SERVER_PUBLIC_URL=http://" + addr,
		"CHUTE_AUTH_MODE=jwt",
		"CHUTE_AUTH_JWT_SECRET=" + jwtSecret,
		"CHUTE_BACKENDS_MAIN_ENDPOINT=http://" + s3.Endpoint,
		"CHUTE_BACKENDS_MAIN_REGION=" + s3.Region,
		"CHUTE_BACKENDS_MAIN_BUCKET=" + s3.Bucket,
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=" + s3.AccessKey,
		"CHUTE_BACKENDS_MAIN_SECRET_KEY=" + s3.SecretKey,
		"CHUTE_BACKENDS_MAIN_PATH_STYLE=true",
	}
}

// TestServeOnRedisSentinel runs `chute serve` with sessions.redis_sentinel
// against a master, a replica and three real sentinels (quorum 2). Midway
// through a multipart upload the master is killed with SIGKILL; once the
// sentinels have promoted the replica the upload goes on through the same
// chute process (part URLs, part reports, complete) and the store holds
// exactly the uploaded bytes. Before the kill the test waits until the
// replica has every write (WAIT 1 after a write of its own): Redis
// replicates asynchronously, and docs/faults.md says what a crash inside
// that window loses. Finally `chute gc`, configured with the same
// sentinels, finds the new master and tells an orphan from a live upload.
func TestServeOnRedisSentinel(t *testing.T) {
	rs := containers.StartRedisSentinel(t)
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	yaml := fmt.Sprintf(`sessions:
  redis_sentinel:
    master: %s
    addrs: ["%s"]
profiles:
  default:
    max_size: 1GiB
    part_size: 5MiB
    single_max: 5MiB
`, containers.SentinelMaster, strings.Join(rs.Addrs, `", "`))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := brokerEnv(addr, s3)
	logs := startChute(t, addr, env, "serve", "--config", path)
	tg := &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs}
	tok := tg.token(t, "alice")
	ctx := t.Context()

	size := int64(3*5*mib + 123*1024) // four parts, the last one short
	data := randomBytes(t, size)
	c := create(t, tg, tok, "failover.bin", "application/octet-stream", size)
	if c.Strategy != "multipart" || c.PartCount != 4 || len(c.Parts) < 2 {
		t.Fatalf("plan: %+v", c)
	}
	before := uploadParts(t, tg, tok, c, data, c.Parts[:2], 2, true)

	// The session and its two reported parts are on the replica, then
	// the master dies.
	rs.Sync(t)
	rs.KillMaster(t)
	killed := time.Now()
	// While the sentinels agree, Chute answers 503 storage_unavailable
	// (or 200, once it has found the new master): never anything else.
	r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
	if r.status != 200 && (r.status != 503 || r.errCode(t) != "storage_unavailable") {
		t.Fatalf("status while the master is down: %d %s", r.status, r.body)
	}
	t.Logf("a status call right after the kill: %d after %v", r.status, time.Since(killed).Round(time.Millisecond))
	rs.WaitFailover(t, 60*time.Second)
	promoted := time.Now()
	waitUntil(t, 30*time.Second, "chute reads the session from the new master", func() error {
		r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
		if r.status != 200 {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
	t.Logf("the sentinels had promoted the replica %v after the kill; chute answered from it %v later",
		promoted.Sub(killed).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))

	// Nothing reported before the kill was lost.
	r = tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
	var st status
	r.decode(t, &st)
	if st.State != "uploading" || len(st.Parts) != 2 || st.UploadedBytes != 2*c.PartSize {
		t.Fatalf("session after the failover: %s", r.body)
	}
	for _, p := range st.Parts {
		if !sameETag(p.ETag, before[p.PartNumber]) {
			t.Fatalf("part %d: ETag %s after the failover, %s before", p.PartNumber, p.ETag, before[p.PartNumber])
		}
	}

	// The rest of the upload, through the promoted replica: new part
	// URLs, the bytes, the reports, complete.
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{3, 4}})
	if r.status != 200 {
		t.Fatalf("part-urls after the failover: %d %s", r.status, r.body)
	}
	var more struct {
		Parts []partURL `json:"parts"`
	}
	r.decode(t, &more)
	if len(more.Parts) != 2 {
		t.Fatalf("part-urls after the failover: %s", r.body)
	}
	uploadParts(t, tg, tok, c, data, more.Parts, 2, true)
	done := completeOK(t, tg, tok, c.ID, nil)
	if done.State != "completed" || done.Size != size || !strings.HasSuffix(done.ETag, "-4") {
		t.Fatalf("complete after the failover: %+v", done)
	}
	obj, err := tg.store.GetObject(ctx, tg.bucket, c.Key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, obj)
	_ = obj.Close()
	if err != nil || n != size || string(h.Sum(nil)) != string(sha256Of(data)) {
		t.Fatalf("stored object: %d bytes (want %d), sha256 match %v, err %v", n, size, string(h.Sum(nil)) == string(sha256Of(data)), err)
	}
	if left := tg.incomplete(t, ""); len(left) != 0 {
		t.Fatalf("unfinished uploads left: %v", left)
	}
	// The session lives on the promoted replica.
	nm := redis.NewClient(&redis.Options{Addr: rs.ReplicaAddr})
	defer nm.Close()
	if state, err := nm.HGet(ctx, "chute:{"+c.ID+"}:s", "state").Result(); err != nil || state != "completed" {
		t.Fatalf("session on the new master: %q %v", state, err)
	}

	// chute gc with the same sentinels: an upload no session knows is an
	// orphan, the upload of a live session is not.
	orphanID, err := minio.Core{Client: tg.store}.NewMultipartUpload(ctx, tg.bucket, "orphans/after-failover.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live := create(t, tg, tok, "live.bin", "application/octet-stream", size)
	time.Sleep(1500 * time.Millisecond) // older than --older-than 0s by the store's clock
	code, out, errs := runCLI(t, env, "gc", "--config", path, "--older-than", "0s")
	if code != 0 || !strings.Contains(out, "1 orphaned uploads older than 0s (dry run") ||
		!strings.Contains(out, orphanID) || strings.Contains(out, live.Key) {
		t.Fatalf("chute gc through Sentinel: exit %d\n%s%s", code, out, errs)
	}
	left := tg.incomplete(t, "")
	sort.Strings(left)
	if want := fmt.Sprint([]string{live.Key, "orphans/after-failover.bin"}); fmt.Sprint(left) != want {
		t.Fatalf("a dry run changed the store: %v", left)
	}

	// With every sentinel and Redis gone, a request is answered 503
	// within seconds (go-redis's dial retries once multiplied with its
	// sentinel lookups: a create then took a minute).
	rs.KillAll(t)
	var r2 reply
	elapsed := timed(func() {
		r2 = tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "late.txt", "content_type": "text/plain", "size": 10})
	})
	if r2.status != 503 || r2.errCode(t) != "storage_unavailable" || elapsed > 10*time.Second {
		t.Fatalf("create with no sentinel: %d %s after %v", r2.status, r2.body, elapsed)
	}
	t.Logf("create with every sentinel down: 503 after %v", elapsed.Round(time.Millisecond))
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
