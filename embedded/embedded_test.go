package embedded

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
	"github.com/versity/versitygw/backend/meta"
)

// TestStack starts the one stack this test binary may run (versitygw allows
// one gateway per process) and checks it through subtests.
func TestStack(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	wdBefore, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Start(ctx, Options{
		DataDir: dataDir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})

	if !strings.HasPrefix(s.S3Endpoint, "http://127.0.0.1:") || strings.HasSuffix(s.S3Endpoint, ":0") {
		t.Errorf("S3Endpoint = %q, want http://127.0.0.1:<port>", s.S3Endpoint)
	}
	if !strings.HasPrefix(s.RedisURL, "redis://:") || !strings.Contains(s.RedisURL, "@127.0.0.1:") {
		t.Errorf("RedisURL = %q, want redis://:PASSWORD@127.0.0.1:<port>/0", s.RedisURL)
	}
	if s.Bucket != "uploads" || s.Region != "us-east-1" || s.DataDir != dataDir {
		t.Errorf("stack = %+v", s)
	}
	// On a filesystem with user xattrs (ext4 here) metadata lives in them,
	// and no sidecar folder is made.
	if (meta.XattrMeta{}).Test(filepath.Join(dataDir, "objects")) == nil {
		if _, err := os.Stat(filepath.Join(dataDir, "sidecar")); !os.IsNotExist(err) {
			t.Errorf("sidecar dir made although xattrs work: %v", err)
		}
	}
	if len(s.AccessKey) < 16 || len(s.SecretKey) < 32 {
		t.Errorf("credentials too short: %d/%d characters", len(s.AccessKey), len(s.SecretKey))
	}

	mc, err := minio.New(strings.TrimPrefix(s.S3Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("hello, embedded chute")
	const key = "alice/2026/11/27/upl_1.txt"

	presignPut := func(t *testing.T, length int) *url.URL {
		t.Helper()
		h := http.Header{}
		h.Set("Content-Length", strconv.Itoa(length))
		h.Set("Content-Type", "text/plain")
		u, err := mc.PresignHeader(ctx, http.MethodPut, s.Bucket, key, 5*time.Minute, nil, h)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	put := func(t *testing.T, u string, b []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}

	t.Run("bucket exists", func(t *testing.T) {
		ok, err := mc.BucketExists(ctx, s.Bucket)
		if err != nil || !ok {
			t.Fatalf("BucketExists = %v, %v", ok, err)
		}
	})

	t.Run("presigned PUT with a wrong length is refused", func(t *testing.T) {
		u := presignPut(t, len(body))
		code, msg := put(t, u.String(), body[:len(body)-1])
		if code != http.StatusForbidden && code != http.StatusBadRequest {
			t.Fatalf("PUT of %d bytes signed for %d: status %d, want 403 or 400: %s", len(body)-1, len(body), code, msg)
		}
	})

	t.Run("presigned PUT with a forged signature is refused", func(t *testing.T) {
		u := presignPut(t, len(body))
		q := u.Query()
		sig := []byte(q.Get("X-Amz-Signature"))
		if len(sig) == 0 {
			t.Fatalf("no signature in %s", u.Path)
		}
		if sig[0] == 'a' {
			sig[0] = 'b'
		} else {
			sig[0] = 'a'
		}
		q.Set("X-Amz-Signature", string(sig))
		u.RawQuery = q.Encode()
		code, msg := put(t, u.String(), body)
		if code != http.StatusForbidden {
			t.Fatalf("forged PUT: status %d, want 403: %s", code, msg)
		}
	})

	t.Run("nothing was stored by refused PUTs", func(t *testing.T) {
		_, err := mc.StatObject(ctx, s.Bucket, key, minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Fatalf("StatObject after refused PUTs: %v", err)
		}
	})

	t.Run("presigned PUT with the signed length is stored", func(t *testing.T) {
		u := presignPut(t, len(body))
		if code, msg := put(t, u.String(), body); code != http.StatusOK {
			t.Fatalf("PUT: status %d: %s", code, msg)
		}
		got, err := mc.GetObject(ctx, s.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer got.Close()
		b, err := io.ReadAll(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, body) {
			t.Fatalf("GET returned %q, want %q", b, body)
		}
		info, err := got.Stat()
		if err != nil || info.ContentType != "text/plain" || info.ETag == "" {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
	})

	t.Run("presigned GET", func(t *testing.T) {
		u, err := mc.PresignedGetObject(ctx, s.Bucket, key, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, body) {
			t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("CORS answers browsers and exposes ETag", func(t *testing.T) {
		u := presignPut(t, len(body))
		pre, err := http.NewRequestWithContext(ctx, http.MethodOptions, u.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		pre.Header.Set("Origin", "http://localhost:5173")
		pre.Header.Set("Access-Control-Request-Method", "PUT")
		pre.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://localhost:5173")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		expose := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(expose, "etag") || resp.Header.Get("ETag") == "" {
			t.Fatalf("PUT with Origin: %d, Expose-Headers %q, ETag %q", resp.StatusCode, expose, resp.Header.Get("ETag"))
		}
	})

	t.Run("health path needs no credentials", func(t *testing.T) {
		resp, err := http.Get(s.S3Endpoint + HealthPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("health: %d", resp.StatusCode)
		}
	})

	rdbOpts, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdbOpts.MaxRetries = -1 // fail at once after Close
	rdb := redis.NewClient(rdbOpts)
	defer rdb.Close()

	t.Run("session store answers", func(t *testing.T) {
		if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
			t.Fatalf("PING = %q, %v", got, err)
		}
	})

	t.Run("session store requires its password", func(t *testing.T) {
		pw, _ := url.Parse(s.RedisURL)
		secret, _ := pw.User.Password()
		if len(secret) < 20 {
			t.Fatalf("password of %d characters", len(secret))
		}
		for name, o := range map[string]*redis.Options{
			"no password":    {Addr: rdbOpts.Addr, MaxRetries: -1},
			"wrong password": {Addr: rdbOpts.Addr, Password: secret + "x", MaxRetries: -1},
		} {
			c := redis.NewClient(o)
			err := c.Set(ctx, "intruder", "1", 0).Err()
			_ = c.Close()
			if err == nil {
				t.Errorf("%s: SET accepted", name)
			}
		}
		if n, err := rdb.Exists(ctx, "intruder").Result(); err != nil || n != 0 {
			t.Fatalf("intruder key: %d, %v", n, err)
		}
	})

	t.Run("session store TTLs run on the clock", func(t *testing.T) {
		if err := rdb.Set(ctx, "k", "v", 50*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		if got, _ := rdb.Get(ctx, "k").Result(); got != "v" {
			t.Fatalf("GET before expiry = %q", got)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := rdb.Get(ctx, "k").Result()
			if errors.Is(err, redis.Nil) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("key with a 50ms TTL still there after 5s (err %v)", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("working directory is the object root while running", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dataDir, "objects"); wd != want {
			t.Fatalf("working directory %q, want %q", wd, want)
		}
	})

	t.Run("a second Start is refused while running", func(t *testing.T) {
		s2, err := Start(ctx, Options{DataDir: t.TempDir()})
		if !errors.Is(err, ErrRunning) {
			if s2 != nil {
				s2.Close()
			}
			t.Fatalf("second Start = %v, want ErrRunning", err)
		}
	})

	// Close stops both servers and restores the working directory.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Error("session store still answers after Close")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(s.S3Endpoint + HealthPath); err == nil {
		resp.Body.Close()
		t.Errorf("object store still answers after Close: %d", resp.StatusCode)
	}
	if wd, _ := os.Getwd(); wd != wdBefore {
		t.Errorf("working directory after Close = %q, want %q", wd, wdBefore)
	}
	// The object outlives the stack.
	if b, err := os.ReadFile(filepath.Join(dataDir, "objects", "uploads", filepath.FromSlash(key))); err != nil || !bytes.Equal(b, body) {
		t.Errorf("object on disk after Close = %q, %v", b, err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := withDefaults(Options{})
	if o.S3Listen != "127.0.0.1:0" || o.Bucket != "uploads" || o.Region != "us-east-1" ||
		o.CORSOrigin != "*" || o.DataDir != "chute-data" || o.Logger == nil {
		t.Fatalf("withDefaults = %+v", o)
	}
}

func TestResolveListen(t *testing.T) {
	got, err := resolveListen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "127.0.0.1:") || strings.HasSuffix(got, ":0") {
		t.Fatalf("resolveListen = %q", got)
	}
	if got, err := resolveListen("127.0.0.1:7070"); err != nil || got != "127.0.0.1:7070" {
		t.Fatalf("resolveListen(fixed) = %q, %v", got, err)
	}
	if _, err := resolveListen("nonsense"); err == nil {
		t.Fatal("resolveListen(nonsense) succeeded")
	}
}

func TestStartRefusesShortBucket(t *testing.T) {
	// This fails before anything starts, so it doesn't use up the
	// process's one gateway; it must not hold the guard either.
	_, err := Start(context.Background(), Options{DataDir: t.TempDir(), Bucket: "ab"})
	if err == nil || !strings.Contains(err.Error(), "at least 3 characters") {
		t.Fatalf("Start with bucket \"ab\" = %v", err)
	}
	runMu.Lock()
	defer runMu.Unlock()
	if running {
		t.Fatal("a failed Start left the guard taken")
	}
}

func TestChooseMetaKeepsSidecar(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "objects")
	if err := os.MkdirAll(filepath.Join(dir, "sidecar"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	_, sidecar, err := chooseMeta(dir, root)
	if err != nil || sidecar != filepath.Join(dir, "sidecar") {
		t.Fatalf("chooseMeta with an existing sidecar dir = %q, %v", sidecar, err)
	}
}
