package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker/webhook"
	"github.com/chute-dev/chute/test/containers"
)

const authorizerSecret = "authorizer-webhook-secret-for-e2e"

// hookCall is one request the test's authorizer received.
type hookCall struct {
	body      []byte
	signature string
	timestamp string
	req       struct {
		Subject     string            `json:"subject"`
		Filename    string            `json:"filename"`
		ContentType string            `json:"content_type"`
		Size        *int64            `json:"size"`
		Profile     string            `json:"profile"`
		Metadata    map[string]string `json:"metadata"`
		Headers     map[string]string `json:"headers"`
	}
}

// testAuthorizer is the application's webhook, played by the test: it
// denies files named deny*, and allows every other one with a key prefix
// and a metadata entry.
type testAuthorizer struct {
	mu    sync.Mutex
	calls []hookCall
}

func (a *testAuthorizer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var c hookCall
	c.body, _ = io.ReadAll(r.Body)
	c.signature = r.Header.Get("X-Chute-Signature")
	c.timestamp = r.Header.Get("X-Chute-Timestamp")
	_ = json.Unmarshal(c.body, &c.req)
	a.mu.Lock()
	a.calls = append(a.calls, c)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(c.req.Filename, "boom") {
		http.Error(w, "the app is down", http.StatusInternalServerError)
		return
	}
	if strings.HasPrefix(c.req.Filename, "deny") {
		_, _ = io.WriteString(w, `{"allow": false, "message": "no uploads for this account"}`)
		return
	}
	_, _ = io.WriteString(w, `{"allow": true, "key_prefix": "tenant-7/", "metadata": {"tenant": "7"}}`)
}

func (a *testAuthorizer) last(t *testing.T) hookCall {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.calls) == 0 {
		t.Fatal("the authorizer was never called")
	}
	return a.calls[len(a.calls)-1]
}

// startAuthorized runs `chute serve` against containers with hookURL as
// its authorizer and a profile "sniffed" that checks magic bytes.
func startAuthorized(t *testing.T, hookURL string) *target {
	return startServeYAML(t, fmt.Sprintf(`auth:
  authorizer:
    url: %q
    headers: ["X-Forwarded-For"]
    secret: %q
profiles:
  default:
    max_size: 1GiB
  sniffed:
    max_size: 10MiB
    allowed_types: ["image/png", "text/plain"]
    sniff: true
`, hookURL, authorizerSecret))
}

// createWithHeader is tg.call for a create that also sends X-Forwarded-For.
func createWithHeader(t *testing.T, tg *target, token string, body any, xff string) reply {
	t.Helper()
	js, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, tg.base+"/v1/uploads", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", xff)
	req.Header.Set("X-Not-Allowlisted", "secret-ish")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if validateResponse != nil {
		validateResponse(t, http.MethodPost, "/v1/uploads", resp.StatusCode, resp.Header, data)
	}
	return reply{status: resp.StatusCode, body: data}
}

