// Package storetest is a conformance suite for Chute's object-store
// adapter against a real S3-compatible server, in the manner of
// testing/fstest: Run drives the adapter and sends real HTTP requests to
// the URLs it presigns, and checks that the store itself enforces what
// Chute relies on: signed Content-Length, Content-Type, metadata and
// checksums, signatures, expiry, and the multipart protocol's rules.
//
// Run needs a store that verifies signatures (versitygw, SeaweedFS with
// an identity, AWS S3): a store that accepts forged requests fails it.
// It writes only under a random prefix, sends about 30 MiB, removes what
// it created and aborts the uploads it started. The integrity checks
// (integrity.go) hold the store to the abilities its adapter claims
// (S3.Capabilities, from the provider preset): give the adapter the
// store's provider, or nothing beyond the basics is checked. It takes several seconds
// against a local store: it sends 1001 one-byte parts to check ListParts
// paging and waits about two seconds for URLs to expire.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// ttl is the lifetime of the URLs the suite presigns, bar the expiry
// check.
const ttl = 5 * time.Minute

// Run runs the conformance suite against s, whose bucket it creates when
// missing (EnsureBucket).
func Run(t *testing.T, s *backends.S3) {
	t.Helper()
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after EnsureBucket: %v", err)
	}
	h := &harness{
		s:      s,
		prefix: "storetest-" + randomHex(8) + "/",
		http:   &http.Client{Timeout: 2 * time.Minute},
	}
	t.Cleanup(func() { h.cleanup(t) })

	t.Run("SinglePut", h.testSinglePut)
	t.Run("SinglePutWrongLength", h.testSinglePutWrongLength)
	t.Run("SinglePutWrongContentType", h.testSinglePutWrongContentType)
	t.Run("SinglePutWrongMetadata", h.testSinglePutWrongMetadata)
	t.Run("PresignGetDisposition", h.testPresignGetDisposition)
	t.Run("Multipart", h.testMultipart)
	t.Run("ListPartsPages", h.testListPartsPages)
	t.Run("PartChecksum", h.testPartChecksum)
	t.Run("PartWrongLength", h.testPartWrongLength)
	t.Run("AlteredSignature", h.testAlteredSignature)
	t.Run("SwappedPartNumber", h.testSwappedPartNumber)
	t.Run("SwappedUploadID", h.testSwappedUploadID)
	t.Run("Abort", h.testAbort)
	t.Run("UnknownUpload", h.testUnknownUpload)
	t.Run("StatMissing", h.testStatMissing)
	t.Run("CompleteWrongETag", h.testCompleteWrongETag)
	t.Run("CompletePartTooSmall", h.testCompletePartTooSmall)
	t.Run("ExpiredURL", h.testExpiredURL)
	t.Run("ErrorsHideCredentials", h.testErrorsHideCredentials)
	t.Run("PartChecksums", h.testPartChecksums)
	t.Run("FullObjectChecksums", h.testFullObjectChecksums)
	t.Run("ConditionalComplete", h.testConditionalComplete)
	t.Run("CopyAndOpen", h.testCopyAndOpen)
}

// harness carries what the checks share.
type harness struct {
	s      *backends.S3
	prefix string
	http   *http.Client
	n      int
	keys   []string
}

// key returns a fresh key under the run's prefix and remembers it for
// the cleanup.
func (h *harness) key(name string) string {
	h.n++
	k := fmt.Sprintf("%s%02d-%s", h.prefix, h.n, name)
	h.keys = append(h.keys, k)
	return k
}

