package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/checksum"
)

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestClient(f *fake, opts ...Option) *Client {
	return New(f.srv.URL, append([]Option{WithToken("tok"), WithRetry(4, time.Millisecond)}, opts...)...)
}

// progressLog records OnProgress calls and fails the test if two run at
// once.
type progressLog struct {
	mu     sync.Mutex
	inside bool
	calls  []Progress
	t      *testing.T
}

func (p *progressLog) fn(pr Progress) {
	p.mu.Lock()
	if p.inside {
		p.t.Error("OnProgress called concurrently")
	}
	p.inside = true
	p.calls = append(p.calls, pr)
	p.inside = false
	p.mu.Unlock()
}

func (p *progressLog) last() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[len(p.calls)-1]
}

func TestUploadMultipart(t *testing.T) {
	f := newFake(t, 1000, 500)
	data := randBytes(t, 10_500)
	pl := &progressLog{t: t}
	var session string
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), int64(len(data)), UploadOptions{
		Filename: "a.bin", Parallel: 3, OnProgress: pl.fn, OnSession: func(id string) { session = id }, Checksum: NoChecksum,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored bytes differ from the file")
	}
	if session != "upl_1" || res.ID != "upl_1" || res.Key != "k/upl_1.bin" || res.Size != int64(len(data)) || res.DownloadURL == "" || res.ETag == "" {
		t.Fatalf("session %q, result %+v", session, res)
	}
	if got := pl.last(); got != (Progress{Uploaded: 10_500, Total: 10_500, PartsDone: 11, Parts: 11}) {
		t.Fatalf("last progress %+v", got)
	}
	if f.ctype != "application/octet-stream" {
		t.Fatalf("content type %q", f.ctype)
	}
	// Parts 1-2 came with Create; the rest in one batch, whichever worker
	// asked first.
	if len(f.signed) != 1 || len(f.signed[0]) != 9 {
		t.Fatalf("part-urls batches %v", f.signed)
	}
	batch := slices.Sorted(slices.Values(f.signed[0]))
	if !slices.Equal(batch, []int{3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Fatalf("part-urls batch %v", f.signed[0])
	}
}

func TestUploadBatchesAtMostURLBatch(t *testing.T) {
	f := newFake(t, 10, 5)
	data := randBytes(t, 10*(urlBatch+50))
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), int64(len(data)), UploadOptions{Parallel: 8, Checksum: NoChecksum}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored bytes differ")
	}
	total := 0
	for _, b := range f.signed {
		if len(b) > urlBatch {
			t.Fatalf("batch of %d", len(b))
		}
		total += len(b)
	}
	if total != urlBatch+50-2 {
		t.Fatalf("signed %d parts via part-urls, want %d", total, urlBatch+48)
	}
}

func TestUploadSingle(t *testing.T) {
	f := newFake(t, 1000, 5000)
	data := randBytes(t, 3000)
	pl := &progressLog{t: t}
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3000, UploadOptions{ContentType: "image/png", OnProgress: pl.fn})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) || res.Size != 3000 {
		t.Fatalf("single upload: stored %d bytes, result %+v", len(f.object()), res)
	}
	if got := pl.last(); got.Uploaded != 3000 || got.PartsDone != 1 || got.Parts != 1 {
		t.Fatalf("last progress %+v", got)
	}
}

func TestUploadRetries5xxWithBackoff(t *testing.T) {
	f := newFake(t, 1000, 500)
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if n == 3 && attempt <= 2 {
			w.WriteHeader(503)
			fmt.Fprint(w, "<Error><Code>SlowDown</Code></Error>")
			return true
		}
		if n == 5 && attempt == 1 {
			w.WriteHeader(500)
			return true
		}
		return false
	}
	data := randBytes(t, 6000)
	pl := &progressLog{t: t}
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 6000, UploadOptions{OnProgress: pl.fn}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored bytes differ")
	}
	if f.puts[3] != 3 || f.puts[5] != 2 || f.puts[1] != 1 {
		t.Fatalf("PUT attempts %v", f.puts)
	}
	// Failed attempts are not counted as uploaded.
	if got := pl.last(); got.Uploaded != 6000 {
		t.Fatalf("last progress %+v", got)
	}
}

func TestUploadGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t, 1000, 500)
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if n == 2 {
			w.WriteHeader(500)
			fmt.Fprint(w, "<Error><Code>InternalError</Code></Error>")
			return true
		}
		return false
	}
	data := randBytes(t, 3000)
	_, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3000, UploadOptions{})
	var se *StoreError
	if !errors.As(err, &se) || se.Status != 500 || se.Part != 2 || se.Code != "InternalError" {
		t.Fatalf("error %v, want a StoreError 500 for part 2", err)
	}
	if f.puts[2] != 4 {
		t.Fatalf("part 2 tried %d times, want 4", f.puts[2])
	}
	if f.completed {
		t.Fatal("completed despite a failed part")
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("error leaks the signature: %v", err)
	}
}

