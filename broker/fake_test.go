package broker

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// fakeStore is an in-memory ObjectStore for unit tests of the broker's
// logic. It checks no signatures: the real store is exercised by the
// integration suite in test/.
type fakeStore struct {
	mu        sync.Mutex
	uploads   map[string]*fakeUpload // by upload id
	objects   map[string]ObjectInfo
	completes atomic.Int32
	next      int
	fail      error // returned by every call when set
	// lostComplete, when set, is what CompleteMultipart answers after it
	// completed the upload: an answer lost on the way back.
	lostComplete error
}

type fakeUpload struct {
	key   string
	ct    string
	parts map[int]multipart.Part
}

func newFakeStore() *fakeStore {
	return &fakeStore{uploads: map[string]*fakeUpload{}, objects: map[string]ObjectInfo{}}
}

func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// putPart stands for a client PUT to a presigned part URL.
func (f *fakeStore) putPart(uploadID string, n int, size int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	etag := etagOf([]byte(fmt.Sprintf("%s-%d-%d", uploadID, n, size)))
	f.uploads[uploadID].parts[n] = multipart.Part{Number: n, ETag: `"` + etag + `"`, Size: size}
	return etag
}

// putObject stands for a client PUT to a presigned single URL: part 1 of
// the key's open multipart upload (every native upload has one), or, for
// a key without one (an Uppy POST form), the object itself.
func (f *fakeStore) putObject(key string, size int64, ct string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.uploads {
		if u.key == key {
			u.parts[1] = multipart.Part{Number: 1, ETag: etagOf([]byte(key)), Size: size}
			return
		}
	}
	f.objects[key] = ObjectInfo{Size: size, ETag: etagOf([]byte(key)), ContentType: ct}
}

func (f *fakeStore) presigned(method, key string, q url.Values, headers map[string]string, ttl time.Duration) PresignedRequest {
	u := url.URL{Scheme: "http", Host: "store.test", Path: "/bucket/" + key, RawQuery: q.Encode()}
	return PresignedRequest{Method: method, URL: u.String(), Headers: headers, ExpiresAt: time.Now().Add(ttl)}
}

func (f *fakeStore) CreateMultipart(_ context.Context, key string, opts ObjectOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.next++
	id := fmt.Sprintf("up%d", f.next)
	f.uploads[id] = &fakeUpload{key: key, ct: opts.ContentType, parts: map[int]multipart.Part{}}
	return id, nil
}

func (f *fakeStore) PresignPart(_ context.Context, key, uploadID string, n int, opts PartOptions, ttl time.Duration) (PresignedRequest, error) {
	if f.fail != nil {
		return PresignedRequest{}, f.fail
	}
	h := map[string]string{"Content-Length": fmt.Sprint(opts.Size)}
	if opts.Checksum.Value != "" {
		h[opts.Checksum.Algorithm.Header()] = opts.Checksum.Value
	}
	if opts.ContentType != "" {
		h["Content-Type"] = opts.ContentType
	}
	return f.presigned("PUT", key, url.Values{"partNumber": {fmt.Sprint(n)}, "uploadId": {uploadID}, "X-Amz-Signature": {"secret-sig"}}, h, ttl), nil
}

func (f *fakeStore) PresignPut(_ context.Context, key string, size int64, opts ObjectOptions, ttl time.Duration) (PresignedRequest, error) {
	if f.fail != nil {
		return PresignedRequest{}, f.fail
	}
	return f.presigned("PUT", key, url.Values{"X-Amz-Signature": {"secret-sig"}}, map[string]string{"Content-Length": fmt.Sprint(size), "Content-Type": opts.ContentType}, ttl), nil
}

func (f *fakeStore) PresignGet(_ context.Context, key string, opts GetOptions, ttl time.Duration) (PresignedRequest, error) {
	if f.fail != nil {
		return PresignedRequest{}, f.fail
	}
	q := url.Values{"X-Amz-Signature": {"secret-sig"}}
	if opts.Attachment {
		q.Set("response-content-disposition", "attachment")
	}
	if opts.ContentType != "" {
		q.Set("response-content-type", opts.ContentType)
	}
	return f.presigned("GET", key, q, nil, ttl), nil
}

func (f *fakeStore) ListParts(_ context.Context, _, uploadID string) ([]multipart.Part, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	u, ok := f.uploads[uploadID]
	if !ok {
		return nil, ErrNotFound
	}
	var out []multipart.Part
	for _, p := range u.parts {
		out = append(out, multipart.Part{Number: p.Number, ETag: multipart.NormalizeETag(p.ETag), Size: p.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func (f *fakeStore) CompleteMultipart(_ context.Context, key, uploadID string, parts []multipart.Part, _ CompleteOptions) (ObjectInfo, error) {
	f.completes.Add(1)
	time.Sleep(20 * time.Millisecond) // widen the window for concurrent completes
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return ObjectInfo{}, f.fail
	}
	u, ok := f.uploads[uploadID]
	if !ok {
		return ObjectInfo{}, ErrNotFound
	}
	var size int64
	for _, p := range parts {
		sp, ok := u.parts[p.Number]
		if !ok || !multipart.SameETag(sp.ETag, p.ETag) {
			return ObjectInfo{}, ErrInvalidPart
		}
		size += sp.Size
	}
	delete(f.uploads, uploadID)
	etag, err := multipart.ETag(parts)
	if err != nil {
		return ObjectInfo{}, err
	}
	f.objects[key] = ObjectInfo{Size: size, ETag: etag, ContentType: u.ct}
	if f.lostComplete != nil {
		return ObjectInfo{}, f.lostComplete
	}
	return f.objects[key], nil
}

func (f *fakeStore) AbortMultipart(_ context.Context, _, uploadID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.uploads[uploadID]; !ok {
		return ErrNotFound
	}
	delete(f.uploads, uploadID)
	return nil
}

func (f *fakeStore) Stat(_ context.Context, key string) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return ObjectInfo{}, f.fail
	}
	o, ok := f.objects[key]
	if !ok {
		return o, ErrNotFound
	}
	return o, nil
}

func (f *fakeStore) Remove(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	delete(f.objects, key)
	return nil
}

func (f *fakeStore) Ping(context.Context) error { return f.fail }

// Copy copies an object; with IfNoneMatch it refuses an existing dst.
func (f *fakeStore) Copy(_ context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return ObjectInfo{}, f.fail
	}
	o, ok := f.objects[src]
	if !ok {
		return ObjectInfo{}, ErrNotFound
	}
	if _, exists := f.objects[dst]; exists && opts.IfNoneMatch {
		return ObjectInfo{}, ErrPrecondition
	}
	o.ContentType = opts.ContentType
	f.objects[dst] = o
	return o, nil
}

// newTestService returns a Service on a fake store and a miniredis
// session store.
func newTestService(t *testing.T) (*Service, *fakeStore) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	fs := newFakeStore()
	svc, err := New(Config{
		Profiles: map[string]Profile{
			"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB, PartSize: 5 * multipart.MiB,
				SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"video/*", "image/png", "application/octet-stream", "text/plain"},
				URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}"},
		},
		Backends: map[string]ObjectStore{"main": fs},
		Sessions: sessions.NewRedisStore(rc),
		TTL:      time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs
}
