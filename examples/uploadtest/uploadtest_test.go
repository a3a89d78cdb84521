// Package uploadtest shows how an application's integration test uses
// chutetest: it starts a real Chute (with Redis and an S3-compatible store)
// in Docker and uploads through it exactly as a client would, over HTTP with
// a bearer token, the bytes going straight to presigned store URLs.
//
// Chute's CI has no registry, so this example runs the images the
// repository builds: chute:local (`make image` at the repository root) and
// chute-test/redis:local + chute-test/versitygw:local
// (`scripts/build-images.sh`), through chutetest.WithLocalImages. A project
// of your own leaves that option out and gets the published images (see
// docs/testcontainers.md). Run it with `go test ./...` in this folder.
package uploadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chute-dev/chute/chutetest"
)

// TestUpload uploads a small file (one presigned PUT) and a larger one
// (multipart, three parts), completes both and reads them back.
func TestUpload(t *testing.T) {
	ctx := context.Background()
	c, err := chutetest.Run(ctx,
		chutetest.WithLocalImages(), // drop this line to run the published images
		chutetest.WithBucket("app-uploads"),
		// Small parts keep the multipart case quick: 5 MiB is S3's minimum.
		chutetest.WithProfile("default", chutetest.Profile{
			PartSize: "5MiB", SingleMax: "5MiB", MaxSize: "64MiB",
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := c.Logs(context.Background())
			t.Logf("chute log:\n%s", logs)
		}
		if err := c.Terminate(context.Background()); err != nil {
			t.Errorf("terminate: %v", err)
		}
	})
	api := client{t: t, base: c.URL, token: token(t, c, "alice")}

	for _, tc := range []struct {
		name     string
		size     int
		strategy string
	}{
		{"single", 64 << 10, "single"},
		{"multipart", 12 << 20, "multipart"},
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
				if len(up.Parts) != up.PartCount {
					t.Fatalf("got %d part URLs for %d parts", len(up.Parts), up.PartCount)
				}
				for _, p := range up.Parts {
					start := int64(p.PartNumber-1) * up.PartSize
					etag := put(t, p.presigned, data[start:start+p.Size])
					api.do("PUT", fmt.Sprintf("/v1/uploads/%s/parts/%d", up.ID, p.PartNumber),
						map[string]any{"etag": etag, "size": p.Size}, http.StatusOK, nil)
				}
			}

			var done struct {
				State    string    `json:"state"`
				Size     int       `json:"size"`
				Download presigned `json:"download"`
			}
			api.do("POST", "/v1/uploads/"+up.ID+"/complete", nil, http.StatusOK, &done)
			if done.State != "completed" || done.Size != len(data) {
				t.Fatalf("complete: state %q size %d, want completed %d", done.State, done.Size, len(data))
			}
			if got := get(t, done.Download.URL); !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes that differ from the %d uploaded", len(got), len(data))
			}

			// Another user's token can't see the upload.
			other := client{t: t, base: c.URL, token: token(t, c, "mallory")}
			other.do("GET", "/v1/uploads/"+up.ID+"/download-url", nil, http.StatusNotFound, nil)

			// The store holds the object under the key Chute chose.
			var dl presigned
			api.do("GET", "/v1/uploads/"+up.ID+"/download-url", nil, http.StatusOK, &dl)
			if got := get(t, dl.URL); !bytes.Equal(got, data) {
				t.Fatal("fresh download URL returned other bytes")
			}
		})
	}
}

// upload is the part of the create response the test uses.
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

// presigned is a request the client sends straight to the store.
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

// client calls the Chute API as one user.
type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends body as JSON, checks the status and decodes the answer into out
// (when not nil).
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
		if http.CanonicalHeaderKey(k) == "Content-Length" {
			continue // net/http sets it from the body; it must match
		}
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("PUT to the store: %v", withoutURL(err))
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

// get downloads the presigned URL u.
func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatalf("GET from the store: %v", withoutURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET from the store: status %d: %s", resp.StatusCode, b)
	}
	return b
}

// withoutURL drops the request URL from a net/http error: a presigned URL is
// a credential and stays out of test logs.
func withoutURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