// cleanup removes the objects the run created and aborts its uploads,
// then checks that nothing is left under the prefix.
func (h *harness) cleanup(t *testing.T) {
	ctx := context.Background()
	for _, k := range h.keys {
		if err := h.s.Remove(ctx, k); err != nil {
			t.Errorf("cleanup: Remove: %v", err)
		}
	}
	ups, err := h.s.ListUploads(ctx, h.prefix)
	if err != nil {
		t.Errorf("cleanup: ListUploads: %v", err)
		return
	}
	for _, u := range ups {
		if err := h.s.AbortMultipart(ctx, u.Key, u.UploadID); err != nil && !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("cleanup: AbortMultipart: %v", err)
		}
	}
	if ups, err := h.s.ListUploads(ctx, h.prefix); err != nil || len(ups) > 0 {
		t.Errorf("cleanup: uploads left under the prefix: %d (err %v)", len(ups), err)
	}
}

// send sends body to the presigned request r with r's headers, the way a
// browser does: Content-Length comes from the body. edit, when not nil,
// changes the request before it goes. It returns the status, headers and
// body of the response.
func (h *harness) send(t *testing.T, r backends.PresignedRequest, body []byte, edit func(*http.Request)) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(r.Method, r.URL, rd)
	if err != nil {
		t.Fatalf("building %s request: %v", r.Method, err)
	}
	req.ContentLength = int64(len(body))
	for k, v := range r.Headers {
		if strings.EqualFold(k, "Content-Length") {
			continue
		}
		req.Header.Set(k, v)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatalf("%s to the store: %v", r.Method, redact(err))
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the store's answer: %v", redact(err))
	}
	return resp.StatusCode, resp.Header, got
}

// mustSend sends like send and fails unless the store answers 200.
func (h *harness) mustSend(t *testing.T, r backends.PresignedRequest, body []byte) http.Header {
	t.Helper()
	status, hdr, got := h.send(t, r, body, nil)
	if status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %s", r.Method, status, snippet(got))
	}
	return hdr
}

// refuse sends like send and fails unless the store refuses (non-2xx).
func (h *harness) refuse(t *testing.T, what string, r backends.PresignedRequest, body []byte, edit func(*http.Request)) {
	t.Helper()
	status, _, got := h.send(t, r, body, edit)
	if status >= 200 && status < 300 {
		t.Errorf("%s: the store accepted it with status %d, want a refusal", what, status)
		return
	}
	t.Logf("%s: refused with %d %s", what, status, snippet(got))
}

// absent fails unless key does not exist.
func (h *harness) absent(t *testing.T, key string) {
	t.Helper()
	_, err := h.s.Stat(context.Background(), key)
	if !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat after a refused PUT: err %v, want ErrNotFound (no object may exist)", err)
	}
}

// create starts a multipart upload and registers its abort.
func (h *harness) create(t *testing.T, key string, opts backends.ObjectOptions) string {
	t.Helper()
	id, err := h.s.CreateMultipart(context.Background(), key, opts)
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	if id == "" {
		t.Fatal("CreateMultipart returned an empty upload id")
	}
	return id
}

// presignPart presigns a part or fails.
func (h *harness) presignPart(t *testing.T, key, id string, n int, size int64, sum string) backends.PresignedRequest {
	t.Helper()
	opts := backends.PartOptions{Size: size}
	if sum != "" {
		opts.Checksum = checksum.Value{Algorithm: checksum.SHA256, Value: sum}
	}
	r, err := h.s.PresignPart(context.Background(), key, id, n, opts, ttl)
	if err != nil {
		t.Fatalf("PresignPart(%d): %v", n, err)
	}
	return r
}

// putPart presigns part n for data, sends it and returns the ETag the
// store answered with.
func (h *harness) putPart(t *testing.T, key, id string, n int, data []byte) string {
	t.Helper()
	r := h.presignPart(t, key, id, n, int64(len(data)), "")
	hdr := h.mustSend(t, r, data)
	etag := hdr.Get("ETag")
	if etag == "" {
		t.Fatalf("part %d: the store answered without an ETag", n)
	}
	return etag
}

