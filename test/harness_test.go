// Package test holds Chute's end-to-end tests: the compiled chute binary
// against a real Redis and a real S3-compatible store (versitygw or
// SeaweedFS, picked by CHUTE_TEST_STORE; see containers.StartStore), both in
// containers built locally (./scripts/build-images.sh), and against its
// own embedded default (`chute dev`). Bytes really go to presigned URLs.
//
// Run them with ./scripts/test.sh; `go test ./test/...` works too once the
// images exist and Docker runs (set CHUTE_REQUIRE_DOCKER=1 to fail rather
// than skip without Docker).
package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/test/containers"
)

const jwtSecret = "integration-test-secret-0123456789"

var binary string // the chute binary built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chute-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chute")
	build := exec.Command("go", "build", "-o", binary, "../cmd/chute")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building chute:", err)
		os.Exit(1)
	}
	// One SeaweedFS container serves every test that needs no network of
	// its own (a bucket each); see containers.ShareSeaweedFS.
	stopShared := containers.ShareSeaweedFS()
	code := m.Run()
	stopShared()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// target is a running Chute and the store behind it.
type target struct {
	base   string        // http://127.0.0.1:PORT
	store  *minio.Client // the store, with Chute's own credentials
	bucket string
	logs   *syncBuffer // what Chute printed
	// provider is the preset Chute was configured with for its store
	// ("" generic): what it may ask the store to verify.
	provider string
}

// token mints a token for subject.
func (tg *target) token(t testing.TB, subject string) string {
	t.Helper()
	tok, err := auth.SignHS256(jwtSecret, subject, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChute runs the binary with args and env until the test ends, and
// waits for /readyz.
func startChute(t testing.TB, addr string, env []string, args ...string) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("chute did not stop within 20s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("chute output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return logs
			}
		}
		select {
		case err := <-done:
			done <- err // for the cleanup, which waits for the exit too
			t.Fatalf("chute exited early (%v):\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chute not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServe runs `chute serve` against fresh Redis and store containers.
func startServe(t *testing.T) *target {
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`server:
  listen: %q
  public_url: "http://%s"
sessions:
  redis_url: %q
  ttl: 1h
auth:
  mode: jwt
  jwt:
    secret: %q
backends:
  main:
    endpoint: %q
    region: %q
    bucket: %q
    access_key: %q
    path_style: true
    provider: %q
profiles:
  default:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    part_size: 16MiB
    single_max: 16MiB
    url_ttl: 15m
  images:
    backend: main
    max_size: 1MiB
    allowed_types: ["image/png", "image/jpeg"]
`, addr, addr, redisURL, jwtSecret, "http://"+s3.Endpoint, s3.Region, s3.Bucket, s3.AccessKey, s3.Kind)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// The secret key comes from the environment, as in production.
	logs := startChute(t, addr, []string{"CHUTE_BACKENDS_MAIN_SECRET_KEY=" + s3.SecretKey}, "serve", "--config", path)
	return &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs, provider: s3.Kind}
}

// startServeYAML runs `chute serve` against fresh Redis and store
// containers with the given YAML file; the connection settings (listen,
// Redis, JWT secret, the main backend) come from CHUTE_* variables, which
// also exercises the environment overrides.
func startServeYAML(t *testing.T, yaml string) *target {
	t.Helper()
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{
		"CHUTE_SERVER_LISTEN=" + addr,
		"CHUTE_SERVER_PUBLIC_URL=http://" + addr,
	}, serveEnv(redisURL, s3)...)
	logs := startChute(t, addr, env, "serve", "--config", path)
	return &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs}
}

// serveEnv is the environment that connects `chute serve` to redisURL and
// to s3 as backend "main", with JWT auth on the suite's secret.
func serveEnv(redisURL string, s3 containers.S3) []string {
	return []string{
		"CHUTE_SESSIONS_REDIS_URL=" + redisURL,
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

// startDev runs `chute dev` with its embedded stores.
func startDev(t *testing.T) *target {
	addr := freeAddr(t)
	s3Addr := freeAddr(t)
	key, secret := "devaccesskey", "dev-secret-key-0123456789"
	logs := startChute(t, addr, nil, "dev", "--listen", addr, "--s3-listen", s3Addr,
		"--data", filepath.Join(t.TempDir(), "data"), "--jwt-secret", jwtSecret,
		"--s3-access-key", key, "--s3-secret-key", secret)
	return &target{base: "http://" + addr, store: mustClient(t, "http://"+s3Addr, key, secret, "us-east-1"), bucket: "uploads", logs: logs, provider: containers.KindVersityGW}
}

func mustClient(t testing.TB, endpoint, key, secret, region string) *minio.Client {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	c, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4(key, secret, ""), Region: region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reply is a decoded API answer.
type reply struct {
	status int
	body   []byte
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errCode returns the error code of a JSON error body, failing the test
// if the body is not Chute's error shape.
func (r reply) errCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: not a JSON error: %s", r.status, r.body)
	}
	return e.Error.Code
}

// headersOnly sends req's request line and headers (with its
// Content-Length) but not its body, and reads the answer: the server must
// answer without waiting for the body.
func headersOnly(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", req.Method, req.URL.RequestURI(), req.URL.Host, req.ContentLength)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s with a %d-byte Content-Length: no answer before the body: %v", req.Method, req.URL.Path, req.ContentLength, err)
	}
	return resp
}

// call sends a JSON request to Chute. body may be nil, a string (sent as
// is) or a value (JSON-encoded).
func (tg *target) call(t testing.TB, token, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, tg.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var resp *http.Response
	if req.ContentLength > 1<<20 {
		// A body over the server's limit (1 MiB in every test config)
		// must be refused from its Content-Length alone: send the headers only and read the answer.
		// (Sending the body too races the server's close: a reset.)
		resp = headersOnly(t, req)
	} else {
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if validateResponse != nil { // every answer against the OpenAPI document: openapi_test.go
		validateResponse(t, method, path, resp.StatusCode, resp.Header, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q, body %s", method, path, ct, data)
	}
	return reply{status: resp.StatusCode, body: data}
}

// put sends data to a presigned request with its listed headers and
// returns the status and ETag header.
func put(t testing.TB, method, url string, headers map[string]string, data []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Content-Length") {
			continue // net/http sets it from the body
		}
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// A store may refuse a body by closing the connection while it
		// is being sent: report that as status 0.
		t.Logf("%s to the store: connection failed: %v", method, scrub(err))
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag")
}

// scrub drops the query string (the signature) from an error's text.
func scrub(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "?"); i >= 0 {
		if j := strings.Index(msg[i:], "\": "); j >= 0 {
			return msg[:i] + "?…" + msg[i+j:]
		}
		return msg[:i] + "?…"
	}
	return msg
}

// incomplete lists the store's unfinished multipart uploads under prefix.
func (tg *target) incomplete(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	for u := range tg.store.ListIncompleteUploads(context.Background(), tg.bucket, prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		keys = append(keys, u.Key)
	}
	return keys
}

// objects lists the keys stored under prefix.
func (tg *target) objects(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range tg.store.ListObjects(context.Background(), tg.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// waitLog reports whether Chute's output holds s within a few seconds: a
// line the server wrote before answering may still be in the pipe.
func (tg *target) waitLog(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if tg.grep(s) {
			return true
		}
	}
	return false
}

// grep reports whether Chute's output holds s (used to prove secrets and
// presigned URLs never reach the logs).
func (tg *target) grep(s string) bool {
	sc := bufio.NewScanner(strings.NewReader(tg.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}