func TestUploadDoesNotRetry4xx(t *testing.T) {
	f := newFake(t, 1000, 500)
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if n == 1 {
			w.WriteHeader(400)
			fmt.Fprint(w, "<Error><Code>BadDigest</Code></Error>")
			return true
		}
		return false
	}
	data := randBytes(t, 3000)
	_, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3000, UploadOptions{Parallel: 1})
	var se *StoreError
	if !errors.As(err, &se) || se.Status != 400 || f.puts[1] != 1 {
		t.Fatalf("error %v after %d attempts", err, f.puts[1])
	}
}

func TestUploadResignsOn403(t *testing.T) {
	f := newFake(t, 1000, 500)
	// The first URL signed for parts 1 (from Create) and 4 (from
	// part-urls) has "expired".
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if (n == 1 || n == 4) && gen == 1 {
			w.WriteHeader(403)
			fmt.Fprint(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
			return true
		}
		return false
	}
	data := randBytes(t, 5000)
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 5000, UploadOptions{Parallel: 2, Checksum: NoChecksum}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored bytes differ")
	}
	if f.gen[1] != 2 || f.gen[4] != 2 || f.gen[2] != 1 {
		t.Fatalf("signings per part %v", f.gen)
	}
}

func TestUploadResumeSkipsStoredParts(t *testing.T) {
	f := newFake(t, 1000, 500)
	data := randBytes(t, 5500)
	// A first run that stops after part 2 is stored.
	ctx, cancel := context.WithCancel(context.Background())
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if n >= 3 {
			cancel()
			w.WriteHeader(503)
			return true
		}
		return false
	}
	var session string
	_, err := newTestClient(f).Upload(ctx, bytes.NewReader(data), 5500, UploadOptions{Parallel: 1, OnSession: func(id string) { session = id }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	if !f.reported[1] || !f.reported[2] || f.reported[3] {
		t.Fatalf("reported after first run: %v", f.reported)
	}
	f.storeHook = nil
	f.puts = map[int]int{}
	pl := &progressLog{t: t}
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 5500, UploadOptions{ResumeID: session, OnProgress: pl.fn})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) || res.ID != session {
		t.Fatal("stored bytes differ after resume")
	}
	if f.puts[1] != 0 || f.puts[2] != 0 || f.puts[3] != 1 || f.puts[6] != 1 {
		t.Fatalf("PUTs on resume %v, want only parts 3-6", f.puts)
	}
	pl.mu.Lock()
	first := pl.calls[0]
	pl.mu.Unlock()
	if first.Uploaded != 2000 || first.PartsDone != 2 {
		t.Fatalf("first progress on resume %+v", first)
	}
	// Resuming a completed session just returns the result.
	f.puts = map[int]int{}
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 5500, UploadOptions{ResumeID: session}); err != nil || len(f.puts) != 0 {
		t.Fatalf("resume of a completed session: %v, puts %v", err, f.puts)
	}
	// A different file size is refused.
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 5000, UploadOptions{ResumeID: session}); err == nil {
		t.Fatal("resume with another size succeeded")
	}
}

func TestUploadChecksums(t *testing.T) {
	f := newFake(t, 1000, 500)
	data := randBytes(t, 2500)
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 2500, UploadOptions{Checksums: true}); err != nil {
		t.Fatal(err)
	}
	if len(f.checksums) != 3 {
		t.Fatalf("checksums signed for %d parts, want 3", len(f.checksums))
	}
	if f.alg != "SHA256" || f.declared != checksum.SHA256.Sum(data) {
		t.Fatalf("Checksums: true asked for %q (value %q), want SHA256 of the file", f.alg, f.declared)
	}
	// The fake store refuses a body whose SHA-256 is not the signed one.
	// With no read-ahead, the part hashed is not the part sent.
	f2 := newFake(t, 1000, 500)
	_, err := newTestClient(f2).Upload(context.Background(), &flipReader{data: data}, 2500, UploadOptions{Checksums: true, Parallel: 1, ChecksumPassMax: -1})
	var se *StoreError
	if !errors.As(err, &se) || se.Code != "BadDigest" {
		t.Fatalf("changed bytes: %v, want BadDigest", err)
	}
	// With the whole file read first, the part is hashed and sent alike
	// (both after the change), and complete finds the object differs
	// from the declared value.
	f3 := newFake(t, 1000, 500)
	_, err = newTestClient(f3).Upload(context.Background(), &flipReader{data: data}, 2500, UploadOptions{Checksums: true, Parallel: 1})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 422 || f3.completed {
		t.Fatalf("changed bytes after the read-ahead: %v, want 422 and no completed object", err)
	}
}

