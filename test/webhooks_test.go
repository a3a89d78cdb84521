package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chute-dev/chute/test/containers"
)

const hookSecret = "webhook-test-secret-42"

// hookEvent is the event payload as a receiver decodes it.
type hookEvent struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Upload struct {
		ID   string `json:"id"`
		Key  string `json:"key"`
		Size int64  `json:"size"`
		ETag string `json:"etag"`
		// Reason is set for upload.rejected (verify_test.go).
		Reason string `json:"reason"`
	} `json:"upload"`
}

// hookReceiver is the application's webhook: it checks each request's
// signature, fails on purpose while told to, and keeps the first
// successful delivery of each event id (deduplicating, as receivers must).
type hookReceiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	failLeft  map[string]int // event id → failures still to answer
	attempts  map[string]int // event id → requests seen
	delivered map[string]hookEvent
	bad       []string // what was wrong with a request
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{failLeft: map[string]int{}, attempts: map[string]int{}, delivered: map[string]hookEvent{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get("X-Chute-Timestamp"), r.Header.Get("X-Chute-Signature")
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var ev hookEvent
	err := json.Unmarshal(body, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !hmac.Equal([]byte(sig), []byte(want)):
		h.bad = append(h.bad, "bad signature "+sig)
		w.WriteHeader(http.StatusUnauthorized)
		return
	case err != nil || r.Header.Get("Content-Type") != "application/json":
		h.bad = append(h.bad, fmt.Sprintf("body or content type: %v %q", err, r.Header.Get("Content-Type")))
		w.WriteHeader(http.StatusBadRequest)
		return
	case r.Header.Get("X-Chute-Event-Id") != ev.ID || r.Header.Get("X-Chute-Event") != ev.Type || r.URL.Query().Get("token") != "q-secret":
		h.bad = append(h.bad, "headers or URL do not match the body")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.attempts[ev.ID]++
	if h.failLeft[ev.ID] > 0 {
		h.failLeft[ev.ID]--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if _, dup := h.delivered[ev.ID]; !dup {
		h.delivered[ev.ID] = ev
	}
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) failFor(id string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failLeft[id] = n
}

func (h *hookReceiver) attemptsOf(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[id]
}

// wait returns the delivered event id, failing the test after 60 s.
func (h *hookReceiver) wait(t *testing.T, id string) hookEvent {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h.mu.Lock()
		ev, ok := h.delivered[id]
		bad := append([]string(nil), h.bad...)
		h.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("the receiver refused requests: %v", bad)
		}
		if ok {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s not delivered within 60s (%d attempts seen)", id, h.attemptsOf(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// chuteProc is a `chute serve` process the test can kill -9.
type chuteProc struct {
	cmd  *exec.Cmd
	done chan error
	logs *syncBuffer
	tg   *target
	// killed is set by kill9 (the cleanup then has nothing to stop).
	killed bool
}

// launchServe runs `chute serve` on a fresh address with env.
func launchServe(t *testing.T, env []string, cfgPath string, store *target) *chuteProc {
	t.Helper()
	return launchServeBinary(t, binary, env, cfgPath, store)
}

// launchServeBinary is launchServe with another chute binary (bin).
func launchServeBinary(t *testing.T, bin string, env []string, cfgPath string, store *target) *chuteProc {
	t.Helper()
	addr := freeAddr(t)
	p := &chuteProc{logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	p.cmd.Env = append(append(os.Environ(), env...), "CHUTE_SERVER_LISTEN="+addr, "CHUTE_SERVER_PUBLIC_URL=http://"+addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.killed {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			t.Errorf("chute did not stop within 20s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("chute (%s) output:\n%s", addr, p.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chute not ready after 60s:\n%s", p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	tg := *store
	tg.base, tg.logs = "http://"+addr, p.logs
	p.tg = &tg
	return p
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *chuteProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.killed = true
	err := <-p.done
	p.done <- err // for the cleanup
}

// uploadSmall creates, PUTs (real bytes) and completes a single upload;
// before completing it calls before with the upload id.
func uploadSmall(t *testing.T, tg *target, tok string, before func(id string)) completed {
	t.Helper()
	data := randomBytes(t, 4096)
	c := create(t, tg, tok, "hook.bin", "application/octet-stream", int64(len(data)))
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	if before != nil {
		before(c.ID)
	}
	return completeOK(t, tg, tok, c.ID, nil)
}

// webhookEnv starts Redis and versitygw and writes a config with extra
// YAML; it returns the environment for `chute serve`, the config path and
// a target for the store.
func webhookEnv(t *testing.T, extra string) ([]string, string, *target) {
	t.Helper()
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	cfgPath := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(cfgPath, []byte(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	// The webhook secret comes from the environment.
	env := append(serveEnv(redisURL, s3), "CHUTE_WEBHOOKS_0_SECRET="+hookSecret)
	return env, cfgPath, &target{store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket}
}

func TestWebhooks(t *testing.T) {
	rcv := newHookReceiver(t)
	env, cfgPath, store := webhookEnv(t, fmt.Sprintf(`webhooks:
  - url: %q
    events: ["upload.completed", "upload.aborted"]
webhook_delivery: { timeout: 1s, backoff: 100ms, max_backoff: 500ms, max_attempts: 1000 }
`, rcv.srv.URL+"/hook?token=q-secret"))
	a := launchServe(t, env, cfgPath, store)
	tok := a.tg.token(t, "alice")

	t.Run("completed", func(t *testing.T) {
		done := uploadSmall(t, a.tg, tok, nil)
		ev := rcv.wait(t, done.ID+":upload.completed")
		if ev.Type != "upload.completed" || ev.Upload.ID != done.ID || ev.Upload.Key != done.Key || ev.Upload.Size != 4096 ||
			strings.Trim(ev.Upload.ETag, `"`) != strings.Trim(done.ETag, `"`) || ev.Upload.ETag == "" {
			t.Fatalf("event %+v, completed %+v", ev, done)
		}
	})

	t.Run("aborted", func(t *testing.T) {
		c := create(t, a.tg, tok, "gone.bin", "application/octet-stream", 10)
		if r := a.tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil); r.status/100 != 2 {
			t.Fatalf("abort: %d %s", r.status, r.body)
		}
		ev := rcv.wait(t, c.ID+":upload.aborted")
		if ev.Upload.ID != c.ID || ev.Upload.Key != c.Key {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("retried after 500s", func(t *testing.T) {
		var id string
		done := uploadSmall(t, a.tg, tok, func(uid string) {
			id = uid + ":upload.completed"
			rcv.failFor(id, 3)
		})
		ev := rcv.wait(t, id)
		if ev.Upload.Key != done.Key {
			t.Fatalf("event %+v", ev)
		}
		if n := rcv.attemptsOf(id); n < 4 {
			t.Fatalf("%d attempts, want at least 4 (3 answered 500)", n)
		}
	})

	t.Run("survives kill -9", func(t *testing.T) {
		var id string
		done := uploadSmall(t, a.tg, tok, func(uid string) {
			id = uid + ":upload.completed"
			rcv.failFor(id, 1<<30) // fail until told otherwise
		})
		deadline := time.Now().Add(60 * time.Second)
		for rcv.attemptsOf(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no delivery attempt within 60s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		a.kill9(t)
		rcv.failFor(id, 0)
		b := launchServe(t, env, cfgPath, store)
		ev := rcv.wait(t, id)
		if ev.Upload.Key != done.Key {
			t.Fatalf("event %+v", ev)
		}
		if !b.tg.waitLog("took over a pending delivery") {
			t.Errorf("the new process did not log taking over the dead one's delivery:\n%s", b.logs.String())
		}
		for _, s := range []string{"q-secret", hookSecret} {
			if strings.Contains(a.logs.String(), s) || strings.Contains(b.logs.String(), s) {
				t.Errorf("chute's output contains %q", s)
			}
		}
	})
}

// TestWebhooksExpired: the janitor's upload.expired reaches the webhook.
func TestWebhooksExpired(t *testing.T) {
	rcv := newHookReceiver(t)
	env, cfgPath, store := webhookEnv(t, fmt.Sprintf(`sessions: { ttl: 3s }
janitor: { interval: 500ms }
webhooks:
  - url: %q
    events: ["upload.expired"]
webhook_delivery: { timeout: 1s, backoff: 100ms, max_backoff: 500ms }
`, rcv.srv.URL+"/hook?token=q-secret"))
	a := launchServe(t, env, cfgPath, store)
	tok := a.tg.token(t, "alice")
	c := create(t, a.tg, tok, "never.bin", "application/octet-stream", 10)
	ev := rcv.wait(t, c.ID+":upload.expired")
	if ev.Type != "upload.expired" || ev.Upload.ID != c.ID || ev.Upload.Key != c.Key {
		t.Fatalf("event %+v", ev)
	}
}
