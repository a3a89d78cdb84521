package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestUppyRoutes drives the Companion-compatible /s3 routes with plain
// HTTP requests shaped as @uppy/aws-s3 v6 sends them (companionEndpoint
// mode), against `chute serve` on real Redis and versitygw containers.
func TestUppyRoutes(t *testing.T) {
	tg := startServe(t)
	t.Run("multipart", func(t *testing.T) { uppyMultipart(t, tg) })
	t.Run("post policy", func(t *testing.T) { uppyPost(t, tg) })
	t.Run("post policy limits", func(t *testing.T) { uppyPostLimits(t, tg) })
	t.Run("abort", func(t *testing.T) { uppyAbort(t, tg) })
	t.Run("other subject and wrong key", func(t *testing.T) { uppyOwnership(t, tg) })
	t.Run("auth", func(t *testing.T) { uppyAuth(t, tg) })
	t.Run("cors", func(t *testing.T) { uppyCORS(t, tg) })
	t.Run("no secrets in logs", func(t *testing.T) {
		for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", "x-amz-signature", tg.token(t, "alice")} {
			if tg.grep(s) {
				t.Errorf("chute's output contains %q", s)
			}
		}
	})
}

// TestUppyRoutesDev runs the same flows against `chute dev`, whose
// embedded versitygw must take POST policy uploads too.
func TestUppyRoutesDev(t *testing.T) {
	tg := startDev(t)
	t.Run("multipart", func(t *testing.T) { uppyMultipart(t, tg) })
	t.Run("post policy", func(t *testing.T) { uppyPost(t, tg) })
	t.Run("abort", func(t *testing.T) { uppyAbort(t, tg) })
	t.Run("other subject and wrong key", func(t *testing.T) { uppyOwnership(t, tg) })
}

// companion is the endpoint Uppy is configured with: the token rides in
// the path, since Uppy's fetch sends no auth header.
func (tg *target) companion(t testing.TB, subject string) string {
	return "/t/" + tg.token(t, subject)
}

type companionCreated struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	Bucket   string `json:"bucket"`
}

func uppyCreate(t *testing.T, tg *target, ep, filename string) companionCreated {
	t.Helper()
	r := tg.call(t, "", "POST", ep+"/s3/multipart", map[string]any{
		"filename": filename, "type": "application/octet-stream",
		// What Uppy sends: every meta field, its own name and type included.
		"metadata": map[string]any{"name": filename, "type": "application/octet-stream", "relativePath": nil, "title": "hello"},
	})
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c companionCreated
	r.decode(t, &c)
	if c.Key == "" || !strings.HasPrefix(c.UploadID, "upl_") || c.Bucket != tg.bucket {
		t.Fatalf("create answer %s", r.body)
	}
	return c
}

// uppySignAndPut signs part n and PUTs data to it as Uppy does (no
// headers of its own), returning the ETag the store answered.
func uppySignAndPut(t *testing.T, tg *target, ep string, c companionCreated, n int, data []byte) string {
	t.Helper()
	r := tg.call(t, "", "GET", ep+"/s3/multipart/"+url.PathEscape(c.UploadID)+"/"+strconv.Itoa(n)+"?"+url.Values{"key": {c.Key}}.Encode(), nil)
	if r.status != 200 {
		t.Fatalf("sign part %d: %d %s", n, r.status, r.body)
	}
	var signed struct {
		URL     string `json:"url"`
		Expires int64  `json:"expires"`
	}
	r.decode(t, &signed)
	if signed.URL == "" || signed.Expires <= 0 {
		t.Fatalf("sign part %d: %s", n, r.body)
	}
	status, etag := put(t, "PUT", signed.URL, nil, data)
	if status != 200 || etag == "" {
		t.Fatalf("PUT part %d: status %d, etag %q", n, status, etag)
	}
	return strings.Trim(etag, `"`) // Uppy strips the quotes
}

