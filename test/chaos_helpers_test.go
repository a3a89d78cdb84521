package test

// Helpers for chaos_test.go: Chute replicas that can be killed with
// SIGKILL, a Redis container that can be killed and restarted, a TCP proxy
// that gives that Redis a stable address, and a fault-injecting HTTP proxy
// in front of the store.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/chute-dev/chute/test/containers"
)

// chaosYAML is the serve configuration of every chaos replica; the
// connection settings come from CHUTE_* variables (replicaEnv). Parts of
// 5 MiB (the S3 minimum) keep the bytes moved per scenario small.
const chaosYAML = `sessions:
  ttl: 1h
profiles:
  default:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    part_size: 5MiB
    single_max: 5MiB
    url_ttl: 15m
`

// chaosStore is what replicas connect to.
type chaosStore struct {
	redisURL string        // as Chute reaches Redis
	endpoint string        // as Chute (and, in URLs it signs, clients) reach the store: http://host:port
	public   string        // backends.main.public_endpoint, when not empty
	s3       containers.S3 // the store itself, for the test's direct checks
	direct   *minio.Client // a client straight to the store (never through a proxy)
}

// replica is one running `chute serve` process.
type replica struct {
	name string
	tg   *target
	cmd  *exec.Cmd
	done chan error // receives cmd.Wait's result once
	mu   sync.Mutex
	dead bool
}

