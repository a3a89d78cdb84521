package test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// "A URL dies with its session" (shared/API.md, docs/guarantees.md): once
// a session is completed, aborted, expired or rejected, no URL or form
// Chute handed out for it changes what is stored at its key.

// TestURLDiesWithItsSession runs each ending of a session on chute serve
// with Redis and the run's store, then replays the old URLs.
func TestURLDiesWithItsSession(t *testing.T) {
	tg := startServeYAML(t, guaranteesYAML)
	t.Run("single: completed object not replaced by its old URL", func(t *testing.T) { singleReplay(t, tg) })
	t.Run("single: aborted before the PUT leaves nothing", func(t *testing.T) { singleAbortThenPut(t, tg, false) })
	t.Run("single: aborted after the PUT leaves nothing", func(t *testing.T) { singleAbortThenPut(t, tg, true) })
	t.Run("single: sniff rejection leaves nothing", func(t *testing.T) { sniffRejectThenPut(t, tg) })
	t.Run("multipart: completed object not replaced by a part URL", func(t *testing.T) { multipartReplay(t, tg) })
	t.Run("uppy form: completed object not replaced by the form", func(t *testing.T) { uppyFormReplay(t, tg) })
	t.Run("uppy form: aborted session leaves nothing at its key", func(t *testing.T) { uppyFormAbort(t, tg) })
}

// TestURLDiesWithExpiredSession: the janitor ends an abandoned session;
// its URL then writes nothing.
func TestURLDiesWithExpiredSession(t *testing.T) {
	tg := startServeYAML(t, `sessions:
  ttl: 2s
janitor:
  interval: 300ms
profiles:
  default:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    single_max: 16MiB
    url_ttl: 15m
`)
	tok := tg.token(t, "alice")
	c := create(t, tg, tok, "late.bin", "application/octet-stream", 1024)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st status
		r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
		r.decode(t, &st)
		if st.State == "expired" && len(tg.incomplete(t, c.Key)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not expired and discarded within 30s: %s", r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, randomBytes(t, 1024)); st/100 == 2 {
		t.Fatalf("the store took a PUT to an expired session's URL (status %d)", st)
	}
	if keys := tg.objects(t, c.Key); len(keys) != 0 {
		t.Fatalf("objects at an expired session's key: %v", keys)
	}
}

const guaranteesYAML = `profiles:
  default:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    part_size: 5MiB
    single_max: 5MiB
    url_ttl: 15m
  images:
    backend: main
    max_size: 1MiB
    allowed_types: ["image/png"]
    sniff: true
`

// storedBytes returns the object at key, or nil when there is none.
func (tg *target) storedBytes(t testing.TB, key string) []byte {
	t.Helper()
	obj, err := tg.store.GetObject(context.Background(), tg.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(obj); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		t.Fatalf("reading %s: %v", key, err)
	}
	return b.Bytes()
}

func singleReplay(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	good := randomBytes(t, 4096)
	c := create(t, tg, tok, "pic.bin", "application/octet-stream", int64(len(good)))
	if c.Strategy != "single" || c.Upload == nil {
		t.Fatalf("want a single upload: %+v", c)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, good); st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	completeOK(t, tg, tok, c.ID, nil)
	evil := bytes.Repeat([]byte("<"), len(good))
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, evil); st/100 == 2 {
		t.Errorf("the store took a second PUT to a completed upload's URL (status %d)", st)
	}
	if got := tg.storedBytes(t, c.Key); !bytes.Equal(got, good) {
		t.Fatalf("the completed object changed: %d bytes, first %q", len(got), got[:min(len(got), 8)])
	}
	var st status
	tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil).decode(t, &st)
	if st.State != "completed" {
		t.Fatalf("state %s", st.State)
	}
}