// storedSHA256 reads the object back from the store.
func (tg *target) storedSHA256(t testing.TB, key string) ([32]byte, minio.ObjectInfo) {
	t.Helper()
	obj, err := tg.store.GetObject(context.Background(), tg.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	info, err := tg.store.StatObject(context.Background(), tg.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, info
}

func uppyMultipart(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	const part = 5 * mib // Uppy's smallest chunk
	data := randomBytes(t, 2*part+3)
	c := uppyCreate(t, tg, ep, "clip.bin")
	var etags []string
	for n := 1; n <= 3; n++ {
		end := min(n*part, len(data))
		etags = append(etags, uppySignAndPut(t, tg, ep, c, n, data[(n-1)*part:end]))
	}

	// List parts, as Uppy does when it resumes.
	r := tg.call(t, "", "GET", ep+"/s3/multipart/"+c.UploadID+"?"+url.Values{"key": {c.Key}}.Encode(), nil)
	if r.status != 200 {
		t.Fatalf("list parts: %d %s", r.status, r.body)
	}
	var listed []struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
		Size       int64  `json:"Size"`
	}
	r.decode(t, &listed)
	sort.Slice(listed, func(i, j int) bool { return listed[i].PartNumber < listed[j].PartNumber })
	if len(listed) != 3 || listed[0].Size != part || listed[2].Size != 3 || strings.Trim(listed[1].ETag, `"`) != etags[1] {
		t.Fatalf("listed parts %s", r.body)
	}

	// A wrong ETag completes nothing.
	bad := []map[string]any{{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": strings.Repeat("0", 32)}, {"PartNumber": 3, "ETag": etags[2]}}
	r = tg.call(t, "", "POST", ep+"/s3/multipart/"+c.UploadID+"/complete?"+url.Values{"key": {c.Key}}.Encode(), map[string]any{"parts": bad})
	if r.status != 422 || r.errCode(t) != "incomplete" {
		t.Fatalf("complete with a wrong etag: %d %s", r.status, r.body)
	}

	parts := []map[string]any{}
	for i, e := range etags {
		parts = append(parts, map[string]any{"PartNumber": i + 1, "ETag": e})
	}
	r = tg.call(t, "", "POST", ep+"/s3/multipart/"+c.UploadID+"/complete?"+url.Values{"key": {c.Key}}.Encode(), map[string]any{"parts": parts})
	if r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	var done struct {
		Location string `json:"location"`
		Key      string `json:"key"`
		Bucket   string `json:"bucket"`
	}
	r.decode(t, &done)
	if done.Key != c.Key || done.Bucket != tg.bucket || done.Location == "" {
		t.Fatalf("complete answer %s", r.body)
	}
	sum, info := tg.storedSHA256(t, c.Key)
	if sum != sha256.Sum256(data) || info.Size != int64(len(data)) {
		t.Fatalf("stored object: %d bytes, sha256 differs: %v", info.Size, sum != sha256.Sum256(data))
	}
	if info.UserMetadata["Title"] != "hello" && info.Metadata.Get("X-Amz-Meta-Title") != "hello" {
		t.Errorf("metadata %v / %v, want title=hello", info.UserMetadata, info.Metadata)
	}
	// The location is a working download URL.
	resp, err := http.Get(done.Location)
	if err != nil {
		t.Fatal(scrub(err))
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET location: %d, %d bytes", resp.StatusCode, len(got))
	}
	// The session is a /v1 session like any other, with the size learned.
	tok := tg.token(t, "alice")
	r = tg.call(t, tok, "GET", "/v1/uploads/"+c.UploadID, nil)
	var st struct {
		State     string `json:"state"`
		Size      int64  `json:"size"`
		PartCount int    `json:"part_count"`
		PartSize  int64  `json:"part_size"`
	}
	r.decode(t, &st)
	if r.status != 200 || st.State != "completed" || st.Size != int64(len(data)) || st.PartCount != 3 || st.PartSize != part {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	// Completing again answers the same.
	r = tg.call(t, "", "POST", ep+"/s3/multipart/"+c.UploadID+"/complete?"+url.Values{"key": {c.Key}}.Encode(), map[string]any{"parts": parts})
	if r.status != 200 {
		t.Fatalf("complete again: %d %s", r.status, r.body)
	}
}

type companionPost struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Fields  map[string]string `json:"fields"`
	Expires int64             `json:"expires"`
}

func uppyParams(t *testing.T, tg *target, ep string, q url.Values) companionPost {
	t.Helper()
	r := tg.call(t, "", "GET", ep+"/s3/params?"+q.Encode(), nil)
	if r.status != 200 {
		t.Fatalf("params: %d %s", r.status, r.body)
	}
	var p companionPost
	r.decode(t, &p)
	if p.Method != "POST" || p.URL == "" || p.Fields["key"] == "" || p.Expires <= 0 {
		t.Fatalf("params answer %s", r.body)
	}
	return p
}

// postForm uploads data with a POST policy as Uppy does: the fields, then
// the file last.
func postForm(t *testing.T, p companionPost, override map[string]string, data []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	keys := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.Fields[k]
		if o, ok := override[k]; ok {
			v = o
		}
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
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

func uppyPost(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	data := []byte("hello from a POST policy\n")
	p := uppyParams(t, tg, ep, url.Values{"filename": {"note.txt"}, "type": {"text/plain"}, "metadata[name]": {"note.txt"}, "metadata[title]": {"memo"}})
	if status, msg := postForm(t, p, nil, data); status/100 != 2 {
		t.Fatalf("POST to the store: %d %s", status, msg)
	}
	sum, info := tg.storedSHA256(t, p.Fields["key"])
	if sum != sha256.Sum256(data) || info.ContentType != "text/plain" {
		t.Fatalf("stored: %d bytes, type %q", info.Size, info.ContentType)
	}
	// Uppy never reports a single upload: the session stays pending until
	// a /v1 complete checks the object and records its size.
	id := sessionIDOf(t, p.Fields["key"])
	tok := tg.token(t, "alice")
	r := tg.call(t, tok, "POST", "/v1/uploads/"+id+"/complete", nil)
	var done struct {
		State string `json:"state"`
		Size  int64  `json:"size"`
	}
	r.decode(t, &done)
	if r.status != 200 || done.State != "completed" || done.Size != int64(len(data)) {
		t.Fatalf("lazy complete: %d %s", r.status, r.body)
	}
}

// sessionIDOf finds the session id in a key made by the default template
// {subject}/{yyyy}/{mm}/{dd}/{id}{ext}.
func sessionIDOf(t *testing.T, key string) string {
	t.Helper()
	base := key[strings.LastIndex(key, "/")+1:]
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	if !strings.HasPrefix(base, "upl_") {
		t.Fatalf("no session id in key %q", key)
	}
	return base
}

func uppyPostLimits(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	// The images profile: 1 MiB at most, PNG or JPEG only.
	p := uppyParams(t, tg, ep, url.Values{"filename": {"a.png"}, "type": {"image/png"}, "profile": {"images"}})
	if status, _ := postForm(t, p, nil, randomBytes(t, mib+1)); status/100 == 2 {
		t.Fatalf("the store took %d bytes over content-length-range", mib+1)
	}
	if status, _ := postForm(t, p, map[string]string{"Content-Type": "text/html"}, []byte("<b>x</b>")); status/100 == 2 {
		t.Fatal("the store took another Content-Type than the policy's")
	}
	if status, _ := postForm(t, p, map[string]string{"key": p.Fields["key"] + ".evil"}, []byte("x")); status/100 == 2 {
		t.Fatal("the store took another key than the policy's")
	}
	if keys := tg.objects(t, p.Fields["key"]); len(keys) != 0 {
		t.Fatalf("refused uploads left objects: %v", keys)
	}
	if status, msg := postForm(t, p, nil, randomBytes(t, mib)); status/100 != 2 {
		t.Fatalf("exactly max_size: %d %s", status, msg)
	}
	r := tg.call(t, "", "GET", ep+"/s3/params?"+url.Values{"filename": {"a.txt"}, "type": {"text/plain"}, "profile": {"images"}}.Encode(), nil)
	if r.status != 415 || r.errCode(t) != "unsupported_type" {
		t.Fatalf("type outside the profile: %d %s", r.status, r.body)
	}
}

func uppyAbort(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	c := uppyCreate(t, tg, ep, "gone.bin")
	uppySignAndPut(t, tg, ep, c, 1, randomBytes(t, 5*mib))
	if got := tg.incomplete(t, c.Key); len(got) != 1 {
		t.Fatalf("before abort: incomplete uploads %v", got)
	}
	r := tg.call(t, "", "DELETE", ep+"/s3/multipart/"+c.UploadID+"?"+url.Values{"key": {c.Key}}.Encode(), nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "{}" {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if got := tg.incomplete(t, c.Key); len(got) != 0 {
		t.Fatalf("after abort: incomplete uploads %v", got)
	}
	r = tg.call(t, "", "GET", ep+"/s3/multipart/"+c.UploadID+"/1?"+url.Values{"key": {c.Key}}.Encode(), nil)
	if r.status != 409 || r.errCode(t) != "conflict" {
		t.Fatalf("sign after abort: %d %s", r.status, r.body)
	}
}

func uppyOwnership(t *testing.T, tg *target) {
	c := uppyCreate(t, tg, tg.companion(t, "alice"), "mine.bin")
	bob := tg.companion(t, "bob")
	alice := tg.companion(t, "alice")
	q := "?" + url.Values{"key": {c.Key}}.Encode()
	wrongKey := "?" + url.Values{"key": {c.Key + "x"}}.Encode()
	for _, tc := range []struct{ ep, method, path, q string }{
		{bob, "GET", "/s3/multipart/" + c.UploadID + "/1", q},
		{bob, "GET", "/s3/multipart/" + c.UploadID, q},
		{bob, "POST", "/s3/multipart/" + c.UploadID + "/complete", q},
		{bob, "DELETE", "/s3/multipart/" + c.UploadID, q},
		{alice, "GET", "/s3/multipart/" + c.UploadID + "/1", wrongKey},
		{alice, "DELETE", "/s3/multipart/" + c.UploadID, wrongKey},
	} {
		var body any
		if tc.method == "POST" {
			body = map[string]any{"parts": []map[string]any{{"PartNumber": 1, "ETag": "x"}}}
		}
		r := tg.call(t, "", tc.method, tc.ep+tc.path+tc.q, body)
		if r.status != 404 || r.errCode(t) != "not_found" {
			t.Errorf("%s %s: %d %s, want 404", tc.method, tc.path, r.status, r.body)
		}
	}
	// Still alive for its owner.
	r := tg.call(t, "", "GET", alice+"/s3/multipart/"+c.UploadID+q, nil)
	if r.status != 200 {
		t.Fatalf("owner's list: %d %s", r.status, r.body)
	}
}

func uppyAuth(t *testing.T, tg *target) {
	q := "?" + url.Values{"filename": {"a.txt"}, "type": {"text/plain"}}.Encode()
	for _, path := range []string{"/t/not-a-token/s3/params" + q, "/s3/params" + q} {
		r := tg.call(t, "", "GET", path, nil)
		if r.status != 401 || r.errCode(t) != "unauthorized" {
			t.Errorf("GET %s: %d %s, want 401", strings.SplitN(path, "?", 2)[0], r.status, r.body)
		}
	}
	r := tg.call(t, "", "POST", "/t/not-a-token/s3/multipart", map[string]any{"filename": "a", "type": "text/plain"})
	if r.status != 401 || r.errCode(t) != "unauthorized" {
		t.Errorf("POST multipart with a bad token: %d %s", r.status, r.body)
	}
	// The header form works on /s3 too.
	r = tg.call(t, tg.token(t, "alice"), "GET", "/s3/params"+q, nil)
	if r.status != 200 {
		t.Errorf("GET /s3/params with a header token: %d %s", r.status, r.body)
	}
}

func uppyCORS(t *testing.T, tg *target) {
	req, _ := http.NewRequest("OPTIONS", tg.base+"/t/x/s3/multipart", nil)
	req.Header.Set("Origin", "http://127.0.0.1:9")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
