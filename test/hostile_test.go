package test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker/auth"
)

// TestHostile sends requests an attacker (or a broken client) would send
// to `chute serve` on real Redis and versitygw, one table row each. Every
// row asserts the status, Chute's error code where Chute answers, and
// that nothing reached the store: the objects and unfinished multipart
// uploads under both subjects' prefixes are the same after the request as
// before it, and a multipart session still holds no parts in the store
// (GET ?sync=true reconciles with ListParts). Rows marked store are
// refused by the store itself (a non-2xx answer, or the connection
// closed: status 0), because the presigned URL no longer matches its
// signature.
func TestHostile(t *testing.T) {
	tg := startServe(t)
	h := &hostileEnv{tg: tg, alice: tg.token(t, "alice"), mallory: tg.token(t, "mallory")}

	multipartBody := map[string]any{"filename": "big.bin", "content_type": "application/octet-stream", "size": 20 * mib}
	createWith := func(filename string) map[string]any {
		return map[string]any{"filename": filename, "content_type": "text/plain", "size": 10}
	}
	forged, _ := auth.SignHS256("not-the-server-secret-0123456789", "alice", time.Hour, "", "")
	expired, _ := auth.SignHS256(jwtSecret, "alice", -time.Hour, "", "")
	future := time.Now().Add(time.Hour).Unix()
	algNone := rawJWT(`{"alg":"none","typ":"JWT"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, future), nil)
	hs512 := rawJWT(`{"alg":"HS512","typ":"JWT"}`, fmt.Sprintf(`{"sub":"alice","exp":%d}`, future), []byte(jwtSecret))
	noSub := rawJWTHS256(fmt.Sprintf(`{"exp":%d}`, future))
	noExp := rawJWTHS256(`{"sub":"alice"}`)
	keyUnderAlice := func(t *testing.T, _ *hostileEnv, _ *fixed, r reply) {
		var c created
		r.decode(t, &c)
		if !strings.HasPrefix(c.Key, "alice/") || strings.Contains(c.Key, "..") || strings.ContainsAny(c.Key, "\\\x00\u202e") {
			t.Errorf("key %q escapes alice/ or carries the filename's path", c.Key)
		}
		if segs := strings.Split(c.Key, "/"); len(segs) != 5 || !strings.HasPrefix(segs[4], c.ID) {
			t.Errorf("key %q: want alice/yyyy/mm/dd/{id}{ext}", c.Key)
		}
	}
	// partQuery alters one query parameter of part 2's presigned URL (a
	// one-byte part) and PUTs body to it.
	partQuery := func(param, value string, body []byte) func(*testing.T, *hostileEnv, *fixed) int {
		return func(t *testing.T, _ *hostileEnv, f *fixed) int {
			p := f.parts[1]
			return putStatus(t, p.Method, alterQuery(t, p.URL, param, value), p.Headers, body)
		}
	}

	cases := []hostileCase{
		// Authentication: every row tries to create a multipart upload
		// as alice, which would leave an unfinished upload under alice/.
		{name: "no token", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: " "},
		{name: "forged token (wrong secret)", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + forged},
		{name: "expired token", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + expired},
		{name: "alg none", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + algNone},
		{name: "HS512 with the right secret", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + hs512},
		{name: "token without sub", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + noSub},
		{name: "token without exp", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer " + noExp},
		{name: "garbage token", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer not.a.jwt"},
		{name: "empty bearer", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Bearer "},
		{name: "basic auth scheme", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Basic YWxpY2U6c2VjcmV0"},
		{name: "token scheme with a valid token", method: "POST", path: "/v1/uploads", body: multipartBody, status: 401, code: "unauthorized", authz: "Token {alice}"},
		{name: "garbage path token on /t", method: "POST", path: "/t/garbage/s3/multipart", body: map[string]any{"filename": "a.bin", "type": "application/octet-stream"}, status: 401, code: "unauthorized", authz: " "},

		// Another subject's session, on every /v1 route.
		{name: "other subject: status", fix: fixMultipart, as: "mallory", method: "GET", path: "/v1/uploads/{id}", status: 404, code: "not_found"},
		{name: "other subject: sync status", fix: fixMultipart, as: "mallory", method: "GET", path: "/v1/uploads/{id}?sync=true", status: 404, code: "not_found"},
		{name: "other subject: part-urls", fix: fixMultipart, as: "mallory", method: "POST", path: "/v1/uploads/{id}/part-urls", body: map[string]any{"part_numbers": []int{1, 2}}, status: 404, code: "not_found"},
		{name: "other subject: report part", fix: fixMultipart, as: "mallory", method: "PUT", path: "/v1/uploads/{id}/parts/1", body: map[string]any{"etag": `"0123456789abcdef0123456789abcdef"`, "size": 16 * mib}, status: 404, code: "not_found"},
		{name: "other subject: complete", fix: fixMultipart, as: "mallory", method: "POST", path: "/v1/uploads/{id}/complete", status: 404, code: "not_found"},
		{name: "other subject: abort", fix: fixMultipart, as: "mallory", method: "DELETE", path: "/v1/uploads/{id}", status: 404, code: "not_found"},
		{name: "other subject: download-url", fix: fixDone, as: "mallory", method: "GET", path: "/v1/uploads/{id}/download-url", status: 404, code: "not_found"},
		{name: "other subject: complete a completed upload", fix: fixDone, as: "mallory", method: "POST", path: "/v1/uploads/{id}/complete", status: 404, code: "not_found"},

		// Another subject's session on the Uppy-compatible routes, with
		// the right key: by header on /s3 and by path token on /t.
		{name: "other subject: s3 sign part", fix: fixOpen, as: "mallory", method: "GET", path: "/s3/multipart/{id}/1?key={key}", status: 404, code: "not_found"},
		{name: "other subject: s3 list parts", fix: fixOpen, as: "mallory", method: "GET", path: "/s3/multipart/{id}?key={key}", status: 404, code: "not_found"},
		{name: "other subject: s3 complete", fix: fixOpen, as: "mallory", method: "POST", path: "/s3/multipart/{id}/complete?key={key}", body: map[string]any{"parts": []map[string]any{{"PartNumber": 1, "ETag": "x"}}}, status: 404, code: "not_found"},
		{name: "other subject: s3 abort", fix: fixOpen, as: "mallory", method: "DELETE", path: "/s3/multipart/{id}?key={key}", status: 404, code: "not_found"},
		{name: "other subject: /t s3 sign part", fix: fixOpen, as: "mallory", authz: " ", method: "GET", path: "/t/{t}/s3/multipart/{id}/1?key={key}", status: 404, code: "not_found"},
		{name: "other subject: /t s3 abort", fix: fixOpen, as: "mallory", authz: " ", method: "DELETE", path: "/t/{t}/s3/multipart/{id}?key={key}", status: 404, code: "not_found"},
		{name: "other subject: s3 sign part of a /v1 session", fix: fixMultipart, as: "mallory", method: "GET", path: "/s3/multipart/{id}/1?key={key}", status: 404, code: "not_found"},
		{name: "owner with another key: s3 abort", fix: fixOpen, method: "DELETE", path: "/s3/multipart/{id}?key=alice%2Fsomething-else", status: 404, code: "not_found"},

		// Sizes and types.
		{name: "over the profile's max_size", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.bin", "content_type": "application/octet-stream", "size": 1<<30 + 1}, status: 413, code: "too_large"},
		{name: "over S3's 5 TiB", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.bin", "content_type": "application/octet-stream", "size": 5<<40 + 1}, status: 413, code: "too_large"},
		{name: "over the images profile's 1 MiB", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.png", "content_type": "image/png", "size": 1<<20 + 1, "profile": "images"}, status: 413, code: "too_large"},
		{name: "negative size", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.bin", "content_type": "application/octet-stream", "size": -1}, status: 400, code: "invalid_request"},
		{name: "type not allowed (text/html as image)", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.png", "content_type": "text/html", "size": 10, "profile": "images"}, status: 415, code: "unsupported_type"},
		{name: "type not allowed (svg)", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.svg", "content_type": "image/svg+xml", "size": 10, "profile": "images"}, status: 415, code: "unsupported_type"},
		{name: "unknown profile", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.png", "content_type": "image/png", "size": 10, "profile": "../default"}, status: 400, code: "invalid_request"},

		// Filenames are hints: the key is Chute's.
		{name: "filename ../../etc/passwd", method: "POST", path: "/v1/uploads", body: createWith("../../etc/passwd"), status: 201, check: keyUnderAlice},
		{name: `filename ..\..\x`, method: "POST", path: "/v1/uploads", body: createWith(`..\..\x.txt`), status: 201, check: keyUnderAlice},
		{name: "filename /abs", method: "POST", path: "/v1/uploads", body: createWith("/etc/cron.d/evil.sh"), status: 201, check: keyUnderAlice},
		{name: "filename with RTL override", method: "POST", path: "/v1/uploads", body: createWith("invoice\u202Efdp.exe"), status: 201, check: keyUnderAlice},
		{name: "filename of dots", method: "POST", path: "/v1/uploads", body: createWith(".."), status: 201, check: keyUnderAlice},
		{name: "filename with NUL", method: "POST", path: "/v1/uploads", body: createWith("a.txt\x00.exe"), status: 400, code: "invalid_request"},
		{name: "filename with CRLF", method: "POST", path: "/v1/uploads", body: createWith("a.txt\r\nX-Amz-Acl: public-read"), status: 400, code: "invalid_request"},

		// Part numbers (the multipart fixture has 2 parts).
		{name: "report part 0", fix: fixMultipart, method: "PUT", path: "/v1/uploads/{id}/parts/0", body: map[string]any{"etag": "x", "size": 1}, status: 400, code: "invalid_request"},
		{name: "report part -1", fix: fixMultipart, method: "PUT", path: "/v1/uploads/{id}/parts/-1", body: map[string]any{"etag": "x", "size": 1}, status: 400, code: "invalid_request"},
		{name: "report part 10001", fix: fixMultipart, method: "PUT", path: "/v1/uploads/{id}/parts/10001", body: map[string]any{"etag": "x", "size": 1}, status: 400, code: "invalid_request"},
		{name: "report part part_count+1", fix: fixMultipart, method: "PUT", path: "/v1/uploads/{id}/parts/3", body: map[string]any{"etag": "x", "size": 1}, status: 400, code: "invalid_request"},
		{name: "report part abc", fix: fixMultipart, method: "PUT", path: "/v1/uploads/{id}/parts/abc", body: map[string]any{"etag": "x", "size": 1}, status: 400, code: "invalid_request"},
		{name: "part-urls for 0", fix: fixMultipart, method: "POST", path: "/v1/uploads/{id}/part-urls", body: map[string]any{"part_numbers": []int{0}}, status: 400, code: "invalid_request"},
		{name: "part-urls for part_count+1", fix: fixMultipart, method: "POST", path: "/v1/uploads/{id}/part-urls", body: map[string]any{"part_numbers": []int{1, 3}}, status: 400, code: "invalid_request"},
		{name: "part-urls for 10001", fix: fixMultipart, method: "POST", path: "/v1/uploads/{id}/part-urls", body: map[string]any{"part_numbers": []int{10001}}, status: 400, code: "invalid_request"},
		{name: "s3 sign part 10001", fix: fixOpen, method: "GET", path: "/s3/multipart/{id}/10001?key={key}", status: 400, code: "invalid_request"},
		{name: "s3 sign part 0", fix: fixOpen, method: "GET", path: "/s3/multipart/{id}/0?key={key}", status: 400, code: "invalid_request"},

		// Bodies.
		{name: "body over the 1 MiB limit", method: "POST", path: "/v1/uploads", body: `{"filename":"` + strings.Repeat("a", 2<<20) + `","content_type":"text/plain","size":10}`, status: 413, code: "too_large"},
		{name: "deeply nested JSON", method: "POST", path: "/v1/uploads", body: `{"filename":` + strings.Repeat(`{"a":`, 100000), status: 400, code: "invalid_request"},
		{name: "invalid UTF-8", method: "POST", path: "/v1/uploads", body: "{\"filename\":\"a\xff\xfe.txt\",\"content_type\":\"text/plain\",\"size\":10}", status: 400, code: "invalid_request"},
		{name: "stray } after the object", method: "POST", path: "/v1/uploads", body: `{"filename":"a.txt","content_type":"text/plain","size":10}}`, status: 400, code: "invalid_request"},
		{name: "size as a string", method: "POST", path: "/v1/uploads", body: `{"filename":"a.txt","content_type":"text/plain","size":"10"}`, status: 400, code: "invalid_request"},

		// Metadata and header injection.
		{name: "metadata value with CRLF", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 10, "metadata": map[string]string{"title": "x\r\nX-Amz-Acl: public-read-write"}}, status: 400, code: "invalid_request"},
		{name: "metadata key with CRLF", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 10, "metadata": map[string]string{"a\r\nx-amz-acl": "public-read"}}, status: 400, code: "invalid_request"},
		{name: "content type with CRLF", method: "POST", path: "/v1/uploads", body: map[string]any{"filename": "a.txt", "content_type": "text/plain\r\nX-Amz-Acl: public-read", "size": 10}, status: 400, code: "invalid_request"},
		{name: "s3 create metadata with CRLF", method: "POST", path: "/s3/multipart", body: map[string]any{"filename": "a.bin", "type": "application/octet-stream", "metadata": map[string]any{"title": "x\r\nX-Amz-Acl: public-read"}}, status: 400, code: "invalid_request"},

		// Completion.
		{name: "complete with nothing uploaded", fix: fixMultipart, method: "POST", path: "/v1/uploads/{id}/complete", status: 422, code: "incomplete"},
		{name: "complete claiming parts never uploaded", fix: fixMultipart, method: "POST", path: "/v1/uploads/{id}/complete", body: map[string]any{"parts": []map[string]any{{"part_number": 1, "etag": `"0123456789abcdef0123456789abcdef"`}, {"part_number": 2, "etag": `"0123456789abcdef0123456789abcdef"`}}}, status: 422, code: "incomplete"},
		{name: "complete with a forged ETag", fix: fixUploaded, method: "POST", path: "/v1/uploads/{id}/complete", status: 422, code: "incomplete", bodyOf: func(f *fixed) any {
			return map[string]any{"parts": []map[string]any{{"part_number": 1, "etag": `"0123456789abcdef0123456789abcdef"`}, {"part_number": 2, "etag": f.etags[2]}}}
		}},
		{name: "complete listing a part twice", fix: fixUploaded, method: "POST", path: "/v1/uploads/{id}/complete", status: 400, code: "invalid_request", bodyOf: func(f *fixed) any {
			return map[string]any{"parts": []map[string]any{{"part_number": 1, "etag": f.etags[1]}, {"part_number": 1, "etag": f.etags[1]}, {"part_number": 2, "etag": f.etags[2]}}}
		}},
		{name: "complete a single upload with a part list", fix: fixSingle, method: "POST", path: "/v1/uploads/{id}/complete", status: 400, code: "invalid_request", body: map[string]any{"parts": []map[string]any{{"part_number": 1, "etag": "x"}}}},
		{name: "repeated complete", fix: fixDone, method: "POST", path: "/v1/uploads/{id}/complete", status: 200, check: func(t *testing.T, _ *hostileEnv, f *fixed, r reply) {
			var again completed
			r.decode(t, &again)
			if again.ID != f.done.ID || again.Key != f.done.Key || again.ETag != f.done.ETag || again.Size != f.done.Size || again.State != "completed" {
				t.Errorf("second complete %+v, first %+v", again, f.done)
			}
		}},

		// Presigned URLs altered or misused: the store refuses. An
		// expired URL can't be waited for (url_ttl is 15m), so these rows
		// shorten X-Amz-Expires or move X-Amz-Date back instead: that
		// proves the store binds the expiry to the signature (it refuses
		// the altered URL whether it sees it as expired or as forged),
		// not that it enforces the passage of time.
		{name: "part URL with X-Amz-Expires shortened", fix: fixMultipart, store: partQuery("X-Amz-Expires", "1", []byte("x"))},
		{name: "part URL with X-Amz-Date a day back", fix: fixMultipart, store: partQuery("X-Amz-Date", time.Now().UTC().Add(-24*time.Hour).Format("20060102T150405Z"), []byte("x"))},
		{name: "part URL reused for another part number", fix: fixMultipart, store: partQuery("partNumber", "1", []byte("x"))},
		{name: "part URL with another uploadId", fix: fixMultipart, store: partQuery("uploadId", "forged-upload-id", []byte("x"))},
		{name: "part URL with an altered signature", fix: fixMultipart, store: func(t *testing.T, _ *hostileEnv, f *fixed) int {
			p := f.parts[1]
			sig := queryOf(t, p.URL, "X-Amz-Signature")
			flipped := "0"
			if sig[len(sig)-1] == '0' {
				flipped = "1"
			}
			return putStatus(t, p.Method, alterQuery(t, p.URL, "X-Amz-Signature", sig[:len(sig)-1]+flipped), p.Headers, []byte("x"))
		}},
		{name: "part body longer than signed", fix: fixMultipart, store: partQuery("partNumber", "2", []byte("xy"))},
		{name: "single PUT with another Content-Type", fix: fixSingle, store: func(t *testing.T, _ *hostileEnv, f *fixed) int {
			hd := map[string]string{}
			for k, v := range f.upload.Headers {
				hd[k] = v
			}
			hd["Content-Type"] = "text/html"
			return putStatus(t, f.upload.Method, f.upload.URL, hd, []byte("<b>"))
		}},
		{name: "single PUT shorter than signed", fix: fixSingle, store: func(t *testing.T, _ *hostileEnv, f *fixed) int {
			return putStatus(t, f.upload.Method, f.upload.URL, f.upload.Headers, []byte("ab"))
		}},
		{name: "single PUT URL used for another key", fix: fixSingle, store: func(t *testing.T, _ *hostileEnv, f *fixed) int {
			u, err := url.Parse(f.upload.URL)
			if err != nil {
				t.Fatal(err)
			}
			u.Path = strings.Replace(u.Path, "/alice/", "/mallory/", 1)
			return putStatus(t, f.upload.Method, u.String(), f.upload.Headers, []byte("abc"))
		}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { h.run(t, c) })
	}

	// None of it reached Chute's output: no token (those sent in /t
	// paths included), no secret, no presigned URL.
	for _, s := range []string{h.alice, h.mallory, forged, hs512, jwtSecret, "X-Amz-Signature", "X-Amz-Credential"} {
		if tg.grep(s) {
			t.Errorf("chute's output contains %.40q", s)
		}
	}
}

// fixture is the state a row starts from, all alice's.
type fixture int

const (
	fixNone      fixture = iota
	fixSingle            // a single upload of 3 bytes, nothing sent
	fixMultipart         // a multipart upload of 16 MiB + 1 (2 parts), nothing sent
	fixUploaded          // fixMultipart with both parts in the store, not reported
	fixDone              // a single upload of 1 byte, sent and completed
	fixOpen              // a multipart upload made through POST /s3/multipart
)

// hostileCase is one row of TestHostile.
type hostileCase struct {
	name string
	fix  fixture
	// as is the subject sending the request ("alice" if empty).
	as string
	// authz, when set, is the Authorization header as sent ("{alice}"
	// is replaced by alice's token); " " sends none.
	authz        string
	method, path string // {id}, {key} (query-escaped) and {t} (the path token of as) are replaced
	body         any
	bodyOf       func(*fixed) any // a body that needs the fixture
	status       int
	code         string // Chute's error code when status >= 400
	check        func(t *testing.T, h *hostileEnv, f *fixed, r reply)
	// store, when set, replaces the request to Chute: it sends something
	// to the store and returns the store's status, which must not be 2xx.
	store func(t *testing.T, h *hostileEnv, f *fixed) int
}

type hostileEnv struct {
	tg             *target
	alice, mallory string
}

// fixed is a fixture as built.
type fixed struct {
	id, key string
	parts   []partURL
	upload  *partURL
	etags   map[int]string
	done    completed
}

func (h *hostileEnv) fixture(t *testing.T, f fixture) *fixed {
	tg := h.tg
	switch f {
	case fixSingle:
		c := create(t, tg, h.alice, "s.txt", "text/plain", 3)
		return &fixed{id: c.ID, key: c.Key, upload: c.Upload}
	case fixMultipart, fixUploaded:
		c := create(t, tg, h.alice, "m.bin", "application/octet-stream", 16*mib+1)
		if c.PartCount != 2 || len(c.Parts) != 2 {
			t.Fatalf("want 2 parts, got %+v", c)
		}
		fx := &fixed{id: c.ID, key: c.Key, parts: c.Parts}
		if f == fixUploaded {
			fx.etags = uploadParts(t, tg, h.alice, c, randomBytes(t, 16*mib+1), c.Parts, 2, false)
		}
		return fx
	case fixDone:
		c := create(t, tg, h.alice, "d.txt", "text/plain", 1)
		if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, []byte("d")); st != 200 {
			t.Fatalf("PUT: %d", st)
		}
		return &fixed{id: c.ID, key: c.Key, done: completeOK(t, tg, h.alice, c.ID, nil)}
	case fixOpen:
		c := uppyCreate(t, tg, tg.companion(t, "alice"), "o.bin")
		return &fixed{id: c.UploadID, key: c.Key}
	}
	return &fixed{}
}

// snapshot is what the store holds for both subjects.
func (h *hostileEnv) snapshot(t *testing.T) []string {
	var all []string
	for _, p := range []string{"alice/", "mallory/"} {
		for _, k := range h.tg.objects(t, p) {
			all = append(all, "object "+k)
		}
		for _, k := range h.tg.incomplete(t, p) {
			all = append(all, "unfinished "+k)
		}
	}
	slices.Sort(all)
	return all
}

func (h *hostileEnv) run(t *testing.T, c hostileCase) {
	f := h.fixture(t, c.fix)
	before := h.snapshot(t)

	if c.store != nil {
		if st := c.store(t, h, f); st >= 200 && st < 300 {
			t.Errorf("the store accepted it: status %d", st)
		}
	} else {
		subject, tok := "alice", h.alice
		if c.as == "mallory" {
			subject, tok = "mallory", h.mallory
		}
		path := strings.NewReplacer("{id}", url.PathEscape(f.id), "{key}", url.QueryEscape(f.key), "{t}", h.tg.token(t, subject)).Replace(c.path)
		body := c.body
		if c.bodyOf != nil {
			body = c.bodyOf(f)
		}
		var r reply
		if c.authz != "" {
			r = h.rawCall(t, strings.TrimSpace(strings.ReplaceAll(c.authz, "{alice}", h.alice)), c.method, path, body)
		} else {
			r = h.tg.call(t, tok, c.method, path, body)
		}
		if r.status != c.status {
			t.Fatalf("status %d, want %d: %.300s", r.status, c.status, r.body)
		}
		if c.status >= 400 {
			if code := r.errCode(t); code != c.code {
				t.Errorf("code %q, want %q", code, c.code)
			}
		}
		if c.check != nil {
			c.check(t, h, f, r)
		}
		if c.method == "POST" && c.path == "/v1/uploads" && r.status == 201 {
			// Every upload, a single one too, is a multipart upload in the
			// store from create on: end it, so that only what the hostile
			// input itself left would show below.
			var made struct{ ID string }
			r.decode(t, &made)
			if a := h.tg.call(t, tok, "DELETE", "/v1/uploads/"+made.ID, nil); a.status != 200 {
				t.Fatalf("abort: %d %s", a.status, a.body)
			}
		}
	}

	if after := h.snapshot(t); !slices.Equal(before, after) {
		t.Errorf("the store changed:\nbefore %q\nafter  %q", before, after)
	}
	if c.fix == fixMultipart {
		// Nothing reached the store's part list, and the session is
		// still alice's and alive.
		r := h.tg.call(t, h.alice, "GET", "/v1/uploads/"+f.id+"?sync=true", nil)
		var st status
		r.decode(t, &st)
		if r.status != 200 || len(st.Parts) != 0 || st.UploadedBytes != 0 || (st.State != "pending" && st.State != "uploading") {
			t.Errorf("after the row, alice's session: %d %s", r.status, r.body)
		}
	}
	if c.fix == fixSingle {
		// Nothing landed at the key: completing finds no object.
		r := h.tg.call(t, h.alice, "POST", "/v1/uploads/"+f.id+"/complete", nil)
		if r.status < 400 {
			t.Errorf("complete after the row: %d %s", r.status, r.body)
		}
	}
}

// rawCall is target.call with the Authorization header given as is
// (empty: none).
func (h *hostileEnv) rawCall(t *testing.T, authz, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.tg.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if validateResponse != nil {
		validateResponse(t, method, path, resp.StatusCode, resp.Header, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: content type %q", method, ct)
	}
	return reply{status: resp.StatusCode, body: data}
}

// rawJWT builds a JWT from literal header and claims JSON, signed with
// HMAC-SHA512 when key is set, unsigned otherwise.
func rawJWT(header, claims string, key []byte) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	if key == nil {
		return in + "."
	}
	m := hmac.New(sha512.New, key)
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// rawJWTHS256 signs literal claims with the server's own secret and
// algorithm, to show that a correctly signed token still needs sub and exp.
func rawJWTHS256(claims string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	return in + "." + hs256(in)
}

// putStatus is put without the ETag.
func putStatus(t *testing.T, method, url string, headers map[string]string, data []byte) int {
	t.Helper()
	st, _ := put(t, method, url, headers, data)
	return st
}

func hs256(in string) string {
	m := hmac.New(sha256.New, []byte(jwtSecret))
	m.Write([]byte(in))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func queryOf(t *testing.T, raw, param string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(param)
	if v == "" {
		t.Fatalf("presigned URL has no %s", param)
	}
	return v
}

// alterQuery sets one query parameter of a presigned URL.
func alterQuery(t *testing.T, raw, param, value string) string {
	t.Helper()
	queryOf(t, raw, param) // it must be there to begin with
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(param, value)
	u.RawQuery = q.Encode()
	return u.String()
}
