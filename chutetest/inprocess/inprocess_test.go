package inprocess_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/chutetest"
	"github.com/chute-dev/chute/chutetest/inprocess"
)

// TestUpload uploads through an in-process Chute as a client does — create,
// PUT to the presigned URLs, report the parts, complete — and reads the
// object back from the store with the handle's credentials. No Docker.
func TestUpload(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := inprocess.Start(t,
		chutetest.WithBucket("app-uploads"),
		chutetest.WithProfile("default", chutetest.Profile{PartSize: "5MiB", SingleMax: "5MiB", MaxSize: "64MiB"}),
		chutetest.WithProfile("images", chutetest.Profile{AllowedTypes: []string{"image/png"}}),
	)
	t.Logf("in-process Chute ready in %v", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(c.URL, "http://127.0.0.1:") || !strings.HasPrefix(c.S3.Endpoint, "http://127.0.0.1:") {
		t.Errorf("URL %q, store %q: want loopback", c.URL, c.S3.Endpoint)
	}
	if c.S3.Bucket != "app-uploads" {
		t.Errorf("bucket = %q", c.S3.Bucket)
	}
	store := storeClient(t, c)
	api := client{t: t, base: c.URL, token: token(t, c, "alice")}

	for _, tc := range []struct {
		name, strategy string
		size           int
	}{
		{"single", "single", 64 << 10},
		{"multipart", "multipart", 11 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := api
			api.t = t
			data := make([]byte, tc.size)
			rand.Read(data)
			var up upload
			api.do("POST", "/v1/uploads", map[string]any{
				"filename": "report.bin", "content_type": "application/octet-stream", "size": len(data),
			}, http.StatusCreated, &up)
			if up.Strategy != tc.strategy {
				t.Fatalf("strategy = %q, want %q", up.Strategy, tc.strategy)
			}
			if up.Strategy == "single" {
				put(t, up.Upload, data)
			} else {
				for _, p := range up.Parts {
					from := int64(p.PartNumber-1) * up.PartSize
					etag := put(t, p.presigned, data[from:from+p.Size])
					api.do("PUT", fmt.Sprintf("/v1/uploads/%s/parts/%d", up.ID, p.PartNumber),
						map[string]any{"etag": etag, "size": p.Size}, http.StatusOK, nil)
				}
			}
			var done struct {
				State string `json:"state"`
				Size  int    `json:"size"`
				Key   string `json:"key"`
			}
			api.do("POST", "/v1/uploads/"+up.ID+"/complete", nil, http.StatusOK, &done)
			if done.State != "completed" || done.Size != len(data) || done.Key == "" {
				t.Fatalf("complete: %+v, want completed, %d bytes, a key", done, len(data))
			}
			// Read back with the store's credentials, straight from the bucket.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			obj, err := store.GetObject(ctx, c.S3.Bucket, done.Key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil {
				t.Fatalf("read %s back: %v", done.Key, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("object %s: %d bytes that differ from the %d uploaded", done.Key, len(got), len(data))
			}
		})
	}

	t.Run("options reach the broker", func(t *testing.T) {
		api := api
		api.t = t
		api.do("POST", "/v1/uploads", map[string]any{
			"filename": "a.txt", "content_type": "text/plain", "size": 10, "profile": "images",
		}, http.StatusUnsupportedMediaType, nil)
		// A token signed with another secret is refused.
		bad := client{t: t, base: c.URL, token: token(t, inprocess.Start(t), "alice")}
		bad.do("POST", "/v1/uploads", map[string]any{"filename": "a.bin", "size": 1}, http.StatusUnauthorized, nil)
	})

	t.Run("sessions in the handle's Redis", func(t *testing.T) {
		opts, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(opts)
		defer rc.Close()
		keys, err := rc.Keys(context.Background(), "chute:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Error("no session keys in the Redis database RedisURL names")
		}
	})

	logs, err := c.Logs(context.Background())
	if err != nil || !strings.Contains(logs, `"msg"`) {
		t.Errorf("Logs = %.200q, %v: want the broker's JSON log", logs, err)
	}
	// While the stack runs the store has changed the working directory;
	// Terminate gives it back.
	if err := c.Terminate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Terminate(context.Background()); err != nil {
		t.Errorf("second Terminate: %v", err)
	}
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("working directory %q after Terminate, want %q", now, wd)
	}
	if _, err := httpClient.Get(c.URL + "/healthz"); err == nil {
		t.Error("the API still answers after Terminate")
	}
}

