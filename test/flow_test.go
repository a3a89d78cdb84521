package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
)

const mib = 1 << 20

// TestServe runs the HTTP flow against `chute serve` on real Redis and
// versitygw containers.
func TestServe(t *testing.T) {
	tg := startServe(t)
	runFlows(t, tg)
	t.Run("profile policy", func(t *testing.T) { profilePolicy(t, tg) })
}

// TestDev runs the same flow against `chute dev`, the embedded default.
func TestDev(t *testing.T) {
	runFlows(t, startDev(t))
}

func runFlows(t *testing.T, tg *target) {
	t.Run("one byte", func(t *testing.T) { singleFile(t, tg, 1) })
	t.Run("empty file", func(t *testing.T) { singleFile(t, tg, 0) })
	t.Run("one byte over single_max", func(t *testing.T) { multipartFile(t, tg, 16*mib+1, 2) })
	t.Run("100 MiB in parallel parts out of order", func(t *testing.T) { multipartFile(t, tg, 100*mib, 4) })
	t.Run("missing part and wrong etag", func(t *testing.T) { incompleteComplete(t, tg) })
	t.Run("body longer than signed", func(t *testing.T) { wrongLength(t, tg) })
	t.Run("abort", func(t *testing.T) { abort(t, tg) })
	t.Run("idempotent and concurrent complete", func(t *testing.T) { concurrentComplete(t, tg) })
	t.Run("sync finds unreported parts", func(t *testing.T) { syncParts(t, tg) })
	t.Run("other subject", func(t *testing.T) { otherSubject(t, tg) })
	t.Run("bad requests", func(t *testing.T) { badRequests(t, tg) })
	t.Run("no secrets in logs", func(t *testing.T) {
		for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", jwtSecret, "dev-secret-key"} {
			if tg.grep(s) {
				t.Errorf("chute's output contains %q", s)
			}
		}
	})
}