// startReplica runs `chute serve` against st and waits for /readyz. The
// process is stopped (SIGTERM, then SIGKILL) when the test ends, unless it
// was killed before.
func startReplica(t *testing.T, name string, st chaosStore) *replica {
	t.Helper()
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(chaosYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(binary, "serve", "--config", path)
	cmd.Env = append(os.Environ(),
		"CHUTE_SERVER_LISTEN="+addr,
		"CHUTE_SERVER_PUBLIC_URL=http://"+addr,
		"CHUTE_SESSIONS_REDIS_URL="+st.redisURL,
		"CHUTE_AUTH_MODE=jwt",
		"CHUTE_AUTH_JWT_SECRET="+jwtSecret,
		"CHUTE_BACKENDS_MAIN_ENDPOINT="+st.endpoint,
		"CHUTE_BACKENDS_MAIN_REGION="+st.s3.Region,
		"CHUTE_BACKENDS_MAIN_BUCKET="+st.s3.Bucket,
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY="+st.s3.AccessKey,
		"CHUTE_BACKENDS_MAIN_SECRET_KEY="+st.s3.SecretKey,
		"CHUTE_BACKENDS_MAIN_PATH_STYLE=true",
	)
	if st.public != "" {
		cmd.Env = append(cmd.Env, "CHUTE_BACKENDS_MAIN_PUBLIC_ENDPOINT="+st.public)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan error, 1),
		tg: &target{base: "http://" + addr, store: st.direct, bucket: st.s3.Bucket, logs: logs}}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() {
		r.mu.Lock()
		dead := r.dead
		r.dead = true
		r.mu.Unlock()
		if !dead {
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
				_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				<-r.done
				t.Errorf("replica %s did not stop within 20s of SIGTERM", name)
			}
		}
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, logs.String())
		}
	})
	waitUntil(t, 60*time.Second, "replica "+name+" ready", func() error {
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("exited early (%v):\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(r.tg.base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return r
}

// kill9 sends SIGKILL to the replica's process (by its PID) and waits
// until it is gone.
func (r *replica) kill9(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	r.dead = true
	r.mu.Unlock()
	if err := syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 replica %s: %v", r.name, err)
	}
	select {
	case err := <-r.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("replica %s: want death by SIGKILL, got %v", r.name, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("replica %s still running 20s after SIGKILL", r.name)
	}
}

// waitUntil calls f until it returns nil, failing the test with f's last
// error after limit.
func waitUntil(t testing.TB, limit time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chaosRedis is a Redis container run with an append-only file fsynced on
// every write, so that what Redis acknowledged survives SIGKILL.
type chaosRedis struct {
	ctr *testcontainers.DockerContainer
}

func startAOFRedis(t *testing.T) *chaosRedis {
	t.Helper()
	containers.RequireDocker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	port := mobynetwork.MustParsePort("6379/tcp")
	ctr, err := testcontainers.Run(ctx, containers.RedisImage,
		// Later arguments override the image's "--appendonly no".
		testcontainers.WithCmdArgs("--appendonly", "yes", "--appendfsync", "always", "--dir", "/"),
		testcontainers.WithWaitStrategyAndDeadline(time.Minute, wait.ForLog("Ready to accept connections")),
		testcontainers.WithExposedPorts("6379/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = mobynetwork.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	return &chaosRedis{ctr: ctr}
}

// addr is the host address Redis listens on now (it may change across a
// restart).
func (r *chaosRedis) addr(t testing.TB) string {
	t.Helper()
	p, err := r.ctr.MappedPort(t.Context(), "6379/tcp")
	if err != nil {
		t.Fatalf("redis mapped port: %v", err)
	}
	return "127.0.0.1:" + p.Port()
}

// kill9 sends SIGKILL to redis-server (by the host PID of the container's
// main process) and waits until the container has exited.
func (r *chaosRedis) kill9(t *testing.T) {
	t.Helper()
	st, err := r.ctr.State(t.Context())
	if err != nil || st.Pid == 0 {
		t.Fatalf("redis container state: %v (pid %d)", err, st.Pid)
	}
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 redis-server (pid %d): %v", st.Pid, err)
	}
	waitUntil(t, 30*time.Second, "redis container exited", func() error {
		st, err := r.ctr.State(t.Context())
		if err != nil {
			return err
		}
		if st.Running {
			return errors.New("still running")
		}
		return nil
	})
}

// restart starts the stopped container again (same container, same data
// directory: the append-only file is replayed).
func (r *chaosRedis) restart(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := r.ctr.Start(ctx); err != nil {
		t.Fatalf("restart redis: %v", err)
	}
}

// tcpProxy forwards connections on a fixed loopback address to a backend
// that the test can switch, so that Chute keeps one Redis address across a
// Redis restart (whose published port may change) and must reconnect by
// itself.
type tcpProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	backend string
	conns   map[net.Conn]struct{}
}

func startTCPProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c) }()
		}
	}()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve(c net.Conn) {
	p.mu.Lock()
	backend := p.backend
	p.mu.Unlock()
	b, err := net.DialTimeout("tcp", backend, 2*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = b.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// switchTo sends new connections to backend and closes the open ones.
func (p *tcpProxy) switchTo(backend string) {
	p.mu.Lock()
	p.backend = backend
	p.mu.Unlock()
	p.closeAll()
}

func (p *tcpProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// faultProxy is a reverse proxy in front of the store that answers 503
// SlowDown to a share of the requests. It forwards the Host header
// unchanged, so SigV4 signatures made for the proxy's address (Chute's
// own calls and presigned URLs alike) verify at the store behind it.
//
// Which requests fail is decided by a pseudo-random generator with a fixed
// seed, at rate; a request repeated (same method, path and query, minus
// the signature parameters) is refused at most maxRun times in a row, so
// that a client with a few retries always gets through — the test is about
// surviving transient faults, not an outage. force lists request kinds
// (see kind) whose first attempt is always refused, so that every
// scenario exercises them whatever the generator draws.
type faultProxy struct {
	srv    *httptest.Server
	rate   float64
	maxRun int
	force  map[string]bool

	mu       sync.Mutex
	on       bool
	rnd      *mrand.Rand
	run      map[string]int // consecutive refusals per request
	seen     map[string]int // requests per kind
	injected map[string]int // refusals per kind
}

func startFaultProxy(t *testing.T, store string, rate float64, force ...string) *faultProxy {
	t.Helper()
	u, err := url.Parse("http://" + store)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{rate: rate, maxRun: 2, force: map[string]bool{},
		rnd: mrand.New(mrand.NewPCG(2026, 6)), run: map[string]int{}, seen: map[string]int{}, injected: map[string]int{}}
	for _, k := range force {
		fp.force[k] = true
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // signed: must reach the store as the client sent it
		},
	}
	fp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fp.refuse(r) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
				`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><Resource>%s</Resource><RequestId>chaos</RequestId></Error>`, r.URL.Path)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(fp.srv.Close)
	return fp
}

// hostPort is the proxy's address, host:port.
func (fp *faultProxy) hostPort() string { return strings.TrimPrefix(fp.srv.URL, "http://") }

func (fp *faultProxy) enable(on bool) {
	fp.mu.Lock()
	fp.on = on
	fp.mu.Unlock()
}

// kind names the S3 operation of r: "presigned PUT" for a client's part or
// object upload, else Chute's own calls by their S3 name.
func kind(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case q.Get("X-Amz-Signature") != "":
		return "presigned " + r.Method
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodGet && q.Has("uploadId"):
		return "ListParts"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodHead:
		return "HEAD"
	}
	return r.Method + " other"
}

