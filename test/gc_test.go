package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/test/containers"
)

// TestGCOnRedisCluster runs `chute gc` against sessions in a real
// three-master Redis Cluster (configured with sessions.redis_cluster, as
// chute serve is) and the run's store: the uploads of live sessions, spread
// over the masters, are left alone; an upload no session knows and the
// upload of a session that ended are listed, then aborted with --apply.
func TestGCOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	env := append(brokerEnv(addr, s3), "CHUTE_SESSIONS_REDIS_CLUSTER_ADDRS="+strings.Join(cl.Addrs, ","))
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte("profiles:\n  default:\n    max_size: 1GiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := startChute(t, addr, env, "serve", "--config", path)
	tg := &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs}
	tok := tg.token(t, "alice")
	ctx := t.Context()

	// Live sessions: multipart uploads that Chute created and knows.
	var live []created
	for i := range 10 {
		c := create(t, tg, tok, fmt.Sprintf("live%02d.bin", i), "application/octet-stream", 20*mib)
		if c.Strategy != "multipart" {
			t.Fatalf("create: %+v", c)
		}
		live = append(live, c)
	}
	// They spread over the masters, so a gc that read one master only
	// would take some of them for orphans.
	rc := cl.Client(t)
	var holding atomic.Int32
	if err := rc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, "chute:{upl_*}:s").Result()
		if err == nil && len(keys) > 0 {
			holding.Add(1)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if holding.Load() < 2 {
		t.Fatalf("the live sessions landed on %d master(s), want them spread", holding.Load())
	}

	// An orphan no session knows (created straight in the store), and
	// the upload of a session that ended while its store upload stayed
	// (an abort the store refused, say).
	core := minio.Core{Client: tg.store}
	orphanID, err := core.NewMultipartUpload(ctx, tg.bucket, "orphans/nobody.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("create the orphan upload: %v", err)
	}
	ended := create(t, tg, tok, "ended.bin", "application/octet-stream", 20*mib)
	if err := rc.HSet(ctx, "chute:{"+ended.ID+"}:s", "state", "aborted").Err(); err != nil {
		t.Fatal(err)
	}
	// The orphan must be older than --older-than 0s by the store's clock.
	time.Sleep(1500 * time.Millisecond)

	gcEnv := env // gc reads the same config as serve
	orphanLines := func(out string) []string {
		var keys []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 6 && f[0] == "main" {
				keys = append(keys, f[1]+" "+f[len(f)-1])
			}
		}
		sort.Strings(keys)
		return keys
	}

	code, out, errs := runCLI(t, gcEnv, "gc", "--config", path, "--older-than", "0s")
	if code != 0 {
		t.Fatalf("chute gc: exit %d\n%s%s", code, out, errs)
	}
	want := []string{ended.Key + " orphan", "orphans/nobody.bin orphan"}
	sort.Strings(want)
	if got := orphanLines(out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chute gc listed %v, want %v:\n%s", got, want, out)
	}
	if !strings.Contains(out, "2 orphaned uploads older than 0s (dry run: pass --apply to abort them)") || !strings.Contains(out, orphanID) {
		t.Fatalf("chute gc output:\n%s", out)
	}
	if n := len(tg.incomplete(t, "")); n != len(live)+2 {
		t.Fatalf("a dry run changed the store: %d unfinished uploads, want %d", n, len(live)+2)
	}

	code, out, errs = runCLI(t, gcEnv, "gc", "--config", path, "--older-than", "0s", "--apply")
	if code != 0 || !strings.Contains(out, "2 orphaned uploads older than 0s: 2 aborted") {
		t.Fatalf("chute gc --apply: exit %d\n%s%s", code, out, errs)
	}
	left := tg.incomplete(t, "")
	sort.Strings(left)
	var wantLeft []string
	for _, c := range live {
		wantLeft = append(wantLeft, c.Key)
	}
	sort.Strings(wantLeft)
	if fmt.Sprint(left) != fmt.Sprint(wantLeft) {
		t.Fatalf("after gc --apply the store holds %v, want the live sessions' %v", left, wantLeft)
	}

	// The live sessions still work: one of them gets its part URLs.
	r := tg.call(t, tok, "POST", "/v1/uploads/"+live[0].ID+"/part-urls", map[string]any{"part_numbers": []int{1}})
	if r.status != 200 {
		t.Fatalf("part-urls after gc: %d %s", r.status, r.body)
	}
	if code, out, _ := runCLI(t, gcEnv, "gc", "--config", path, "--older-than", "0s"); code != 0 || !strings.Contains(out, "0 orphaned uploads") {
		t.Fatalf("a second gc: exit %d\n%s", code, out)
	}
}