type partURL struct {
	PartNumber int               `json:"part_number"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Size       int64             `json:"size"`
}

type created struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Strategy  string    `json:"strategy"`
	State     string    `json:"state"`
	PartSize  int64     `json:"part_size"`
	PartCount int       `json:"part_count"`
	Parts     []partURL `json:"parts"`
	Upload    *partURL  `json:"upload"`
}

type status struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	UploadedBytes int64  `json:"uploaded_bytes"`
	Parts         []struct {
		PartNumber int    `json:"part_number"`
		ETag       string `json:"etag"`
		Size       int64  `json:"size"`
	} `json:"parts"`
}

type completed struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	State    string `json:"state"`
	Size     int64  `json:"size"`
	ETag     string `json:"etag"`
	Download struct {
		URL string `json:"url"`
	} `json:"download"`
}

func randomBytes(t testing.TB, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func create(t testing.TB, tg *target, tok string, name, ct string, size int64) created {
	t.Helper()
	r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": name, "content_type": ct, "size": size})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	return c
}

// download fetches the completed upload through its presigned GET and
// returns its bytes.
func download(t testing.TB, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func completeOK(t testing.TB, tg *target, tok, id string, body any) completed {
	t.Helper()
	r := tg.call(t, tok, "POST", "/v1/uploads/"+id+"/complete", body)
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	var c completed
	r.decode(t, &c)
	return c
}

func singleFile(t *testing.T, tg *target, size int64) {
	tok := tg.token(t, "alice")
	data := randomBytes(t, size)
	c := create(t, tg, tok, "note.txt", "text/plain", size)
	if c.Strategy != "single" || c.Upload == nil || len(c.Parts) != 0 {
		t.Fatalf("want a single upload, got %+v", c)
	}
	if c.Upload.Headers["Content-Length"] != fmt.Sprint(size) || c.Upload.Headers["Content-Type"] != "text/plain" {
		t.Fatalf("signed headers %v", c.Upload.Headers)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT to presigned URL: %d", st)
	}
	done := completeOK(t, tg, tok, c.ID, nil)
	if done.State != "completed" || done.Size != size || done.Key != c.Key {
		t.Fatalf("%+v", done)
	}
	if got := download(t, done.Download.URL); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, not what was uploaded", len(got))
	}
	info, err := tg.store.StatObject(context.Background(), tg.bucket, c.Key, minio.StatObjectOptions{})
	if err != nil || info.Size != size || info.ContentType != "text/plain" {
		t.Fatalf("in the store: %+v %v", info, err)
	}
	r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID+"/download-url", nil)
	if r.status != 200 {
		t.Fatalf("download-url: %d %s", r.status, r.body)
	}
}

// uploadParts PUTs the given parts of data in parallel (in the order
// given) and reports each; it returns the ETags by part number.
func uploadParts(t testing.TB, tg *target, tok string, c created, data []byte, parts []partURL, parallel int, report bool) map[int]string {
	t.Helper()
	var mu sync.Mutex
	etags := map[int]string{}
	work := make(chan partURL)
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				off := int64(p.PartNumber-1) * c.PartSize
				st, etag := put(t, p.Method, p.URL, p.Headers, data[off:off+p.Size])
				if st != 200 || etag == "" {
					errs <- fmt.Errorf("part %d: status %d, etag %q", p.PartNumber, st, etag)
					continue
				}
				mu.Lock()
				etags[p.PartNumber] = etag
				mu.Unlock()
				if report {
					r := tg.call(t, tok, "PUT", fmt.Sprintf("/v1/uploads/%s/parts/%d", c.ID, p.PartNumber), map[string]any{"etag": etag, "size": p.Size})
					if r.status != 200 {
						errs <- fmt.Errorf("report part %d: %d %s", p.PartNumber, r.status, r.body)
					}
				}
			}
		}()
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return etags
}

// allPartURLs returns the create's first batch plus the rest from part-urls.
func allPartURLs(t testing.TB, tg *target, tok string, c created) []partURL {
	t.Helper()
	parts := append([]partURL(nil), c.Parts...)
	if len(parts) < c.PartCount {
		var nums []int
		for n := len(parts) + 1; n <= c.PartCount; n++ {
			nums = append(nums, n)
		}
		r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": nums})
		if r.status != 200 {
			t.Fatalf("part-urls: %d %s", r.status, r.body)
		}
		var more struct{ Parts []partURL }
		r.decode(t, &more)
		parts = append(parts, more.Parts...)
	}
	if len(parts) != c.PartCount {
		t.Fatalf("%d part URLs for %d parts", len(parts), c.PartCount)
	}
	return parts
}

func multipartFile(t *testing.T, tg *target, size int64, parallel int) {
	tok := tg.token(t, "alice")
	data := randomBytes(t, size)
	c := create(t, tg, tok, "clip.mp4", "video/mp4", size)
	wantParts := int(math.Ceil(float64(size) / float64(16*mib)))
	if c.Strategy != "multipart" || c.PartSize != 16*mib || c.PartCount != wantParts {
		t.Fatalf("plan: %+v", c)
	}
	parts := allPartURLs(t, tg, tok, c)
	last := parts[len(parts)-1]
	if want := size - int64(c.PartCount-1)*c.PartSize; last.Size != want || last.Headers["Content-Length"] != fmt.Sprint(want) {
		t.Fatalf("last part %+v, want %d bytes", last, want)
	}
	mrand.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	uploadParts(t, tg, tok, c, data, parts, parallel, true)

	r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
	var st status
	r.decode(t, &st)
	if st.State != "uploading" || st.UploadedBytes != size || len(st.Parts) != c.PartCount {
		t.Fatalf("status before complete: %s", r.body)
	}
	done := completeOK(t, tg, tok, c.ID, nil)
	if done.Size != size || !strings.HasSuffix(done.ETag, fmt.Sprintf("-%d", c.PartCount)) {
		t.Fatalf("%+v", done)
	}
	got := download(t, done.Download.URL)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("the stored object's sha256 differs from the uploaded file's")
	}
	if left := tg.incomplete(t, c.Key); len(left) != 0 {
		t.Fatalf("incomplete uploads left: %v", left)
	}
}

func incompleteComplete(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	size := int64(40 * mib)
	data := randomBytes(t, size)
	c := create(t, tg, tok, "v.mp4", "video/mp4", size) // 3 parts
	etags := uploadParts(t, tg, tok, c, data, []partURL{c.Parts[0], c.Parts[2]}, 2, true)

	r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	if r.status != 422 || r.errCode(t) != "incomplete" || !strings.Contains(string(r.body), "2") {
		t.Fatalf("complete with part 2 missing: %d %s", r.status, r.body)
	}
	uploadParts(t, tg, tok, c, data, []partURL{c.Parts[1]}, 1, false)
	// A forged ETag in the client's list.
	list := []map[string]any{
		{"part_number": 1, "etag": etags[1]},
		{"part_number": 2, "etag": `"0123456789abcdef0123456789abcdef"`},
		{"part_number": 3, "etag": etags[3]},
	}
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", map[string]any{"parts": list})
	if r.status != 422 || r.errCode(t) != "incomplete" {
		t.Fatalf("complete with a wrong etag: %d %s", r.status, r.body)
	}
	if objs := tg.objects(t, c.Key); len(objs) != 0 {
		t.Fatalf("an object was stored after failed completes: %v", objs)
	}
	// Nothing was lost: the session can still be completed (sync finds part 2).
	r = tg.call(t, tok, "GET", "/v1/uploads/"+c.ID+"?sync=true", nil)
	if r.status != 200 {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	done := completeOK(t, tg, tok, c.ID, nil)
	if sha256.Sum256(download(t, done.Download.URL)) != sha256.Sum256(data) {
		t.Fatal("sha256 differs")
	}
}

func wrongLength(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	// Single PUT: one byte more than signed.
	c := create(t, tg, tok, "a.bin", "application/octet-stream", 10)
	if st, _ := put(t, "PUT", c.Upload.URL, c.Upload.Headers, randomBytes(t, 11)); st != 0 && st < 400 {
		t.Fatalf("store accepted 11 bytes for a 10-byte signature: %d", st)
	}
	if st, _ := put(t, "PUT", c.Upload.URL, map[string]string{"Content-Type": "text/html"}, randomBytes(t, 10)); st != 0 && st < 400 {
		t.Fatalf("store accepted another content type: %d", st)
	}
	r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	if r.status != 422 {
		t.Fatalf("complete after refused PUTs: %d %s", r.status, r.body)
	}
	if objs := tg.objects(t, c.Key); len(objs) != 0 {
		t.Fatalf("refused PUT stored an object: %v", objs)
	}
	// A part: one byte more than signed.
	m := create(t, tg, tok, "b.bin", "application/octet-stream", 17*mib)
	p := m.Parts[1]
	if st, _ := put(t, p.Method, p.URL, p.Headers, randomBytes(t, p.Size+1)); st != 0 && st < 400 {
		t.Fatalf("store accepted a longer part: %d", st)
	}
	// A part URL reused for another part number is refused too.
	u, _ := url.Parse(m.Parts[0].URL)
	q := u.Query()
	q.Set("partNumber", "2")
	u.RawQuery = q.Encode()
	if st, _ := put(t, "PUT", u.String(), m.Parts[0].Headers, randomBytes(t, m.Parts[0].Size)); st != 0 && st < 400 {
		t.Fatalf("store accepted a part URL for another part number: %d", st)
	}
	r = tg.call(t, tok, "GET", "/v1/uploads/"+m.ID+"?sync=true", nil)
	var st status
	r.decode(t, &st)
	if len(st.Parts) != 0 {
		t.Fatalf("refused parts appear in the store: %s", r.body)
	}
	tg.call(t, tok, "DELETE", "/v1/uploads/"+m.ID, nil)
}

func abort(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	size := int64(20 * mib)
	c := create(t, tg, tok, "x.mp4", "video/mp4", size)
	uploadParts(t, tg, tok, c, randomBytes(t, size), c.Parts[:1], 1, true)
	if left := tg.incomplete(t, c.Key); len(left) != 1 {
		t.Fatalf("before abort: %d incomplete uploads", len(left))
	}
	r := tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil)
	var st status
	r.decode(t, &st)
	if r.status != 200 || st.State != "aborted" {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if left := tg.incomplete(t, c.Key); len(left) != 0 {
		t.Fatalf("incomplete upload left after abort: %v", left)
	}
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil); r.status != 200 {
		t.Fatalf("second abort: %d %s", r.status, r.body)
	}
	for _, call := range []struct{ method, path string }{
		{"POST", "/complete"}, {"POST", "/part-urls"}, {"PUT", "/parts/1"}, {"GET", "/download-url"},
	} {
		r := tg.call(t, tok, call.method, "/v1/uploads/"+c.ID+call.path, bodyFor(call.path, 16*mib))
		if r.status != 409 || r.errCode(t) != "conflict" {
			t.Errorf("%s %s on an aborted upload: %d %s", call.method, call.path, r.status, r.body)
		}
	}
	// Aborting a single upload leaves no object, even after its PUT.
	s := create(t, tg, tok, "y.txt", "text/plain", 3)
	put(t, "PUT", s.Upload.URL, s.Upload.Headers, []byte("abc"))
	tg.call(t, tok, "DELETE", "/v1/uploads/"+s.ID, nil)
	if objs := tg.objects(t, s.Key); len(objs) != 0 {
		t.Fatalf("aborted single upload left its object: %v", objs)
	}
}

// bodyFor is a well-formed body for the session route ending in path (the
// /v1 routes refuse unknown fields), nil for those that take none.
func bodyFor(path string, size int64) any {
	switch {
	case strings.HasSuffix(path, "/part-urls"):
		return map[string]any{"part_numbers": []int{1}}
	case strings.Contains(path, "/parts/"):
		return map[string]any{"etag": "abc", "size": size}
	}
	return nil
}

func concurrentComplete(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	size := int64(33 * mib)
	data := randomBytes(t, size)
	c := create(t, tg, tok, "c.mp4", "video/mp4", size)
	uploadParts(t, tg, tok, c, data, c.Parts, 3, true)
	const n = 6
	var wg sync.WaitGroup
	results := make([]reply, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
		}()
	}
	wg.Wait()
	var first completed
	for i, r := range results {
		if r.status != 200 {
			t.Fatalf("concurrent complete %d: %d %s", i, r.status, r.body)
		}
		var d completed
		r.decode(t, &d)
		if i == 0 {
			first = d
		} else if d.ETag != first.ETag || d.Key != first.Key || d.State != "completed" {
			t.Fatalf("completes disagree: %+v vs %+v", d, first)
		}
	}
	again := completeOK(t, tg, tok, c.ID, nil)
	if again.ETag != first.ETag {
		t.Fatal("a repeated complete gave another result")
	}
	if sha256.Sum256(download(t, again.Download.URL)) != sha256.Sum256(data) {
		t.Fatal("sha256 differs")
	}
	// A repeated part report after completion is harmless.
	var st status
	tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil).decode(t, &st)
	r := tg.call(t, tok, "PUT", "/v1/uploads/"+c.ID+"/parts/1", map[string]any{"etag": st.Parts[0].ETag, "size": c.PartSize})
	if r.status != 200 {
		t.Fatalf("repeated report after completion: %d %s", r.status, r.body)
	}
}

func syncParts(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	size := int64(35 * mib)
	data := randomBytes(t, size)
	c := create(t, tg, tok, "s.mp4", "video/mp4", size)
	uploadParts(t, tg, tok, c, data, c.Parts, 3, false) // uploaded, never reported
	var st status
	tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil).decode(t, &st)
	if len(st.Parts) != 0 || st.State != "pending" {
		t.Fatalf("before sync: %+v", st)
	}
	r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID+"?sync=true", nil)
	r.decode(t, &st)
	if r.status != 200 || len(st.Parts) != 3 || st.UploadedBytes != size || st.State != "uploading" {
		t.Fatalf("after sync: %d %s", r.status, r.body)
	}
	done := completeOK(t, tg, tok, c.ID, nil)
	if sha256.Sum256(download(t, done.Download.URL)) != sha256.Sum256(data) {
		t.Fatal("sha256 differs")
	}
}

func otherSubject(t *testing.T, tg *target) {
	alice, mallory := tg.token(t, "alice"), tg.token(t, "mallory")
	size := int64(20 * mib)
	c := create(t, tg, alice, "o.mp4", "video/mp4", size)
	uploadParts(t, tg, alice, c, randomBytes(t, size), c.Parts[:1], 1, true)
	routes := []struct{ method, path string }{
		{"GET", ""}, {"GET", "?sync=true"}, {"POST", "/part-urls"}, {"PUT", "/parts/2"},
		{"POST", "/complete"}, {"DELETE", ""}, {"GET", "/download-url"},
	}
	for _, rt := range routes {
		r := tg.call(t, mallory, rt.method, "/v1/uploads/"+c.ID+rt.path, bodyFor(rt.path, 4*mib))
		if r.status != 404 || r.errCode(t) != "not_found" {
			t.Errorf("mallory %s %s: %d %s", rt.method, rt.path, r.status, r.body)
		}
		if strings.Contains(string(r.body), c.Key) {
			t.Errorf("mallory %s %s: the answer reveals the key", rt.method, rt.path)
		}
	}
	var st status
	r := tg.call(t, alice, "GET", "/v1/uploads/"+c.ID, nil)
	r.decode(t, &st)
	if st.State != "uploading" || len(st.Parts) != 1 {
		t.Fatalf("alice's session changed: %s", r.body)
	}
	if left := tg.incomplete(t, c.Key); len(left) != 1 {
		t.Fatalf("mallory's calls changed the store: %v", left)
	}
	tg.call(t, alice, "DELETE", "/v1/uploads/"+c.ID, nil)
}

func badRequests(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	c := create(t, tg, tok, "b.mp4", "video/mp4", 20*mib)
	defer tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil)
	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code                      string
	}{
		{"no token", "", "POST", "/v1/uploads", `{}`, 401, "unauthorized"},
		{"garbage token", "garbage", "GET", "/v1/uploads/" + c.ID, nil, 401, "unauthorized"},
		{"malformed json", tok, "POST", "/v1/uploads", `{"filename":`, 400, "invalid_request"},
		{"trailing data", tok, "POST", "/v1/uploads", `{"filename":"a","content_type":"text/plain","size":1} {}`, 400, "invalid_request"},
		{"invalid utf-8", tok, "POST", "/v1/uploads", []byte("{\"filename\":\"\xff\xfe\",\"content_type\":\"text/plain\",\"size\":1}"), 400, "invalid_request"},
		{"size as string", tok, "POST", "/v1/uploads", `{"filename":"a","content_type":"text/plain","size":"1"}`, 400, "invalid_request"},
		{"missing size", tok, "POST", "/v1/uploads", `{"filename":"a","content_type":"text/plain"}`, 400, "invalid_request"},
		{"negative size", tok, "POST", "/v1/uploads", `{"filename":"a","content_type":"text/plain","size":-5}`, 400, "invalid_request"},
		{"too large", tok, "POST", "/v1/uploads", `{"filename":"a","content_type":"text/plain","size":1099511627776}`, 413, "too_large"},
		{"huge body", tok, "POST", "/v1/uploads", `{"filename":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too_large"},
		{"part 0", tok, "POST", "/v1/uploads/" + c.ID + "/part-urls", `{"part_numbers":[0]}`, 400, "invalid_request"},
		{"part past the end", tok, "POST", "/v1/uploads/" + c.ID + "/part-urls", `{"part_numbers":[3]}`, 400, "invalid_request"},
		{"report part 99", tok, "PUT", "/v1/uploads/" + c.ID + "/parts/99", `{"etag":"a","size":1}`, 400, "invalid_request"},
		{"report part -1", tok, "PUT", "/v1/uploads/" + c.ID + "/parts/-1", `{"etag":"a","size":1}`, 400, "invalid_request"},
		{"report wrong size", tok, "PUT", "/v1/uploads/" + c.ID + "/parts/1", `{"etag":"a","size":1}`, 400, "invalid_request"},
		{"unknown upload", tok, "GET", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", nil, 404, "not_found"},
		{"unknown route", tok, "GET", "/v1/nothing", nil, 404, "not_found"},
		{"bad sync", tok, "GET", "/v1/uploads/" + c.ID + "?sync=maybe", nil, 400, "invalid_request"},
	}
	before := len(tg.objects(t, "alice/"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tg.call(t, tc.token, tc.method, tc.path, tc.body)
			if r.status != tc.status || r.errCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if strings.Contains(string(r.body), "X-Amz-Signature") {
				t.Fatal("an error reveals a presigned URL")
			}
		})
	}
	if after := len(tg.objects(t, "alice/")); after != before {
		t.Fatalf("bad requests stored %d objects", after-before)
	}
}

// profilePolicy checks a restrictive profile: type and size limits.
func profilePolicy(t *testing.T, tg *target) {
	tok := tg.token(t, "bob")
	for _, tc := range []struct {
		ct     string
		size   int64
		status int
		code   string
	}{
		{"image/gif", 10, 415, "unsupported_type"},
		{"image/png", 2 * mib, 413, "too_large"},
	} {
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "x", "content_type": tc.ct, "size": tc.size, "profile": "images"})
		if r.status != tc.status || r.errCode(t) != tc.code {
			t.Errorf("%s %d: %d %s", tc.ct, tc.size, r.status, r.body)
		}
	}
	r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "x.png", "content_type": "image/png", "size": 100, "profile": "images"})
	if r.status != 201 {
		t.Fatalf("allowed image: %d %s", r.status, r.body)
	}
	// The allowed one is a (one-part) multipart upload from create on;
	// the refused ones left nothing.
	var ok struct{ Key string }
	r.decode(t, &ok)
	if up := tg.incomplete(t, "bob/"); len(up) != 1 || up[0] != ok.Key || len(tg.objects(t, "bob/")) != 0 {
		t.Fatalf("refused creates left something in the store: %v", up)
	}
}