// get fetches key through a presigned GET and returns its bytes.
func (h *harness) get(t *testing.T, key string) []byte {
	t.Helper()
	r, err := h.s.PresignGet(context.Background(), key, backends.GetOptions{}, ttl)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	status, _, body := h.send(t, r, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET: status %d: %s", status, snippet(body))
	}
	return body
}

func (h *harness) testSinglePut(t *testing.T) {
	ctx := context.Background()
	key := h.key("single.txt")
	data := randomBytes(1000)
	opts := backends.ObjectOptions{
		ContentType: "text/plain",
		Metadata:    map[string]string{"title": "Holiday clip", "owner": "alice"},
	}
	before := time.Now()
	r, err := h.s.PresignPut(ctx, key, int64(len(data)), opts, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if r.Method != http.MethodPut {
		t.Errorf("Method = %q, want PUT", r.Method)
	}
	wantHeaders := map[string]string{
		"Content-Length":   "1000",
		"Content-Type":     "text/plain",
		"x-amz-meta-title": "Holiday clip",
		"x-amz-meta-owner": "alice",
	}
	if !equalFoldMaps(r.Headers, wantHeaders) {
		t.Errorf("Headers = %v, want %v", r.Headers, wantHeaders)
	}
	checkExpiry(t, r, before, ttl)
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatalf("presigned URL does not parse: %v", err)
	}
	signed := strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";")
	for _, want := range []string{"content-length", "content-type", "host", "x-amz-meta-owner", "x-amz-meta-title"} {
		if !slices.Contains(signed, want) {
			t.Errorf("X-Amz-SignedHeaders = %v, lacks %s", signed, want)
		}
	}

	hdr := h.mustSend(t, r, data)
	info, err := h.s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Stat size = %d, want %d", info.Size, len(data))
	}
	if info.ContentType != "text/plain" {
		t.Errorf("Stat content type = %q, want text/plain", info.ContentType)
	}
	for k, v := range opts.Metadata {
		if info.Metadata[k] != v {
			t.Errorf("Stat metadata[%q] = %q, want %q (all: %v)", k, info.Metadata[k], v, info.Metadata)
		}
	}
	if info.ETag == "" || info.ETag != multipart.NormalizeETag(hdr.Get("ETag")) {
		t.Errorf("Stat ETag = %q, PUT answered %q", info.ETag, hdr.Get("ETag"))
	}
	if strings.Contains(info.ETag, `"`) {
		t.Errorf("Stat ETag %q is quoted", info.ETag)
	}
	if got := h.get(t, key); !bytes.Equal(got, data) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(data))
	}
}

func (h *harness) testSinglePutWrongLength(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delta int
	}{{"OneByteLonger", 1}, {"OneByteShorter", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			key := h.key("length.bin")
			r, err := h.s.PresignPut(context.Background(), key, 100, backends.ObjectOptions{ContentType: "application/octet-stream"}, ttl)
			if err != nil {
				t.Fatalf("PresignPut: %v", err)
			}
			h.refuse(t, "body of the wrong length", r, randomBytes(100+tc.delta), nil)
			h.absent(t, key)
		})
	}
}