func singleAbortThenPut(t *testing.T, tg *target, putFirst bool) {
	tok := tg.token(t, "alice")
	data := randomBytes(t, 2048)
	c := create(t, tg, tok, "a.bin", "application/octet-stream", int64(len(data)))
	if putFirst {
		if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
			t.Fatalf("PUT: %d", st)
		}
	}
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st/100 == 2 {
		t.Errorf("the store took a PUT to an aborted upload's URL (status %d)", st)
	}
	if keys := tg.objects(t, c.Key); len(keys) != 0 {
		t.Fatalf("objects at an aborted session's key: %v", keys)
	}
	if left := tg.incomplete(t, c.Key); len(left) != 0 {
		t.Fatalf("multipart uploads left for an aborted session: %v", left)
	}
}

func sniffRejectThenPut(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	html := []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
	r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "a.png", "content_type": "image/png", "size": len(html), "profile": "images"})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, html); st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	if r.status != 415 || r.errCode(t) != "unsupported_type" {
		t.Fatalf("complete of HTML declared PNG: %d %s", r.status, r.body)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, html); st/100 == 2 {
		t.Errorf("the store took a PUT to a rejected upload's URL (status %d)", st)
	}
	if keys := tg.objects(t, c.Key); len(keys) != 0 {
		t.Fatalf("objects at a rejected session's key: %v", keys)
	}
}

func multipartReplay(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	data := randomBytes(t, 6*mib)
	c := create(t, tg, tok, "v.bin", "application/octet-stream", int64(len(data)))
	if c.Strategy != "multipart" || len(c.Parts) != 2 {
		t.Fatalf("want 2 parts: %+v", c)
	}
	uploadParts(t, tg, tok, c, data, c.Parts, 2, true)
	completeOK(t, tg, tok, c.ID, nil)
	p := c.Parts[0]
	if st, _ := put(t, p.Method, p.URL, p.Headers, make([]byte, p.Size)); st/100 == 2 {
		t.Errorf("the store took a part PUT after complete (status %d)", st)
	}
	if got := tg.storedBytes(t, c.Key); !bytes.Equal(got, data) {
		t.Fatalf("the completed object changed (%d bytes)", len(got))
	}
	if left := tg.incomplete(t, c.Key); len(left) != 0 {
		t.Fatalf("a late part PUT left a multipart upload: %v", left)
	}
}

func uppyFormReplay(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	good := []byte("the verified text\n")
	p := uppyParams(t, tg, ep, url.Values{"filename": {"note.txt"}, "type": {"text/plain"}})
	id := p.Fields["key"][strings.LastIndex(p.Fields["key"], "/")+1:]
	if status, msg := postForm(t, p, nil, good); status/100 != 2 {
		t.Fatalf("POST to the store: %d %s", status, msg)
	}
	tok := tg.token(t, "alice")
	done := completeOK(t, tg, tok, id, nil)
	if done.State != "completed" || done.Size != int64(len(good)) || strings.Contains(done.Key, ".chute-staging") {
		t.Fatalf("complete: %+v", done)
	}
	if got := tg.storedBytes(t, done.Key); !bytes.Equal(got, good) {
		t.Fatalf("object at the key: %q", got)
	}
	if status, _ := postForm(t, p, nil, []byte("<script>evil()</script>")); status/100 != 2 {
		t.Logf("the store refused the replayed form (%d)", status)
	}
	if got := tg.storedBytes(t, done.Key); !bytes.Equal(got, good) {
		t.Fatalf("the replayed form replaced the completed object: %q", got)
	}
	var st status
	tg.call(t, tok, "GET", "/v1/uploads/"+id, nil).decode(t, &st)
	if st.State != "completed" {
		t.Fatalf("state %s", st.State)
	}
}

