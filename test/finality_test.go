package test

// Finality after complete (issue 12, items 5 and 6): an event survives its
// process dying right after the session's terminal transition, and a
// complete whose CompleteMultipartUpload takes longer than the store's
// per-call timeout still succeeds, once, with two replicas racing.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/test/containers"
)

var (
	faultBinaryOnce sync.Once
	faultBinary     string
	faultBinaryErr  error
)

// chuteWithFaults builds (once) the chute binary with -tags chutefault,
// the only build in which CHUTE_FAULT does anything (broker/fault_on.go).
func chuteWithFaults(t *testing.T) string {
	t.Helper()
	faultBinaryOnce.Do(func() {
		faultBinary = filepath.Join(filepath.Dir(binary), "chute-fault")
		build := exec.Command("go", "build", "-tags", "chutefault", "-o", faultBinary, "../cmd/chute")
		out, err := build.CombinedOutput()
		if err != nil {
			faultBinaryErr = fmt.Errorf("go build -tags chutefault: %v\n%s", err, out)
		}
	})
	if faultBinaryErr != nil {
		t.Fatal(faultBinaryErr)
	}
	return faultBinary
}

// TestEventSurvivesCrashAfterTransition: the process completing an upload
// dies (SIGKILL, from the crash point) right after the session is written
// completed and before upload.completed reaches the outbox; a replica
// started afterwards finds the pending event and the webhook receives it.
func TestEventSurvivesCrashAfterTransition(t *testing.T) {
	rcv := newHookReceiver(t)
	env, cfgPath, store := webhookEnv(t, fmt.Sprintf(`janitor: { interval: 500ms }
webhooks:
  - url: %q
    events: ["upload.completed"]
webhook_delivery: { timeout: 1s, backoff: 100ms, max_backoff: 500ms }
`, rcv.srv.URL+"/hook?token=q-secret"))
	bin := chuteWithFaults(t)

	// The same fault binary without CHUTE_FAULT behaves normally.
	ok := launchServeBinary(t, bin, env, cfgPath, store)
	tok := ok.tg.token(t, "alice")
	first := uploadSmall(t, ok.tg, tok, nil)
	rcv.wait(t, first.ID+":upload.completed")
	ok.kill9(t)

	a := launchServeBinary(t, bin, append(env, "CHUTE_FAULT=crash-after-transition"), cfgPath, store)
	data := randomBytes(t, 4096)
	c := create(t, a.tg, tok, "crash.bin", "application/octet-stream", int64(len(data)))
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	req, err := http.NewRequest("POST", a.tg.base+"/v1/uploads/"+c.ID+"/complete", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("complete answered %d %s; the process should have died before answering", resp.StatusCode, body)
	}
	select {
	case err := <-a.done:
		a.done <- err
		a.killed = true
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("want death by SIGKILL at the crash point, got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the process did not die at the crash point")
	}
	if !strings.Contains(a.logs.String(), "fault point crash-after-transition reached") {
		t.Fatalf("the process died elsewhere than the crash point:\n%s", a.logs.String())
	}

	b := launchServe(t, env, cfgPath, store) // a production build
	st := b.tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
	if st.status != 200 || !strings.Contains(string(st.body), `"state":"completed"`) {
		t.Fatalf("status after the crash: %d %s; want completed (the transition was written)", st.status, st.body)
	}
	ev := rcv.wait(t, c.ID+":upload.completed")
	if ev.Type != "upload.completed" || ev.Upload.ID != c.ID || ev.Upload.Key != c.Key || ev.Upload.Size != 4096 || ev.Upload.ETag == "" {
		t.Fatalf("event %+v", ev)
	}
	if !b.tg.waitLog("published an event its process did not") {
		t.Errorf("the new replica did not log the reconciled event:\n%s", b.logs.String())
	}
}

