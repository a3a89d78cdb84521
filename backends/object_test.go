package backends

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/checksum"
)

// TestOpenOutlivesTheCallTimeout checks that Open's timeout bounds the
// wait for the store's answer, not the read: a body that trickles in for
// several timeouts is read whole, and an answer later than the timeout
// fails as unavailable.
func TestOpenOutlivesTheCallTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	delayHeaders := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delayHeaders {
			time.Sleep(3 * timeout)
		}
		w.Header().Set("Content-Length", "5")
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		for _, c := range "abcde" {
			_, _ = io.WriteString(w, string(c))
			w.(http.Flusher).Flush()
			time.Sleep(timeout / 2)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig()
	cfg.Endpoint = srv.URL
	cfg.Timeout = timeout
	s := mustS3(t, cfg)

	start := time.Now()
	rc, err := s.Open(context.Background(), "k")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "abcde" {
		t.Fatalf("read %q, %v; want abcde", b, err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d < 2*timeout {
		t.Fatalf("the read took %v; the test needs it to outlast the %v timeout", d, timeout)
	}

	delayHeaders = true
	_, err = s.Open(context.Background(), "k")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open of a late answer: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

// TestOpenReadStopsWithItsContext checks that a canceled context ends a
// read in progress.
func TestOpenReadStopsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ab")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cfg := testConfig()
	cfg.Endpoint = srv.URL
	s := mustS3(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = io.ReadAll(rc)
	if err == nil || strings.Contains(err.Error(), "://") {
		t.Errorf("read after cancel: %v, want an error without a URL", err)
	}
}

func TestCopySendsReplaceAndConditions(t *testing.T) {
	s, rec := recordingS3(t, func(r *http.Request, _ string) (int, map[string]string, string) {
		if r.Method == http.MethodHead {
			return 200, map[string]string{"ETag": `"c"`, "Content-Length": "3", "Content-Type": "application/pdf", "x-amz-meta-b": "2", "Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, ""
		}
		return 200, nil, `<CopyObjectResult><ETag>"c"</ETag><LastModified>2026-12-07T00:00:00.000Z</LastModified></CopyObjectResult>`
	})
	info, err := s.Copy(context.Background(), "stage/a b", "final/x", CopyOptions{ContentType: "application/pdf", Metadata: map[string]string{"B": "2"}, IfNoneMatch: true, Checksum: checksum.CRC32C})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != "c" || info.Size != 3 || info.Metadata["b"] != "2" {
		t.Errorf("Copy = %+v", info)
	}
	rec.mu.Lock()
	put := rec.reqs[0]
	rec.mu.Unlock()
	if put.method != http.MethodPut {
		t.Fatalf("first request %s, want the PUT copy", put.method)
	}
	for k, want := range map[string]string{
		"x-amz-copy-source":        "uploads/stage/a%20b",
		"x-amz-metadata-directive": "REPLACE",
		"Content-Type":             "application/pdf",
		"x-amz-meta-b":             "2",
		"If-None-Match":            "*",
		"x-amz-checksum-algorithm": "CRC32C",
	} {
		if got := put.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := s.Copy(context.Background(), "a", "b", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	plain := rec.reqs[2]
	rec.mu.Unlock()
	if plain.header.Get("If-None-Match") != "" || plain.header.Get("x-amz-checksum-algorithm") != "" || plain.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("plain copy headers: %v", plain.header)
	}
	if _, err := s.Copy(context.Background(), "a", "b", CopyOptions{Checksum: "MD5"}); err == nil {
		t.Error("Copy with an unknown algorithm accepted")
	}
}