func (h *harness) testSinglePutWrongContentType(t *testing.T) {
	key := h.key("type.png")
	data := randomBytes(64)
	r, err := h.s.PresignPut(context.Background(), key, int64(len(data)), backends.ObjectOptions{ContentType: "image/png"}, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	h.refuse(t, "another Content-Type", r, data, func(req *http.Request) {
		req.Header.Set("Content-Type", "text/html")
	})
	h.absent(t, key)
}

func (h *harness) testSinglePutWrongMetadata(t *testing.T) {
	key := h.key("meta.bin")
	data := randomBytes(64)
	r, err := h.s.PresignPut(context.Background(), key, int64(len(data)),
		backends.ObjectOptions{ContentType: "application/octet-stream", Metadata: map[string]string{"title": "signed"}}, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	h.refuse(t, "altered metadata", r, data, func(req *http.Request) {
		req.Header.Set("x-amz-meta-title", "forged")
	})
	h.refuse(t, "missing metadata", r, data, func(req *http.Request) {
		req.Header.Del("x-amz-meta-title")
	})
	h.absent(t, key)
}

func (h *harness) testPresignGetDisposition(t *testing.T) {
	ctx := context.Background()
	key := h.key("disposition.txt")
	data := []byte("hello")
	r, err := h.s.PresignPut(ctx, key, int64(len(data)), backends.ObjectOptions{ContentType: "text/plain"}, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	h.mustSend(t, r, data)

	for _, tc := range []struct {
		filename string
		want     string
	}{
		{"report.txt", `inline; filename="report.txt"`},
		{"Résumé \"final\".txt", `inline; filename="R_sum_ _final_.txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.txt`},
	} {
		before := time.Now()
		g, err := h.s.PresignGet(ctx, key, backends.GetOptions{Filename: tc.filename}, ttl)
		if err != nil {
			t.Fatalf("PresignGet(%q): %v", tc.filename, err)
		}
		if g.Method != http.MethodGet || len(g.Headers) != 0 {
			t.Errorf("PresignGet: method %q, headers %v; want GET and no headers", g.Method, g.Headers)
		}
		checkExpiry(t, g, before, ttl)
		status, hdr, body := h.send(t, g, nil, nil)
		if status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("GET %q: status %d, body %q", tc.filename, status, snippet(body))
		}
		if got := hdr.Get("Content-Disposition"); got != tc.want {
			t.Errorf("GET %q: Content-Disposition = %q, want %q", tc.filename, got, tc.want)
		}
	}

	// Safe downloads: the store serves an attachment of the type asked
	// for, not the object's own (text/plain here).
	g, err := h.s.PresignGet(ctx, key, backends.GetOptions{Filename: "page.html", Attachment: true, ContentType: "application/octet-stream"}, ttl)
	if err != nil {
		t.Fatalf("PresignGet attachment: %v", err)
	}
	status, hdr, body := h.send(t, g, nil, nil)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET attachment: status %d, body %q", status, snippet(body))
	}
	if got := hdr.Get("Content-Disposition"); got != `attachment; filename="page.html"` {
		t.Errorf("GET attachment: Content-Disposition = %q", got)
	}
	if got := hdr.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("GET attachment: Content-Type = %q, want application/octet-stream", got)
	}
}

