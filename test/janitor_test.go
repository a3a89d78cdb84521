package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/test/containers"
)

// lifecycleEnv is one Redis and one versitygw shared by several chute
// processes of a test.
type lifecycleEnv struct {
	env    []string // the CHUTE_* connection settings
	config string   // path of the YAML file
	s3     containers.S3
	store  *minio.Client
}

func newLifecycleEnv(t *testing.T, yaml string) *lifecycleEnv {
	t.Helper()
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &lifecycleEnv{
		env:    serveEnv(redisURL, s3),
		config: path,
		s3:     s3,
		store:  mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region),
	}
}

// replica starts one `chute serve` on the env.
func (e *lifecycleEnv) replica(t *testing.T) *target {
	t.Helper()
	addr := freeAddr(t)
	env := append([]string{"CHUTE_SERVER_LISTEN=" + addr, "CHUTE_SERVER_PUBLIC_URL=http://" + addr}, e.env...)
	logs := startChute(t, addr, env, "serve", "--config", e.config)
	return &target{base: "http://" + addr, store: e.store, bucket: e.s3.Bucket, logs: logs}
}

// metric reads one sample of Chute's /metrics, 0 when absent.
func (tg *target) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(tg.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), " "); ok && name == series {
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// expiredLogged counts the janitor's "session expired" lines for id.
func (tg *target) expiredLogged(id string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(tg.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			ID  string `json:"id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "janitor: session expired" && line.ID == id {
			n++
		}
	}
	return n
}

const lifecycleYAML = `sessions:
  ttl: %s
  retention: 1m
janitor:
  interval: 500ms
  batch: 3
profiles:
  default:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    part_size: 5MiB
    single_max: 5MiB
    url_ttl: 15m
`

// TestJanitorExpiresAbandonedUploads: two replicas of `chute serve` with a
// 3 s session ttl and a 500 ms janitor; uploads that are never completed
// end as expired, their multipart uploads leave the store, and each is
// handled by exactly one replica.
func TestJanitorExpiresAbandonedUploads(t *testing.T) {
	e := newLifecycleEnv(t, fmt.Sprintf(lifecycleYAML, "3s"))
	a, b := e.replica(t), e.replica(t)
	tok := a.token(t, "alice")

	// More sessions than one tick's batch (3), half with a part PUT.
	const n = 5
	var ups []created
	for i := range n {
		c := create(t, a, tok, fmt.Sprintf("f%d.bin", i), "application/octet-stream", 6*mib)
		if c.Strategy != "multipart" || len(c.Parts) != 2 {
			t.Fatalf("create: strategy %s with %d parts, want multipart with 2", c.Strategy, len(c.Parts))
		}
		if i%2 == 0 {
			uploadParts(t, a, tok, c, randomBytes(t, 6*mib), c.Parts[:1], 1, true)
		}
		ups = append(ups, c)
	}
	for _, c := range ups {
		if left := a.incomplete(t, c.Key); len(left) != 1 {
			t.Fatalf("before expiry: %d incomplete uploads for %s, want 1", len(left), c.Key)
		}
	}

	// Wait until the janitors have removed every upload from the store.
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range ups {
		for len(a.incomplete(t, c.Key)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("upload %s still in the store 60s after creation", c.ID)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Every multipart upload of the bucket is gone, not only listed away.
	if left := a.incomplete(t, ""); len(left) != 0 {
		t.Fatalf("incomplete uploads left in the bucket: %v", left)
	}
	for _, c := range ups {
		for _, tg := range []*target{a, b} {
			r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
			var st status
			r.decode(t, &st)
			if r.status != 200 || st.State != "expired" {
				t.Errorf("status of %s: %d %s, want 200 expired", c.ID, r.status, r.body)
			}
		}
		// The state is written: a complete or a part URL is refused.
		if r := b.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{2}}); r.status != 409 {
			t.Errorf("part-urls on an expired upload: %d %s", r.status, r.body)
		}
	}
	// Each session was expired by exactly one replica (the log line is
	// written after the abort; wait for it to leave the pipe).
	for _, c := range ups {
		deadline := time.Now().Add(5 * time.Second)
		for a.expiredLogged(c.ID)+b.expiredLogged(c.ID) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := a.expiredLogged(c.ID) + b.expiredLogged(c.ID); got != 1 {
			t.Errorf("session %s expired %d times (replica a %d, b %d), want once", c.ID, got, a.expiredLogged(c.ID), b.expiredLogged(c.ID))
		}
	}
	const expired = `chute_janitor_sessions_total{outcome="expired"}`
	const failed = `chute_janitor_sessions_total{outcome="failed"}`
	if got := a.metric(t, expired) + b.metric(t, expired); got != n {
		t.Errorf("%s summed over both replicas = %v, want %d", expired, got, n)
	}
	if got := a.metric(t, failed) + b.metric(t, failed); got != 0 {
		t.Errorf("%s = %v, want 0", failed, got)
	}
	t.Logf("expired by replica a: %v, by b: %v", a.metric(t, expired), b.metric(t, expired))
}

// TestGC: an upload made in the store under Chute's key layout with no
// session is listed by `chute gc` and removed by `chute gc --apply`; the
// upload of a live session is left alone.
func TestGC(t *testing.T) {
	e := newLifecycleEnv(t, fmt.Sprintf(lifecycleYAML, "1h"))
	tg := e.replica(t)
	tok := tg.token(t, "alice")
	live := create(t, tg, tok, "live.bin", "application/octet-stream", 6*mib)

	core := minio.Core{Client: e.store}
	orphanKey := "alice/upl_orphan0000000000000000000000.bin"
	orphanID, err := core.NewMultipartUpload(context.Background(), e.s3.Bucket, orphanKey, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}

	gc := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"gc", "--config", e.config}, args...)...)
		cmd.Env = append(os.Environ(), e.env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	// The default threshold (48h) protects both fresh uploads.
	out, code := gc()
	if code != 0 || !strings.Contains(out, "0 orphaned uploads") {
		t.Fatalf("gc with the default threshold: exit %d\n%s", code, out)
	}
	out, code = gc("--older-than", "0s")
	if code != 0 {
		t.Fatalf("gc dry run: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, orphanID) || !strings.Contains(out, orphanKey) || strings.Contains(out, live.Key) {
		t.Fatalf("gc dry run should list the orphan %s and not %s:\n%s", orphanKey, live.Key, out)
	}
	if !regexp.MustCompile(`(?m)^1 orphaned uploads .*dry run`).MatchString(out) {
		t.Errorf("gc dry run summary:\n%s", out)
	}
	if left := tg.incomplete(t, ""); len(left) != 2 {
		t.Fatalf("a dry run changed the store: %v", left)
	}
	if _, code := gc("--backend", "nope"); code != 2 {
		t.Errorf("gc --backend nope: exit %d, want 2", code)
	}

	out, code = gc("--older-than", "0s", "--apply")
	if code != 0 || !strings.Contains(out, "1 aborted") {
		t.Fatalf("gc --apply: exit %d\n%s", code, out)
	}
	left := tg.incomplete(t, "")
	if len(left) != 1 || left[0] != live.Key {
		t.Fatalf("after gc --apply the store holds %v, want only the live session's %s", left, live.Key)
	}
	// The live session still works: its part URL takes bytes.
	uploadParts(t, tg, tok, live, randomBytes(t, 6*mib), live.Parts[:1], 1, true)

	// Once the session is aborted, its upload (if the store kept it) is no
	// one's: here the abort removed it, so gc finds nothing.
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+live.ID, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if out, code := gc("--older-than", "0s"); code != 0 || !strings.Contains(out, "0 orphaned uploads") {
		t.Errorf("gc after the abort: exit %d\n%s", code, out)
	}
}
