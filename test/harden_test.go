package test

// The security hardening of issue 13 (SECURITY.md, "Hardening"), each on
// the real stack: safe downloads, long subjects in keys, the authorizer
// after the Redis checks, unsigned object headers on PUTs, redacted URLs
// in `chute config print`, and the password of `chute dev`'s Redis.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/test/containers"
)

// completeSingle uploads data as a single upload of profile and completes
// it, returning the key and the download URL complete answered.
func completeSingle(t *testing.T, tg *target, tok, profile, filename, ct string, data []byte) (string, string) {
	t.Helper()
	c := uploadSingle(t, tg, tok, profile, filename, ct, data)
	r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	var done struct {
		Download struct {
			URL string `json:"url"`
		} `json:"download"`
	}
	r.decode(t, &done)
	if r.status != 200 || done.Download.URL == "" {
		t.Fatalf("complete %s: %d %s", filename, r.status, r.body)
	}
	return c.Key, done.Download.URL
}

// fetch GETs u and returns its status, headers and body.
func fetch(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(scrub(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestSafeDownloads(t *testing.T) {
	tg := startServeYAML(t, `profiles:
  default:
    max_size: 10MiB
  web:
    max_size: 10MiB
    allowed_types: ["text/html", "image/svg+xml", "image/png", "application/zip", "application/javascript"]
  trusted:
    max_size: 10MiB
    allowed_types: ["image/svg+xml"]
    inline_types: ["image/svg+xml"]
`)
	tok := tg.token(t, "alice")

	// The default profile no longer takes every type.
	for _, ct := range []string{"text/html", "image/svg+xml", "application/javascript"} {
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "x", "content_type": ct, "size": 5})
		if r.status != 415 || r.errCode(t) != "unsupported_type" {
			t.Fatalf("default profile, %s: %d %s", ct, r.status, r.body)
		}
	}

	html := []byte("<!doctype html><script>alert(document.domain)</script>")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	for _, c := range []struct {
		profile, name, ct string
		data              []byte
		disposition, typ  string
	}{
		{"web", "page.html", "text/html", html, `attachment; filename="page.html"`, "application/octet-stream"},
		{"web", "logo.svg", "image/svg+xml", svg, `attachment; filename="logo.svg"`, "application/octet-stream"},
		{"web", "app.js", "application/javascript", []byte("alert(1)"), `attachment; filename="app.js"`, "application/octet-stream"},
		{"web", "dot.png", "image/png", pngFile(t), `inline; filename="dot.png"`, "image/png"},
		{"web", "a.zip", "application/zip", []byte("PK\x05\x06" + strings.Repeat("\x00", 18)), `attachment; filename="a.zip"`, "application/zip"},
		{"trusted", "logo.svg", "image/svg+xml", svg, `inline; filename="logo.svg"`, "image/svg+xml"},
	} {
		key, u := completeSingle(t, tg, tok, c.profile, c.name, c.ct, c.data)
		again := tg.call(t, tok, "GET", "/v1/uploads/"+sessionIDOf(t, key)+"/download-url", nil)
		var d struct {
			URL string `json:"url"`
		}
		again.decode(t, &d)
		for _, link := range []string{u, d.URL} {
			status, hdr, body := fetch(t, link)
			if status != 200 || !bytes.Equal(body, c.data) {
				t.Fatalf("%s %s: GET %d, %d bytes", c.profile, c.name, status, len(body))
			}
			if got := hdr.Get("Content-Disposition"); got != c.disposition {
				t.Errorf("%s %s: Content-Disposition %q, want %q", c.profile, c.name, got, c.disposition)
			}
			if got := hdr.Get("Content-Type"); got != c.typ {
				t.Errorf("%s %s: Content-Type %q, want %q", c.profile, c.name, got, c.typ)
			}
		}
		// The stored object keeps its declared type.
		info, err := tg.store.StatObject(context.Background(), tg.bucket, key, minio.StatObjectOptions{})
		if err != nil || info.ContentType != c.ct {
			t.Fatalf("%s: stored type %q, %v", c.name, info.ContentType, err)
		}
	}
}

// Subjects longer than the 128 bytes a key segment spells out, sharing
// those bytes, get keys of their own.
func TestLongSubjectsGetTheirOwnKeys(t *testing.T) {
	tg := startServe(t)
	prefix := strings.Repeat("tenant-42.example.com-", 8) // 176 bytes
	prefixes := map[string]string{}
	for _, who := range []string{"alice", "bob"} {
		tok := tg.token(t, prefix+who)
		key, _ := completeSingle(t, tg, tok, "default", who+".txt", "text/plain", []byte("hello from "+who))
		seg := key[:strings.IndexByte(key, '/')]
		if !strings.Contains(seg, "~~") {
			t.Fatalf("%s: key %q has no hash suffix", who, key)
		}
		for other, p := range prefixes {
			if p == seg {
				t.Fatalf("%s and %s share the key prefix %q", who, other, seg)
			}
		}
		prefixes[who] = seg
		// Listing the subject's prefix shows only its own object.
		if keys := tg.objects(t, seg+"/"); len(keys) != 1 || keys[0] != key {
			t.Fatalf("%s: objects under its prefix: %v", who, keys)
		}
	}
}

// The authorizer is asked only after the Redis-backed checks: a subject
// at its open-upload cap, or any create while Redis is away, costs the
// application no call.
func TestAuthorizerAfterRedisChecks(t *testing.T) {
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"allow": true}`)
	}))
	t.Cleanup(hook.Close)

	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	ru, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startTCPProxy(t, ru.Host)
	ru.Host = proxy.addr()
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	cfg := fmt.Sprintf(`auth:
  authorizer:
    url: %q
limits:
  max_open_sessions: 1
profiles:
  default:
    max_size: 1GiB
`, hook.URL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"CHUTE_SERVER_LISTEN=" + addr, "CHUTE_SERVER_PUBLIC_URL=http://" + addr}, serveEnv(ru.String(), s3)...)
	logs := startChute(t, addr, env, "serve", "--config", path)
	tg := &target{base: "http://" + addr, logs: logs}
	tok := tg.token(t, "alice")
	body := map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 5}

	if r := tg.call(t, tok, "POST", "/v1/uploads", body); r.status != 201 {
		t.Fatalf("first create: %d %s", r.status, r.body)
	}
	if calls.Load() != 1 {
		t.Fatalf("authorizer calls after one create: %d", calls.Load())
	}
	// At the cap (1 open upload): 429, the app is not asked.
	for i := 0; i < 3; i++ {
		if r := tg.call(t, tok, "POST", "/v1/uploads", body); r.status != 429 {
			t.Fatalf("create over the cap: %d %s", r.status, r.body)
		}
		if r := tg.call(t, tok, "POST", "/s3/multipart", map[string]any{"filename": "b.bin", "type": "application/octet-stream", "metadata": map[string]string{}}); r.status != 429 {
			t.Fatalf("Uppy create over the cap: %d %s", r.status, r.body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the authorizer was asked %d times for creates over the cap", n-1)
	}

	// Redis away: every create answers 503 and none reaches the app.
	proxy.switchTo(freeAddr(t))
	bob := tg.token(t, "bob")
	for i := 0; i < 5; i++ {
		if r := tg.call(t, bob, "POST", "/v1/uploads", body); r.status != 503 {
			t.Fatalf("create with Redis away: %d %s", r.status, r.body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the authorizer was asked %d times while Redis was away", n-1)
	}
	// Redis back: creates work and ask the app again.
	proxy.switchTo(mustHost(t, redisURL))
	waitUntil(t, 20*time.Second, "a create after Redis came back", func() error {
		if r := tg.call(t, bob, "POST", "/v1/uploads", body); r.status != 201 {
			return fmt.Errorf("create: %d %s", r.status, r.body)
		}
		return nil
	})
	if calls.Load() < 2 {
		t.Fatal("the authorizer was not asked once Redis was back")
	}
}

func mustHost(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// unsignedHeaders are the object headers a client might attach to a
// presigned PUT or a POST form, unsigned, hoping the store keeps them.
var unsignedHeaders = map[string]string{
	"Cache-Control":       "public, max-age=31536000",
	"Content-Encoding":    "gzip",
	"Content-Disposition": "inline; filename=evil.html",
	"Content-Language":    "xx",
	"Expires":             "Wed, 21 Oct 2037 07:28:00 GMT",
}

// checkNoUnsignedHeaders fails if the stored object at key carries any of
// unsignedHeaders (HEAD straight on the store).
func checkNoUnsignedHeaders(t *testing.T, tg *target, key string) {
	t.Helper()
	info, err := tg.store.StatObject(context.Background(), tg.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	for h, v := range unsignedHeaders {
		if got := info.Metadata.Get(h); got == v {
			t.Errorf("%s: the stored object serves the client's unsigned %s: %q", key, h, got)
		}
	}
}

// A client adding Cache-Control, Content-Encoding (and Content-Disposition,
// Content-Language, Expires) to the PUTs Chute signs cannot make the store
// keep them on the object: single and part PUTs go to a multipart upload
// whose object headers were fixed at create, and Uppy's form uploads are
// copied into place with their headers replaced.
func TestUnsignedObjectHeadersAreNotKept(t *testing.T) {
	tg := startServe(t)
	tok := tg.token(t, "alice")
	withExtra := func(h map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for k, v := range unsignedHeaders {
			out[k] = v
		}
		return out
	}

	t.Run("native single", func(t *testing.T) {
		data := []byte("plain text, not gzip")
		c := create(t, tg, tok, "a.txt", "text/plain", int64(len(data)))
		status, _ := put(t, c.Upload.Method, c.Upload.URL, withExtra(c.Upload.Headers), data)
		if status/100 == 2 {
			r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
			if r.status != 200 {
				t.Fatalf("complete: %d %s", r.status, r.body)
			}
			checkNoUnsignedHeaders(t, tg, c.Key)
		} else {
			t.Logf("the store refused the PUT with unsigned headers: %d", status)
		}
	})

	t.Run("native multipart part", func(t *testing.T) {
		data := randomBytes(t, 17<<20)
		c := create(t, tg, tok, "big.bin", "application/octet-stream", int64(len(data)))
		for i, p := range c.Parts {
			chunk := partBytes(data, c.PartSize, i+1)
			h := p.Headers
			if i == 0 {
				h = withExtra(h)
			}
			if status, _ := put(t, p.Method, p.URL, h, chunk); status != 200 {
				t.Fatalf("part %d: %d", i+1, status)
			}
		}
		r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
		if r.status != 200 {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		checkNoUnsignedHeaders(t, tg, c.Key)
	})

	t.Run("uppy form", func(t *testing.T) {
		ep := tg.companion(t, "alice")
		data := []byte("hello from a POST policy with extra fields\n")
		p := uppyParams(t, tg, ep, url.Values{"filename": {"note.txt"}, "type": {"text/plain"}})
		status, msg := postFormExtra(t, p, unsignedHeaders, data)
		if status/100 != 2 {
			t.Logf("the store refused the form with extra fields: %d %s", status, msg)
			return
		}
		id := sessionIDOf(t, p.Fields["key"])
		r := tg.call(t, tok, "POST", "/v1/uploads/"+id+"/complete", nil)
		var done struct {
			Key string `json:"key"`
		}
		r.decode(t, &done)
		if r.status != 200 {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		checkNoUnsignedHeaders(t, tg, done.Key)
	})
}

// The PUT that stands in for a POST policy on stores without them (the
// b2 preset here) is staged and copied into place with its headers
// replaced, so what a client attaches to it never reaches the object.
func TestUnsignedObjectHeadersStagedPut(t *testing.T) {
	tg := startServeYAML(t, `backends:
  main:
    provider: b2
profiles:
  default:
    max_size: 1MiB
    allowed_types: ["text/plain"]
`)
	ep := tg.companion(t, "alice")
	data := []byte("staged PUT with unsigned headers\n")
	r := tg.call(t, "", "GET", ep+"/s3/params?"+url.Values{"filename": {"n.txt"}, "type": {"text/plain"}, "size": {strconv.Itoa(len(data))}}.Encode(), nil)
	var p struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	r.decode(t, &p)
	if r.status != 200 || p.URL == "" {
		t.Fatalf("params: %d %s", r.status, r.body)
	}
	h := map[string]string{}
	for k, v := range p.Headers {
		h[k] = v
	}
	for k, v := range unsignedHeaders {
		h[k] = v
	}
	status, _ := put(t, http.MethodPut, p.URL, h, data)
	if status/100 != 2 {
		t.Logf("the store refused the staged PUT with unsigned headers: %d", status)
		return
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	staged := u.Path[strings.Index(u.Path[1:], "/")+2:]
	tok := tg.token(t, "alice")
	r = tg.call(t, tok, "POST", "/v1/uploads/"+sessionIDOf(t, staged)+"/complete", nil)
	var done struct {
		Key string `json:"key"`
	}
	r.decode(t, &done)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	checkNoUnsignedHeaders(t, tg, done.Key)
}

// postFormExtra is postForm with extra form fields the policy does not
// name.
func postFormExtra(t *testing.T, p companionPost, extra map[string]string, data []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range p.Fields {
		_ = w.WriteField(k, v)
	}
	for k, v := range extra {
		_ = w.WriteField(k, v)
	}
	fw, err := w.CreateFormFile("file", "blob")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = w.Close()
	resp, err := http.Post(p.URL, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(scrub(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// `chute config print` shows no credential or query string of any URL.
func TestConfigPrintRedactsURLs(t *testing.T) {
	const tok = "url-token-0123456789"
	cfg := fmt.Sprintf(`server:
  public_url: "https://chute.example/?k=%[1]s"
sessions:
  redis_url: "redis://default:%[1]s@127.0.0.1:6379/0?password=%[1]s"
auth:
  mode: jwt
  jwt:
    jwks_url: "https://idp.example/jwks?access_token=%[1]s"
  authorizer:
    url: "https://app.example/authorize?sig=%[1]s"
    secret: "%[1]s-secret"
backends:
  main:
    endpoint: "https://ak:%[1]s@s3.example?X-Amz-Security-Token=%[1]s"
    public_endpoint: "https://cdn.example/?token=%[1]s"
    bucket: uploads
    access_key: ak
    secret_key: "%[1]s-s3"
webhooks:
  - url: "https://app.example/hooks?token=%[1]s"
    secret: "%[1]s-hook"
profiles:
  default:
    verify:
      url: "https://app.example/verify#%[1]s"
`, tok)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "config", "print", "--config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("config print: %v\n%s", err, out)
	}
	if strings.Contains(string(out), tok) {
		t.Fatalf("config print shows a token:\n%s", out)
	}
	for _, want := range []string{"https://chute.example/?REDACTED", "https://idp.example/jwks?REDACTED", "https://app.example/authorize?REDACTED",
		"https://ak:REDACTED@s3.example?REDACTED", "https://app.example/verify#REDACTED"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
}

// `chute dev`'s Redis refuses clients without its password, and the
// password is printed nowhere.
func TestDevRedisNeedsPassword(t *testing.T) {
	tg := startDev(t)
	// The line may still be on its way out when the server answers.
	re := regexp.MustCompile(`redis=(127\.0\.0\.1:\d+)`)
	m := re.FindStringSubmatch(tg.logs.String())
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = re.FindStringSubmatch(tg.logs.String()) {
		time.Sleep(50 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("chute dev does not log its Redis address:\n%s", tg.logs.String())
	}
	if strings.Contains(tg.logs.String(), "redis://") {
		t.Fatalf("chute dev prints a Redis URL:\n%s", tg.logs.String())
	}
	conn, err := net.DialTimeout("tcp", m[1], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	for _, cmd := range []string{"*1\r\n$4\r\nPING\r\n", "*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n", "*2\r\n$4\r\nAUTH\r\n$5\r\nguess\r\n"} {
		if _, err := io.WriteString(conn, cmd); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "-") {
			t.Fatalf("%q without the password answered %q", strings.Fields(cmd)[2], line)
		}
	}
	// Chute itself still works with it.
	tok := tg.token(t, "alice")
	completeSingle(t, tg, tok, "default", "a.txt", "text/plain", []byte("hello dev"))
}