func (h *harness) testMultipart(t *testing.T) {
	ctx := context.Background()
	key := h.key("multi.mp4")
	opts := backends.ObjectOptions{ContentType: "video/mp4", Metadata: map[string]string{"title": "clip"}}
	id := h.create(t, key, opts)

	ups, err := h.s.ListUploads(ctx, h.prefix)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if !listsUpload(ups, key, id) {
		t.Errorf("ListUploads does not list the new upload")
	}

	sizes := []int{int(multipart.MinPartSize), int(multipart.MinPartSize), 1}
	data := randomBytes(sizes[0] + sizes[1] + sizes[2])
	chunks := [][]byte{data[:sizes[0]], data[sizes[0] : sizes[0]+sizes[1]], data[sizes[0]+sizes[1]:]}

	// Presign all parts first, then send them last part first: the store
	// must not care about the order parts arrive in.
	reqs := make([]backends.PresignedRequest, len(chunks))
	for i, c := range chunks {
		before := time.Now()
		reqs[i] = h.presignPart(t, key, id, i+1, int64(len(c)), "")
		r := reqs[i]
		if r.Method != http.MethodPut {
			t.Errorf("part %d: Method = %q, want PUT", i+1, r.Method)
		}
		want := map[string]string{"Content-Length": fmt.Sprint(len(c))}
		if !equalFoldMaps(r.Headers, want) {
			t.Errorf("part %d: Headers = %v, want %v", i+1, r.Headers, want)
		}
		checkExpiry(t, r, before, ttl)
	}
	etags := make([]string, len(chunks))
	for i := len(chunks) - 1; i >= 0; i-- {
		hdr := h.mustSend(t, reqs[i], chunks[i])
		etags[i] = hdr.Get("ETag")
		if etags[i] == "" {
			t.Fatalf("part %d: no ETag in the store's answer", i+1)
		}
	}

	parts, err := h.s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(parts) != len(chunks) {
		t.Fatalf("ListParts: %d parts, want %d: %v", len(parts), len(chunks), parts)
	}
	for i, p := range parts {
		if p.Number != i+1 || p.Size != int64(sizes[i]) {
			t.Errorf("ListParts[%d] = part %d of %d bytes, want part %d of %d bytes", i, p.Number, p.Size, i+1, sizes[i])
		}
		if p.ETag != multipart.NormalizeETag(etags[i]) {
			t.Errorf("ListParts[%d] ETag = %q, PUT answered %q", i, p.ETag, etags[i])
		}
	}

	// The quoted ETags from the PUT answers, as a client reports them.
	report := make([]multipart.Part, len(chunks))
	for i := range chunks {
		report[i] = multipart.Part{Number: i + 1, ETag: etags[i], Size: int64(sizes[i])}
	}
	done, err := h.s.CompleteMultipart(ctx, key, id, report, backends.CompleteOptions{})
	etag := done.ETag
	if err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	if etag == "" || strings.Contains(etag, `"`) {
		t.Errorf("CompleteMultipart ETag = %q, want a non-empty unquoted ETag", etag)
	}

	info, err := h.s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != int64(len(data)) || info.ContentType != "video/mp4" || info.Metadata["title"] != "clip" {
		t.Errorf("Stat = size %d, type %q, metadata %v; want %d, video/mp4, title=clip", info.Size, info.ContentType, info.Metadata, len(data))
	}
	if info.ETag != etag {
		t.Errorf("Stat ETag = %q, CompleteMultipart returned %q", info.ETag, etag)
	}
	got := h.get(t, key)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("GET returned %d bytes whose SHA-256 differs from the %d uploaded", len(got), len(data))
	}

	ups, err = h.s.ListUploads(ctx, h.prefix)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if listsUpload(ups, key, id) {
		t.Errorf("ListUploads still lists the completed upload")
	}
}

// testListPartsPages lists more parts than one page of ListParts holds
// (S3 pages hold at most 1000).
func (h *harness) testListPartsPages(t *testing.T) {
	ctx := context.Background()
	key := h.key("many-parts.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	const count = 1001
	reqs := make([]backends.PresignedRequest, count+1)
	for n := 1; n <= count; n++ {
		reqs[n] = h.presignPart(t, key, id, n, 1, "")
	}
	jobs := make(chan int)
	errs := make(chan error, count)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				errs <- h.put(reqs[n], []byte{byte(n)})
			}
		}()
	}
	for n := 1; n <= count; n++ {
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	parts, err := h.s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(parts) != count {
		t.Fatalf("ListParts: %d parts, want %d", len(parts), count)
	}
	for i, p := range parts {
		if p.Number != i+1 || p.Size != 1 || p.ETag == "" {
			t.Fatalf("ListParts[%d] = %+v, want part %d of 1 byte with an ETag", i, p, i+1)
		}
	}
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

// put sends body to r and reports a non-200 answer; it is safe to call
// from several goroutines.
func (h *harness) put(r backends.PresignedRequest, body []byte) error {
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the request: %v", err)
	}
	req.ContentLength = int64(len(body))
	for k, v := range r.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			req.Header.Set(k, v)
		}
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return fmt.Errorf("PUT to the store: %v", redact(err))
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT: status %d: %s", resp.StatusCode, snippet(got))
	}
	return nil
}