// TestParallel runs several in-process Chutes at once: they share the
// process's embedded stores but not their sessions.
func TestParallel(t *testing.T) {
	// All three run before any uploads, so they overlap for certain.
	var cs []*chutetest.Chute
	for range 3 {
		cs = append(cs, inprocess.Start(t))
	}
	t.Run("uploads", func(t *testing.T) { // returns when its parallel subtests are done
		for i, c := range cs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				api := client{t: t, base: c.URL, token: token(t, c, "bob")}
				data := []byte(fmt.Sprintf("file %d", i))
				var up upload
				api.do("POST", "/v1/uploads", map[string]any{"filename": "f.txt", "content_type": "text/plain", "size": len(data)}, http.StatusCreated, &up)
				put(t, up.Upload, data)
				api.do("POST", "/v1/uploads/"+up.ID+"/complete", nil, http.StatusOK, nil)
			})
		}
	})
	t.Run("each its own sessions", func(t *testing.T) {
		for i, c := range cs {
			opts, err := redis.ParseURL(c.RedisURL)
			if err != nil {
				t.Fatal(err)
			}
			rc := redis.NewClient(opts)
			keys, err := rc.Keys(context.Background(), "chute:{upl_*}:s").Result()
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 {
				t.Errorf("Chute %d: sessions %v in its Redis database, want its one", i, keys)
			}
		}
	})
}

// TestUnservedRefused checks that settings the in-process mode doesn't
// wire are refused by name, not silently left out.
func TestUnservedRefused(t *testing.T) {
	wd, _ := os.Getwd()
	for key, want := range map[string]string{
		"CHUTE_QUOTAS_OPEN_BYTES":                  "quotas",
		"CHUTE_PROFILES_DEFAULT_QUOTAS_OPEN_BYTES": "profiles.default.quotas",
		"CHUTE_TRACING_ENABLED":                    "tracing.enabled",
	} {
		val := "1MiB"
		if key == "CHUTE_TRACING_ENABLED" {
			val = "true"
		}
		c, err := inprocess.StartContext(context.Background(), chutetest.WithEnv(map[string]string{key: val}))
		if err == nil {
			c.Terminate(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %s refused", key, err, want)
		}
	}
	// A refused start lets go of the stores again.
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("working directory %q after the refused starts, want %q", now, wd)
	}
}

func storeClient(t *testing.T, c *chutetest.Chute) *minio.Client {
	t.Helper()
	mc, err := minio.New(c.S3.Host(), &minio.Options{
		Creds:        credentials.NewStaticV4(c.S3.AccessKey, c.S3.SecretKey, ""),
		Region:       c.S3.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

type upload struct {
	ID        string    `json:"id"`
	Strategy  string    `json:"strategy"`
	PartSize  int64     `json:"part_size"`
	PartCount int       `json:"part_count"`
	Upload    presigned `json:"upload"`
	Parts     []struct {
		presigned
		PartNumber int   `json:"part_number"`
		Size       int64 `json:"size"`
	} `json:"parts"`
}

type presigned struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

func token(t *testing.T, c *chutetest.Chute, subject string) string {
	t.Helper()
	tok, err := c.Token(subject)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// put sends data to a presigned URL with the headers Chute listed and
// returns the store's ETag.
func put(t *testing.T, p presigned, data []byte) string {
	t.Helper()
	req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Headers {
		if http.CanonicalHeaderKey(k) != "Content-Length" {
			req.Header.Set(k, v)
		}
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the URL is a credential: keep it out of the log
		}
		t.Fatalf("PUT to the store: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT to the store: status %d: %s", resp.StatusCode, b)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("store answered without an ETag")
	}
	return etag
}