// delayProxy is a reverse proxy in front of the store (loopback) that
// holds every CompleteMultipartUpload for delay before passing it on, and
// counts them. It forwards the Host header unchanged, so SigV4 signatures
// made for the proxy's address verify at the store.
type delayProxy struct {
	srv   *httptest.Server
	delay time.Duration
	mu    sync.Mutex
	armed bool     // delay and count from now on
	n     int      // CompleteMultipartUpload requests seen while armed
	log   []string // what the store answered to each, for the test log
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func startDelayProxy(t *testing.T, store string, delay time.Duration) *delayProxy {
	t.Helper()
	u, err := url.Parse("http://" + store)
	if err != nil {
		t.Fatal(err)
	}
	dp := &delayProxy{delay: delay}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
	}}
	dp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dp.mu.Lock()
		armed := dp.armed
		dp.mu.Unlock()
		if armed && kind(r) == "CompleteMultipartUpload" {
			dp.mu.Lock()
			dp.n++
			dp.mu.Unlock()
			select {
			case <-time.After(dp.delay):
			case <-r.Context().Done():
				dp.mu.Lock()
				dp.log = append(dp.log, "caller gave up during the delay")
				dp.mu.Unlock()
				return // the store never sees it
			}
			rec := &statusRecorder{ResponseWriter: w, status: 200}
			rp.ServeHTTP(rec, r)
			dp.mu.Lock()
			dp.log = append(dp.log, fmt.Sprintf("store answered %d", rec.status))
			dp.mu.Unlock()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(dp.srv.Close)
	return dp
}

// arm starts delaying and counting (the replicas' startup probes of the
// store, which complete uploads of their own, pass before).
func (dp *delayProxy) arm() {
	dp.mu.Lock()
	dp.armed = true
	dp.mu.Unlock()
}

func (dp *delayProxy) completes() int {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	return dp.n
}

// TestSlowCompleteOnceAcrossReplicas: CompleteMultipartUpload held 45 s
// by the store (longer than the 30 s per-call store timeout) still
// completes within limits.complete_timeout, and two replicas completing
// the same upload at once call it exactly once.
func TestSlowCompleteOnceAcrossReplicas(t *testing.T) {
	const delay = 45 * time.Second
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	dp := startDelayProxy(t, s3.Endpoint, delay)
	cfgPath := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(cfgPath, []byte(`server: { request_timeout: 3m, write_timeout: 3m, read_timeout: 3m }
limits: { complete_timeout: 90s }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The store's provider preset: a generic store would be probed at start,
	// and the probe's own completes would reach the counting proxy.
	env := append(serveEnv(redisURL, s3), "CHUTE_BACKENDS_MAIN_ENDPOINT="+dp.srv.URL, "CHUTE_BACKENDS_MAIN_PROVIDER="+s3.Kind)
	store := &target{store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket}
	a := launchServe(t, env, cfgPath, store)
	b := launchServe(t, env, cfgPath, store)
	dp.arm()
	tok := a.tg.token(t, "alice")

	data := randomBytes(t, 4096)
	c := create(t, a.tg, tok, "slow.bin", "application/octet-stream", int64(len(data)))
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT through the proxy: %d", st)
	}

	type answer struct {
		status int
		body   string
		err    error
	}
	complete := func(base string) answer {
		req, err := http.NewRequest("POST", base+"/v1/uploads/"+c.ID+"/complete", bytes.NewReader([]byte("{}")))
		if err != nil {
			return answer{err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, body: string(body), err: err}
	}
	start := time.Now()
	answers := make([]answer, 2)
	var wg sync.WaitGroup
	for i, r := range []*chuteProc{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = complete(r.tg.base) }()
	}
	wg.Wait()
	took := time.Since(start)
	for i, an := range answers {
		if an.err != nil || an.status != 200 || !strings.Contains(an.body, `"state":"completed"`) {
			t.Errorf("complete on replica %d: %d %s %v", i, an.status, an.body, an.err)
		}
	}
	if took < delay {
		t.Errorf("the completes took %v, less than the proxy's delay %v: was the delay applied?", took, delay)
	}
	if n := dp.completes(); n != 1 {
		dp.mu.Lock()
		t.Errorf("CompleteMultipartUpload reached the proxy %d times, want exactly 1: %v", n, dp.log)
		dp.mu.Unlock()
		t.Logf("replica a:\n%s\nreplica b:\n%s", a.logs.String(), b.logs.String())
	}
	got, err := store.store.StatObject(t.Context(), store.bucket, c.Key, minio.StatObjectOptions{})
	if err != nil || got.Size != int64(len(data)) {
		t.Fatalf("object after the complete: %v, size %d", err, got.Size)
	}
	t.Logf("two completes answered after %v; CompleteMultipartUpload calls at the store: %d", took.Round(time.Millisecond), dp.completes())
}