func (h *harness) testPartChecksum(t *testing.T) {
	ctx := context.Background()
	key := h.key("checksum.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	data := randomBytes(1024)
	other := sha256.Sum256(randomBytes(1024))
	right := sha256.Sum256(data)

	bad := h.presignPart(t, key, id, 1, int64(len(data)), base64.StdEncoding.EncodeToString(other[:]))
	if bad.Headers["x-amz-checksum-sha256"] != base64.StdEncoding.EncodeToString(other[:]) {
		t.Errorf("Headers = %v, want x-amz-checksum-sha256 listed", bad.Headers)
	}
	h.refuse(t, "bytes that do not match the signed checksum", bad, data, nil)

	good := h.presignPart(t, key, id, 1, int64(len(data)), base64.StdEncoding.EncodeToString(right[:]))
	h.refuse(t, "a checksum other than the signed one", good, data, func(req *http.Request) {
		req.Header.Set("x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(other[:]))
	})
	h.mustSend(t, good, data)

	parts, err := h.s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(parts) != 1 || parts[0].Size != int64(len(data)) {
		t.Fatalf("ListParts = %v, want the one part sent with the right checksum", parts)
	}
	// The upload completes like any other: the broker completes with the
	// store's own part list.
	if _, err := h.s.CompleteMultipart(ctx, key, id, parts, backends.CompleteOptions{}); err != nil {
		t.Fatalf("CompleteMultipart of a part sent with a checksum: %v", err)
	}
	if got := h.get(t, key); !bytes.Equal(got, data) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(data))
	}
}

func (h *harness) testPartWrongLength(t *testing.T) {
	ctx := context.Background()
	key := h.key("partlength.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	r := h.presignPart(t, key, id, 1, 100, "")
	h.refuse(t, "part one byte longer", r, randomBytes(101), nil)
	h.refuse(t, "part one byte shorter", r, randomBytes(99), nil)
	h.noParts(t, key, id)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testAlteredSignature(t *testing.T) {
	ctx := context.Background()
	key := h.key("forged.bin")
	data := randomBytes(32)
	r, err := h.s.PresignPut(ctx, key, int64(len(data)), backends.ObjectOptions{}, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	h.refuse(t, "altered signature on a PUT", withQuery(t, r, "X-Amz-Signature", flipHex), data, nil)
	h.absent(t, key)

	id := h.create(t, key, backends.ObjectOptions{})
	p := h.presignPart(t, key, id, 1, int64(len(data)), "")
	h.refuse(t, "altered signature on a part", withQuery(t, p, "X-Amz-Signature", flipHex), data, nil)
	h.noParts(t, key, id)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testSwappedPartNumber(t *testing.T) {
	ctx := context.Background()
	key := h.key("swap.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	data := randomBytes(32)
	p := h.presignPart(t, key, id, 1, int64(len(data)), "")
	h.refuse(t, "part URL with another partNumber", withQuery(t, p, "partNumber", func(string) string { return "2" }), data, nil)
	h.noParts(t, key, id)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testSwappedUploadID(t *testing.T) {
	ctx := context.Background()
	keyA, keyB := h.key("swap-a.bin"), h.key("swap-b.bin")
	idA := h.create(t, keyA, backends.ObjectOptions{})
	idB := h.create(t, keyB, backends.ObjectOptions{})
	data := randomBytes(32)
	p := h.presignPart(t, keyA, idA, 1, int64(len(data)), "")
	h.refuse(t, "part URL with another uploadId", withQuery(t, p, "uploadId", func(string) string { return idB }), data, nil)
	h.noParts(t, keyB, idB)
	h.noParts(t, keyA, idA)
	for _, u := range [][2]string{{keyA, idA}, {keyB, idB}} {
		if err := h.s.AbortMultipart(ctx, u[0], u[1]); err != nil {
			t.Errorf("AbortMultipart: %v", err)
		}
	}
}

func (h *harness) testAbort(t *testing.T) {
	ctx := context.Background()
	key := h.key("abort.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	h.putPart(t, key, id, 1, randomBytes(1024))

	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	ups, err := h.s.ListUploads(ctx, h.prefix)
	if err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if listsUpload(ups, key, id) {
		t.Errorf("ListUploads still lists the aborted upload")
	}
	if _, err := h.s.ListParts(ctx, key, id); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("ListParts after abort: err %v, want ErrNotFound", err)
	}
	if err := h.s.AbortMultipart(ctx, key, id); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("second AbortMultipart: err %v, want ErrNotFound", err)
	}
	h.absent(t, key)
}

func (h *harness) testUnknownUpload(t *testing.T) {
	ctx := context.Background()
	key := h.key("unknown.bin")
	id := unknownUploadID()
	if _, err := h.s.ListParts(ctx, key, id); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("ListParts of an unknown upload: err %v, want ErrNotFound", err)
	}
	if err := h.s.AbortMultipart(ctx, key, id); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("AbortMultipart of an unknown upload: err %v, want ErrNotFound", err)
	}
	_, err := h.s.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: "0123456789abcdef0123456789abcdef"}}, backends.CompleteOptions{})
	if !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("CompleteMultipart of an unknown upload: err %v, want ErrNotFound", err)
	}

	// A real upload id under another key is unknown too.
	other := h.key("unknown-other.bin")
	realID := h.create(t, other, backends.ObjectOptions{})
	if _, err := h.s.ListParts(ctx, key, realID); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("ListParts with another key's upload id: err %v, want ErrNotFound", err)
	}
	if err := h.s.AbortMultipart(ctx, other, realID); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testStatMissing(t *testing.T) {
	_, err := h.s.Stat(context.Background(), h.key("missing.bin"))
	if !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat of a missing key: err %v, want ErrNotFound", err)
	}
}