// flipReader returns different bytes on the second read of part 1, as if
// the file changed (or got corrupted) between hashing and sending.
type flipReader struct {
	mu    sync.Mutex
	data  []byte
	reads int
}

func (r *flipReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r.data).ReadAt(p, off)
	r.mu.Lock()
	defer r.mu.Unlock()
	if off == 0 {
		r.reads++
	}
	if r.reads > 1 && off < 1000 && n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

func TestAPIErrors(t *testing.T) {
	f := newFake(t, 1000, 500)
	c := newTestClient(f)
	ctx := context.Background()

	f.createResp = func(w http.ResponseWriter) bool {
		jsonErr(w, 415, "unsupported_type", "content type text/html is not allowed")
		return true
	}
	_, err := c.Create(ctx, CreateRequest{Filename: "x.html", ContentType: "text/html", Size: new(int64(10))})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 415 || ae.Code != "unsupported_type" || ae.Message != "content type text/html is not allowed" {
		t.Fatalf("error %#v", err)
	}

	f.createResp = func(w http.ResponseWriter) bool {
		w.WriteHeader(502)
		fmt.Fprint(w, "<html>bad gateway</html>")
		return true
	}
	_, err = c.Create(ctx, CreateRequest{Filename: "x", ContentType: "a/b", Size: new(int64(10))})
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "http_502" || !strings.Contains(ae.Message, "bad gateway") {
		t.Fatalf("non-JSON error %#v", err)
	}

	// 429 is retried, even for Create.
	calls := 0
	f.createResp = func(w http.ResponseWriter) bool {
		calls++
		if calls < 3 {
			jsonErr(w, 429, "rate_limited", "slow down")
			return true
		}
		return false
	}
	if _, err := c.Create(ctx, CreateRequest{Filename: "x", ContentType: "a/b", Size: new(int64(10))}); err != nil || calls != 3 {
		t.Fatalf("after 429s: %v, %d calls", err, calls)
	}
	// 429 quota_exceeded is not: a quota frees in minutes or hours.
	calls = 0
	f.createResp = func(w http.ResponseWriter) bool {
		calls++
		jsonErr(w, 429, "quota_exceeded", "quota exceeded: your open_bytes quota is 10 bytes")
		return true
	}
	if _, err := c.Create(ctx, CreateRequest{Filename: "x", ContentType: "a/b", Size: new(int64(10))}); !errors.As(err, &ae) || ae.Code != "quota_exceeded" || calls != 1 {
		t.Fatalf("quota_exceeded: %v, %d calls, want the error after one call", err, calls)
	}

	// Unknown session.
	_, err = c.Status(ctx, "upl_nope", false)
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" {
		t.Fatalf("status of unknown session: %v", err)
	}
	// Bad token.
	_, err = New(f.srv.URL, WithToken("wrong")).Abort(ctx, "upl_1")
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" {
		t.Fatalf("bad token: %v", err)
	}
	if st, err := c.Abort(ctx, "upl_1"); err != nil || st.State != "aborted" {
		t.Fatalf("abort: %v %+v", err, st)
	}
}

func TestNetworkErrorsHideURL(t *testing.T) {
	f := newFake(t, 1000, 500)
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		_ = conn.Close()
		return true
	}
	data := randBytes(t, 1500)
	_, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 1500, UploadOptions{})
	if err == nil {
		t.Fatal("upload succeeded through a store that hangs up")
	}
	if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "/store/") {
		t.Fatalf("error shows the URL: %v", err)
	}
	if f.putsOf(1) != 4 && f.putsOf(2) != 4 {
		t.Fatalf("network errors not retried: %v", f.puts)
	}
}

func TestBackoff(t *testing.T) {
	c := New("http://x", WithRetry(10, 100*time.Millisecond))
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 30: 30 * time.Second} {
		for range 50 {
			d := c.backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

// A worker that reaches the URL lock before the worker of an earlier part
// still signs every part left in one call: the earlier part is not asked
// for apart.
func TestPartURLBatchIncludesEarlierParts(t *testing.T) {
	f := newFake(t, 1000, 500)
	m := &multi{c: newTestClient(f), id: "upl_1", pending: []int{3, 4, 5, 6, 7, 8, 9, 10, 11}, urls: map[int]PartURL{}}
	for _, n := range []int{4, 3, 6, 5} {
		u, err := m.url(context.Background(), n, "")
		if err != nil {
			t.Fatal(err)
		}
		if u.PartNumber != n {
			t.Fatalf("asked for part %d, got %d", n, u.PartNumber)
		}
	}
	if len(f.signed) != 1 || !slices.Equal(slices.Sorted(slices.Values(f.signed[0])), []int{3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Fatalf("part-urls batches %v", f.signed)
	}
}
