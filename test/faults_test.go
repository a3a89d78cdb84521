package test

import (
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chute-dev/chute/test/containers"
)

// gate is a TCP forwarder in front of the store that can be switched
// between up (forward), refused (the port is closed: connection refused)
// and blackholed (connections are accepted and never answered).
type gate struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	mode  string // "up", "blackhole" or "refused"
	conns map[net.Conn]bool
}

func newGate(t *testing.T, target string) *gate {
	g := &gate{t: t, addr: freeAddr(t), target: target, conns: map[net.Conn]bool{}}
	g.set("up")
	t.Cleanup(func() { g.set("refused") })
	return g
}

// set switches the mode, dropping every open connection.
func (g *gate) set(mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		_ = c.Close()
	}
	g.conns = map[net.Conn]bool{}
	g.mode = mode
	switch {
	case mode == "refused" && g.ln != nil:
		_ = g.ln.Close()
		g.ln = nil
	case mode != "refused" && g.ln == nil:
		ln, err := net.Listen("tcp", g.addr)
		if err != nil {
			g.t.Fatalf("gate: listen %s again: %v", g.addr, err)
		}
		g.ln = ln
		go g.serve(ln)
	}
}

func (g *gate) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return false
	}
	g.conns[c] = true
	return true
}

func (g *gate) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !g.track(c) {
			_ = c.Close()
			continue
		}
		g.mu.Lock()
		mode := g.mode
		g.mu.Unlock()
		if mode == "blackhole" {
			continue // held open, never answered, closed by the next set
		}
		go func() {
			up, err := net.Dial("tcp", g.target)
			if err != nil {
				_ = c.Close()
				return
			}
			if !g.track(up) {
				_ = up.Close()
				_ = c.Close()
				return
			}
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			_, _ = io.Copy(c, up)
			_ = c.Close()
		}()
	}
}

// TestStoreDown: with the store unreachable, the calls that need it
// answer 503 storage_unavailable, as JSON that names no address, URL or
// credential, within the store timeout; the sessions survive and finish
// once the store is back.
func TestStoreDown(t *testing.T) {
	var g *gate
	tg := startServeEnvGate(t, &g)
	tok := tg.token(t, "alice")

	// Created and uploaded while the store is up.
	size := int64(1000)
	data := randomBytes(t, size)
	single := create(t, tg, tok, "note.txt", "text/plain", size)
	if st, _ := put(t, single.Upload.Method, single.Upload.URL, single.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT: %d", st)
	}

	for _, mode := range []string{"refused", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			g.set(mode)
			defer g.set("up")
			// Multipart create needs CreateMultipartUpload.
			r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "big.mp4", "content_type": "video/mp4", "size": 40 * mib})
			storeUnavailable(t, tg, r, "create multipart")
			// Complete needs HEAD (Stat).
			r = tg.call(t, tok, "POST", "/v1/uploads/"+single.ID+"/complete", nil)
			storeUnavailable(t, tg, r, "complete")
			// The session is still open.
			r = tg.call(t, tok, "GET", "/v1/uploads/"+single.ID, nil)
			var st status
			r.decode(t, &st)
			if r.status != 200 || st.State == "completed" || st.State == "aborted" {
				t.Fatalf("status while the store is down: %d %s", r.status, r.body)
			}
			// readyz says not ready.
			r = tg.call(t, "", "GET", "/readyz", nil)
			if r.status != 503 {
				t.Fatalf("readyz while the store is down: %d %s", r.status, r.body)
			}
		})
	}

	// Back up: the same session completes.
	done := completeOK(t, tg, tok, single.ID, nil)
	if done.State != "completed" || done.Size != size {
		t.Fatalf("%+v", done)
	}
	if tg.grep("X-Amz-Signature") || tg.grep("X-Amz-Credential") {
		t.Error("chute's log holds a presigned URL")
	}
}

// storeUnavailable checks r is a 503 storage_unavailable whose message
// names no host, URL or credential.
func storeUnavailable(t *testing.T, tg *target, r reply, what string) {
	t.Helper()
	if r.status != 503 || r.errCode(t) != "storage_unavailable" {
		t.Fatalf("%s with the store down: %d %s", what, r.status, r.body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"127.0.0.1", "http://", "X-Amz", "secret", "refused", "dial tcp"} {
		if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(bad)) {
			t.Fatalf("%s: the error names %q: %s", what, bad, r.body)
		}
	}
}

// startServeEnvGate runs `chute serve` (real Redis, real versitygw) with
// the store behind a gate and a 3s store timeout.
func startServeEnvGate(t *testing.T, g **gate) *target {
	t.Helper()
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	return startServeEnv(t, "profiles:\n  default:\n    max_size: 1GiB\n",
		[]string{"CHUTE_SESSIONS_REDIS_URL=" + redisURL, "CHUTE_BACKENDS_MAIN_TIMEOUT=3s"},
		func(s3 string) string {
			*g = newGate(t, s3)
			return "http://" + (*g).addr
		})
}

// TestSessionStoreDown: with Redis unreachable (refused, then
// blackholed), the API answers 503 storage_unavailable, and works again
// once Redis is back.
func TestSessionStoreDown(t *testing.T) {
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(t, u.Host)
	u.Host = g.addr
	tg := startServeEnv(t, "profiles:\n  default:\n    max_size: 1GiB\n", []string{"CHUTE_SESSIONS_REDIS_URL=" + u.String()}, nil)
	tok := tg.token(t, "alice")
	for _, mode := range []string{"refused", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			g.set(mode)
			defer g.set("up")
			r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 10})
			storeUnavailable(t, tg, r, "create with Redis down")
			if !strings.Contains(string(r.body), "session store") {
				t.Fatalf("message should name the session store: %s", r.body)
			}
		})
	}
	singleFile(t, tg, 10)
}