func (h *harness) testCompleteWrongETag(t *testing.T) {
	ctx := context.Background()
	key := h.key("wrong-etag.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	data := randomBytes(1024)
	etag := h.putPart(t, key, id, 1, data)

	wrong := flipHex(multipart.NormalizeETag(etag))
	_, err := h.s.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: wrong, Size: int64(len(data))}}, backends.CompleteOptions{})
	if !errors.Is(err, backends.ErrInvalidPart) {
		t.Errorf("CompleteMultipart with a wrong ETag: err %v, want ErrInvalidPart", err)
	}
	_, err = h.s.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: etag}, {Number: 2, ETag: etag}}, backends.CompleteOptions{})
	if !errors.Is(err, backends.ErrInvalidPart) {
		t.Errorf("CompleteMultipart with a part never sent: err %v, want ErrInvalidPart", err)
	}
	h.absent(t, key)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart after failed completes: %v (the upload must survive them)", err)
	}
}

func (h *harness) testCompletePartTooSmall(t *testing.T) {
	ctx := context.Background()
	key := h.key("too-small.bin")
	id := h.create(t, key, backends.ObjectOptions{})
	e1 := h.putPart(t, key, id, 1, randomBytes(int(multipart.MiB)))
	e2 := h.putPart(t, key, id, 2, randomBytes(1))
	_, err := h.s.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: e1}, {Number: 2, ETag: e2}}, backends.CompleteOptions{})
	if !errors.Is(err, backends.ErrInvalidPart) {
		t.Errorf("CompleteMultipart with a 1 MiB first part: err %v, want ErrInvalidPart", err)
	}
	h.absent(t, key)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testExpiredURL(t *testing.T) {
	ctx := context.Background()
	key := h.key("expired.bin")
	data := randomBytes(32)
	before := time.Now()
	r, err := h.s.PresignPut(ctx, key, int64(len(data)), backends.ObjectOptions{}, time.Second)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	checkExpiry(t, r, before, time.Second)
	id := h.create(t, key, backends.ObjectOptions{})
	p, err := h.s.PresignPart(ctx, key, id, 1, backends.PartOptions{Size: int64(len(data))}, time.Second)
	if err != nil {
		t.Fatalf("PresignPart: %v", err)
	}
	// Wait until both are past ExpiresAt by more than a second (the
	// signing time has whole seconds).
	time.Sleep(time.Until(r.ExpiresAt.Add(1100 * time.Millisecond)))
	h.refuse(t, "expired PUT URL", r, data, nil)
	h.refuse(t, "expired part URL", p, data, nil)
	h.absent(t, key)
	h.noParts(t, key, id)
	if err := h.s.AbortMultipart(ctx, key, id); err != nil {
		t.Errorf("AbortMultipart: %v", err)
	}
}