type singleCreated struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Upload struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"upload"`
}

// uploadSingle creates a single upload of data and PUTs it.
func uploadSingle(t *testing.T, tg *target, token, profile, filename, ct string, data []byte) singleCreated {
	t.Helper()
	r := tg.call(t, token, "POST", "/v1/uploads", map[string]any{
		"filename": filename, "content_type": ct, "size": len(data), "profile": profile,
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c singleCreated
	r.decode(t, &c)
	if status, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); status != 200 {
		t.Fatalf("PUT to the store: %d", status)
	}
	return c
}

func pngFile(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < 8; i++ {
		img.Set(i, i, color.RGBA{R: 255, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAuthorizerAndSniff(t *testing.T) {
	hook := &testAuthorizer{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	tg := startAuthorized(t, hs.URL+"/authorize")
	tok := tg.token(t, "alice")

	t.Run("deny", func(t *testing.T) {
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "deny.txt", "content_type": "text/plain", "size": 5})
		if r.status != 403 || r.errCode(t) != "forbidden" || !strings.Contains(string(r.body), "no uploads for this account") {
			t.Fatalf("deny: %d %s", r.status, r.body)
		}
		r = tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "deny.mp4", "content_type": "video/mp4", "size": 40 << 20})
		if r.status != 403 {
			t.Fatalf("multipart deny: %d %s", r.status, r.body)
		}
		if keys := tg.objects(t, ""); len(keys) != 0 {
			t.Fatalf("a denied create stored %v", keys)
		}
		if ups := tg.incomplete(t, ""); len(ups) != 0 {
			t.Fatalf("a denied create started %v", ups)
		}
	})

	t.Run("failing authorizer denies", func(t *testing.T) {
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "boom.txt", "content_type": "text/plain", "size": 5})
		if r.status != 403 || r.errCode(t) != "forbidden" || !strings.Contains(string(r.body), `"upload not authorized"`) {
			t.Fatalf("failing authorizer: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), "500") {
			t.Fatalf("the client sees the authorizer's failure: %s", r.body)
		}
		if !tg.waitLog("answered status 500") {
			t.Fatal("the authorizer's failure is not in the log")
		}
	})

	t.Run("companion create gets the prefix", func(t *testing.T) {
		r := tg.call(t, tok, "POST", "/s3/multipart", map[string]any{"filename": "clip.mp4", "type": "video/mp4", "metadata": map[string]string{}})
		var up struct {
			Key string `json:"key"`
		}
		r.decode(t, &up)
		if r.status != 200 || !strings.HasPrefix(up.Key, "tenant-7/alice/") {
			t.Fatalf("companion create: %d %s", r.status, r.body)
		}
		r = tg.call(t, tok, "POST", "/s3/multipart", map[string]any{"filename": "deny.mp4", "type": "video/mp4", "metadata": map[string]string{}})
		if r.status != 403 {
			t.Fatalf("companion deny: %d %s", r.status, r.body)
		}
	})

	t.Run("override prefix, metadata, headers, signature", func(t *testing.T) {
		r := createWithHeader(t, tg, tok, map[string]any{
			"filename": "notes.txt", "content_type": "text/plain", "size": 11, "metadata": map[string]string{"title": "notes"},
		}, "203.0.113.9")
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		var c singleCreated
		r.decode(t, &c)
		if !strings.HasPrefix(c.Key, "tenant-7/alice/") {
			t.Fatalf("key %q does not start with the authorizer's prefix", c.Key)
		}
		call := hook.last(t)
		// Signed over "timestamp.body", as webhooks are: a captured call
		// replayed later fails the receiver's timestamp check.
		sec, err := strconv.ParseInt(call.timestamp, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
			t.Fatalf("X-Chute-Timestamp %q is not the sending time", call.timestamp)
		}
		m := hmac.New(sha256.New, []byte(authorizerSecret))
		m.Write([]byte(call.timestamp + "."))
		m.Write(call.body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); call.signature != want {
			t.Fatalf("signature %q, want %q", call.signature, want)
		}
		if !webhook.VerifySignature(authorizerSecret, call.timestamp, call.signature, call.body, time.Now()) {
			t.Fatal("webhook.VerifySignature refuses Chute's own call")
		}
		if webhook.VerifySignature(authorizerSecret, call.timestamp, call.signature, call.body, time.Now().Add(10*time.Minute)) {
			t.Fatal("the call replayed ten minutes later still verifies")
		}
		q := call.req
		if q.Subject != "alice" || q.Filename != "notes.txt" || q.ContentType != "text/plain" || q.Size == nil || *q.Size != 11 ||
			q.Profile != "default" || q.Metadata["title"] != "notes" {
			t.Fatalf("the authorizer was asked %s", call.body)
		}
		if len(q.Headers) != 1 || q.Headers["X-Forwarded-For"] != "203.0.113.9" {
			t.Fatalf("headers passed on: %v", q.Headers)
		}
		if strings.Contains(string(call.body), "Bearer") || strings.Contains(string(call.body), tok) {
			t.Fatal("the token reached the authorizer")
		}
		if status, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, []byte("hello notes")); status != 200 {
			t.Fatalf("PUT: %d", status)
		}
		done := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
		if done.status != 200 {
			t.Fatalf("complete: %d %s", done.status, done.body)
		}
		info, err := tg.store.StatObject(context.Background(), tg.bucket, c.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if info.UserMetadata["Tenant"] != "7" || info.UserMetadata["Title"] != "notes" {
			t.Fatalf("object metadata %v", info.UserMetadata)
		}
	})

	t.Run("sniff rejects text declared as png", func(t *testing.T) {
		c := uploadSingle(t, tg, tok, "sniffed", "fake.png", "image/png", []byte("this is plain text, not a PNG at all"))
		r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
		if r.status != 415 || r.errCode(t) != "unsupported_type" {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		if keys := tg.objects(t, c.Key); len(keys) != 0 {
			t.Fatalf("the object of the wrong type is still stored: %v", keys)
		}
		st := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
		var s struct {
			State string `json:"state"`
		}
		st.decode(t, &s)
		if s.State != "aborted" {
			t.Fatalf("state %q, want aborted", s.State)
		}
	})

	t.Run("sniff accepts a real png and text", func(t *testing.T) {
		c := uploadSingle(t, tg, tok, "sniffed", "dot.png", "image/png", pngFile(t))
		if r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil); r.status != 200 {
			t.Fatalf("complete png: %d %s", r.status, r.body)
		}
		if keys := tg.objects(t, c.Key); len(keys) != 1 {
			t.Fatalf("png object: %v", keys)
		}
		c = uploadSingle(t, tg, tok, "sniffed", "a.txt", "text/plain", []byte("plain words\n"))
		if r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil); r.status != 200 {
			t.Fatalf("complete text: %d %s", r.status, r.body)
		}
	})

	if tg.grep(tok) || tg.grep(authorizerSecret) {
		t.Fatal("a token or the authorizer secret reached the log")
	}
}

// TestReadHeadOnStore checks backends.S3.ReadHead, the ranged GET the
// sniffing uses, against a real store: shorter and longer objects than
// asked for, an empty object, a missing one.
func TestReadHeadOnStore(t *testing.T) {
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "heads")
	store, err := backends.NewS3(backends.Config{
		Name: s3.Kind, Endpoint: "http://" + s3.Endpoint, Region: s3.Region, Bucket: s3.Bucket,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mc := mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region)
	long := bytes.Repeat([]byte("0123456789"), 500)
	for key, data := range map[string][]byte{"long": long, "short": []byte("abc"), "empty": {}} {
		if _, err := mc.PutObject(ctx, s3.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		key  string
		n    int64
		want []byte
	}{
		{"long", 3072, long[:3072]},
		{"long", 1, long[:1]},
		{"short", 3072, []byte("abc")},
		{"empty", 3072, []byte{}},
	} {
		got, err := store.ReadHead(ctx, c.key, c.n)
		if err != nil {
			t.Fatalf("ReadHead(%s, %d): %v", c.key, c.n, err)
		}
		if !bytes.Equal(got, c.want) {
			t.Fatalf("ReadHead(%s, %d) = %d bytes, want %d", c.key, c.n, len(got), len(c.want))
		}
	}
	if _, err := store.ReadHead(ctx, "missing", 10); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	if _, err := store.ReadHead(ctx, "long", 0); err == nil {
		t.Fatal("n = 0 accepted")
	}
}