func (fp *faultProxy) refuse(r *http.Request) bool {
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "X-Amz-") {
			q.Del(k)
		}
	}
	id := r.Method + " " + r.URL.Path + "?" + q.Encode()
	k := kind(r)
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if !fp.on {
		return false
	}
	fp.seen[k]++
	no := fp.rnd.Float64() >= fp.rate
	if fp.force[k] && fp.seen[k] == 1 {
		no = false
	}
	if no || fp.run[id] >= fp.maxRun {
		fp.run[id] = 0
		return false
	}
	fp.run[id]++
	fp.injected[k]++
	return true
}

// report returns the refusals and requests per kind, for the test log.
func (fp *faultProxy) report() (injected, seen map[string]int, summary string) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	injected, seen = map[string]int{}, map[string]int{}
	var kinds []string
	for k, n := range fp.seen {
		seen[k] = n
		injected[k] = fp.injected[k]
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "%s %d/%d; ", k, fp.injected[k], fp.seen[k])
	}
	return injected, seen, b.String()
}

// checkStored downloads key straight from the store and compares it with
// want, and checks that the bucket holds no unfinished multipart upload.
func checkStored(t *testing.T, st chaosStore, key string, want []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	obj, err := st.direct.GetObject(ctx, st.s3.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		t.Fatalf("download %s: %v", key, err)
	}
	wantSum := sha256.Sum256(want)
	if got := hex.EncodeToString(h.Sum(nil)); n != int64(len(want)) || got != hex.EncodeToString(wantSum[:]) {
		t.Fatalf("stored %s: %d bytes sha256 %s, want %d bytes sha256 %x", key, n, got, len(want), wantSum)
	}
	var open []string
	for u := range st.direct.ListIncompleteUploads(ctx, st.s3.Bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads: %v", u.Err)
		}
		open = append(open, u.Key+" "+u.UploadID)
	}
	if len(open) > 0 {
		t.Fatalf("bucket holds unfinished multipart uploads: %v", open)
	}
}

// serverErrors returns the request log lines of r whose status was 5xx
// (Chute writes one JSON line per request).
func (r *replica) serverErrors(t testing.TB) []string {
	t.Helper()
	var bad []string
	for _, line := range strings.Split(r.tg.logs.String(), "\n") {
		var l struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && l.Status >= 500 {
			bad = append(bad, line)
		}
	}
	return bad
}

// chaosToken is a token for subject "chaos".
func chaosToken(t testing.TB) string {
	return (&target{}).token(t, "chaos")
}

// redisClient is a client to the Redis at addr (host:port), for forcing
// states the scenarios cannot time.
func redisClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// putPart sends one part's bytes to its presigned URL and returns the
// store's ETag; the test fails on anything but 200.
func putPart(t testing.TB, p partURL, data []byte) string {
	t.Helper()
	code, etag := put(t, p.Method, p.URL, p.Headers, data)
	if code != 200 || etag == "" {
		t.Fatalf("PUT part %d: status %d, etag %q", p.PartNumber, code, etag)
	}
	return etag
}

// partBytes returns part n (1-based) of data cut into parts of size ps.
func partBytes(data []byte, ps int64, n int) []byte {
	lo := int64(n-1) * ps
	return data[lo:min(lo+ps, int64(len(data)))]
}