func (h *harness) testErrorsHideCredentials(t *testing.T) {
	ctx := context.Background()
	key := h.key("errors.bin")
	var errs []error
	_, err := h.s.Stat(ctx, key)
	errs = append(errs, err)
	_, err = h.s.ListParts(ctx, key, unknownUploadID())
	errs = append(errs, err)
	_, err = h.s.CompleteMultipart(ctx, key, unknownUploadID(), []multipart.Part{{Number: 1, ETag: "abc"}}, backends.CompleteOptions{})
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Errorf("want an error, got none")
			continue
		}
		msg := err.Error()
		for _, bad := range []string{"X-Amz-", "uploadId=", "://"} {
			if strings.Contains(msg, bad) {
				t.Errorf("error %q holds %q", msg, bad)
			}
		}
	}
}

// noParts fails unless the store holds no part for the upload.
func (h *harness) noParts(t *testing.T, key, id string) {
	t.Helper()
	parts, err := h.s.ListParts(context.Background(), key, id)
	if err != nil {
		t.Errorf("ListParts: %v", err)
		return
	}
	if len(parts) != 0 {
		t.Errorf("ListParts = %v after refused PUTs, want no parts", parts)
	}
}

// checkExpiry fails unless r.ExpiresAt lies within ttl of the time the
// request was presigned (the signing time has whole seconds, so it may
// be up to a second early, never late).
func checkExpiry(t *testing.T, r backends.PresignedRequest, before time.Time, ttl time.Duration) {
	t.Helper()
	lo := before.Add(ttl).Add(-time.Second)
	hi := time.Now().Add(ttl)
	if r.ExpiresAt.Before(lo) || r.ExpiresAt.After(hi) {
		t.Errorf("ExpiresAt = %v, want within [%v, %v]", r.ExpiresAt, lo, hi)
	}
}

// withQuery returns r with query parameter name changed by edit.
func withQuery(t *testing.T, r backends.PresignedRequest, name string, edit func(string) string) backends.PresignedRequest {
	t.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatalf("presigned URL does not parse: %v", err)
	}
	q := u.Query()
	if !q.Has(name) {
		t.Fatalf("presigned URL has no %s parameter", name)
	}
	q.Set(name, edit(q.Get(name)))
	u.RawQuery = q.Encode()
	r.URL = u.String()
	return r
}

// flipHex changes the first character of a hex string to another hex
// digit.
func flipHex(s string) string {
	if s == "" {
		return "0"
	}
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return string(c) + s[1:]
}

// listsUpload reports whether ups holds the upload id of key.
func listsUpload(ups []backends.Upload, key, id string) bool {
	return slices.ContainsFunc(ups, func(u backends.Upload) bool { return u.Key == key && u.UploadID == id })
}

// equalFoldMaps reports whether a and b hold the same entries, header
// names compared without case.
func equalFoldMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		found := false
		for ka, va := range a {
			if strings.EqualFold(ka, k) && va == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// unknownUploadID returns an upload id no store has issued, shaped like
// the ones stores issue.
func unknownUploadID() string {
	return randomHex(16)
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	return hex.EncodeToString(randomBytes(n))
}

// snippet shortens a response body for a log line.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// redact strips the query string from URLs in a transport error, since
// presigned URLs are credentials.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %v", uerr.Op, uerr.Err)
	}
	return err
}