func uppyFormAbort(t *testing.T, tg *target) {
	ep := tg.companion(t, "alice")
	p := uppyParams(t, tg, ep, url.Values{"filename": {"note.txt"}, "type": {"text/plain"}})
	staged := p.Fields["key"]
	id := staged[strings.LastIndex(staged, "/")+1:]
	tok := tg.token(t, "alice")
	var st struct {
		Key   string `json:"key"`
		State string `json:"state"`
	}
	tg.call(t, tok, "GET", "/v1/uploads/"+id, nil).decode(t, &st)
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+id, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	_, _ = postForm(t, p, nil, []byte("after the abort\n"))
	if keys := tg.objects(t, st.Key); len(keys) != 0 {
		t.Fatalf("an aborted form session left objects at its key: %v", keys)
	}
	if r := tg.call(t, tok, "POST", "/v1/uploads/"+id+"/complete", nil); r.status != 409 {
		t.Fatalf("complete after abort: %d %s", r.status, r.body)
	}
	if keys := tg.objects(t, st.Key); len(keys) != 0 {
		t.Fatalf("objects at the key after a refused complete: %v", keys)
	}
}

// conditionalStores are the CI stores that honour If-None-Match on
// CompleteMultipartUpload (docs/compatibility.md, measured by the store
// conformance suite).
var conditionalStores = map[string]bool{"": true, "versitygw": true, "seaweedfs": true}

// TestNeverOverwrite: an object already at a session's key (put there by
// another writer) is not replaced by the session's complete where the
// store honours conditional writes; a profile with overwrite: true
// replaces it.
func TestNeverOverwrite(t *testing.T) {
	tg := startServeYAML(t, guaranteesYAML+`  replace:
    backend: main
    max_size: 1GiB
    allowed_types: ["*/*"]
    single_max: 5MiB
    key_template: "shared/{subject}{ext}"
    overwrite: true
`)
	tok := tg.token(t, "alice")
	conditional := conditionalStores[os.Getenv("CHUTE_TEST_STORE")]
	for _, size := range []int64{100, 6 * mib} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			c := create(t, tg, tok, "n.bin", "application/octet-stream", size)
			theirs := []byte("someone else's object")
			if _, err := tg.store.PutObject(context.Background(), tg.bucket, c.Key, bytes.NewReader(theirs), int64(len(theirs)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			data := randomBytes(t, size)
			if c.Upload != nil {
				if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
					t.Fatalf("PUT: %d", st)
				}
			} else {
				uploadParts(t, tg, tok, c, data, c.Parts, 2, true)
			}
			r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
			if !conditional {
				if r.status != 200 {
					t.Fatalf("complete on a store without conditional writes: %d %s", r.status, r.body)
				}
				return
			}
			if r.status != 409 || r.errCode(t) != "conflict" {
				t.Fatalf("complete onto an existing object: %d %s", r.status, r.body)
			}
			if got := tg.storedBytes(t, c.Key); !bytes.Equal(got, theirs) {
				t.Fatalf("the existing object was replaced (%d bytes)", len(got))
			}
			var st status
			tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil).decode(t, &st)
			if st.State != "aborted" || len(tg.incomplete(t, c.Key)) != 0 {
				t.Fatalf("after the refused complete: state %s, %d uploads left", st.State, len(tg.incomplete(t, c.Key)))
			}
		})
	}
	t.Run("overwrite: true replaces", func(t *testing.T) {
		var first string
		for i, data := range [][]byte{[]byte("first version"), []byte("second version!")} {
			r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{"filename": "me.txt", "content_type": "text/plain", "size": len(data), "profile": "replace"})
			if r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			var c created
			r.decode(t, &c)
			if i == 0 {
				first = c.Key
			} else if c.Key != first {
				t.Fatalf("keys differ: %s, %s", first, c.Key)
			}
			if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
				t.Fatalf("PUT: %d", st)
			}
			completeOK(t, tg, tok, c.ID, nil)
			if got := tg.storedBytes(t, c.Key); !bytes.Equal(got, data) {
				t.Fatalf("version %d: stored %q", i+1, got)
			}
		}
	})
}
