package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/client"
)

// The Go client (package client) against a real Chute: `chute serve` on
// Redis and versitygw containers, and `chute dev`.

func TestClientServe(t *testing.T) { clientFlows(t, startServe(t)) }

func TestClientDev(t *testing.T) { clientFlows(t, startDev(t)) }

func clientFlows(t *testing.T, tg *target) {
	t.Run("parallel upload", func(t *testing.T) { clientUpload(t, tg) })
	t.Run("resume", func(t *testing.T) { clientResume(t, tg) })
	t.Run("checksums", func(t *testing.T) { clientChecksums(t, tg) })
	t.Run("single", func(t *testing.T) { clientSingle(t, tg) })
	t.Run("errors", func(t *testing.T) { clientErrors(t, tg) })
}

func newClient(t *testing.T, tg *target, subject string) *client.Client {
	return client.New(tg.base, client.WithToken(tg.token(t, subject)), client.WithParallel(4))
}

// storedSHA returns the sha256 of the object under key, read from the
// store itself.
func storedSHA(t *testing.T, tg *target, key string) [32]byte {
	t.Helper()
	obj, err := tg.store.GetObject(context.Background(), tg.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func clientUpload(t *testing.T, tg *target) {
	data := randomBytes(t, 40<<20)
	var mu sync.Mutex
	var last client.Progress
	calls := 0
	res, err := newClient(t, tg, "alice").Upload(context.Background(), bytes.NewReader(data), int64(len(data)), client.UploadOptions{
		Filename: "big.bin", ContentType: "application/octet-stream", Parallel: 4,
		OnProgress: func(p client.Progress) { mu.Lock(); last = p; calls++; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if sha256.Sum256(download(t, res.DownloadURL)) != want {
		t.Fatal("downloaded bytes differ from the file")
	}
	if storedSHA(t, tg, res.Key) != want {
		t.Fatal("stored object differs from the file")
	}
	if res.Size != int64(len(data)) || res.ETag == "" {
		t.Fatalf("result %+v", res)
	}
	if last.Uploaded != last.Total || last.Total != int64(len(data)) || last.PartsDone != 3 || last.Parts != 3 || calls < 2 {
		t.Fatalf("last progress %+v after %d calls", last, calls)
	}
}

func clientResume(t *testing.T, tg *target) {
	data := randomBytes(t, 40<<20) // 3 parts of 16 MiB
	c := newClient(t, tg, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var session string
	// The upload is interrupted when the second part starts to be read:
	// part 1 is stored and reported, nothing of the rest is sent. (No
	// checksum read-ahead: it would read the whole file before create.)
	_, err := c.Upload(ctx, &interrupting{data: data, at: 16 << 20, cancel: cancel}, int64(len(data)), client.UploadOptions{
		Filename: "resume.bin", Parallel: 1, ChecksumPassMax: -1,
		OnSession: func(id string) { session = id },
	})
	if err == nil {
		t.Fatal("interrupted upload succeeded")
	}
	st, err := c.Status(context.Background(), session, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Parts) != 1 || st.Parts[0].Number != 1 || st.State == "completed" {
		t.Fatalf("after the interruption: state %s, %d parts", st.State, len(st.Parts))
	}
	stored := len(st.Parts)

	var first *client.Progress
	res, err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), client.UploadOptions{
		ResumeID: session,
		OnProgress: func(p client.Progress) {
			if first == nil {
				first = &p
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != session {
		t.Fatalf("resumed into %s, want %s", res.ID, session)
	}
	if first == nil || first.PartsDone != stored || first.Uploaded != int64(stored)*16<<20 {
		t.Fatalf("first progress on resume %+v, want %d parts already done", first, stored)
	}
	if sha256.Sum256(download(t, res.DownloadURL)) != sha256.Sum256(data) {
		t.Fatal("resumed upload differs from the file")
	}
}

// interrupting cancels the upload's context when a read reaches offset
// at, and fails that read.
type interrupting struct {
	data   []byte
	at     int64
	cancel context.CancelFunc
}

func (r *interrupting) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.at {
		r.cancel()
		return 0, errors.New("interrupted")
	}
	n, err := bytes.NewReader(r.data[:r.at]).ReadAt(p, off)
	if err == io.EOF && off+int64(n) < int64(len(r.data)) {
		err = nil // more file after at; the section reader stops at the part's end
	}
	return n, err
}

// corrupting flips a byte of the first part on every read after the first
// one: the SHA-256 computed first no longer matches what is sent.
type corrupting struct {
	mu    sync.Mutex
	data  []byte
	reads int
}

func (r *corrupting) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r.data).ReadAt(p, off)
	r.mu.Lock()
	defer r.mu.Unlock()
	if off == 0 {
		r.reads++
	}
	if r.reads > 1 && off == 0 && n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

// clientChecksums uploads with every algorithm, as a single upload, as
// a multipart upload whose whole value is declared at create, and as one
// whose value the client combines from its parts at the end. What the
// store verifies comes from the provider preset Chute runs with (measured
// on both CI stores, which verify all five): an algorithm it verifies
// must come back verified; one it does not must be refused and said so,
// the file still uploaded.
func clientChecksums(t *testing.T, tg *target) {
	preset, err := backends.LookupPreset(tg.provider)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newClient(t, tg, "alice")
	for _, alg := range checksum.All {
		for _, m := range []struct {
			name    string
			size    int
			passMax int64
		}{
			{"single", 300 << 10, 0},
			{"single created again with the value", 300 << 10, -1},
			{"multipart declared", 17 << 20, 0},
			{"multipart combined", 17 << 20, -1},
		} {
			t.Run(string(alg)+"/"+m.name, func(t *testing.T) {
				data := randomBytes(t, int64(m.size))
				res, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), client.UploadOptions{Filename: "sum.bin", Checksum: alg, ChecksumPassMax: m.passMax})
				if err != nil {
					t.Fatal(err)
				}
				if storedSHA(t, tg, res.Key) != sha256.Sum256(data) {
					t.Fatal("stored object differs from the file")
				}
				verifies := slices.Contains(preset.PartChecksums, alg)
				keepsWhole := slices.Contains(preset.FullObjectChecksums, alg)
				switch {
				case !verifies:
					if !res.Checksum.IsZero() || !strings.Contains(res.ChecksumNote, "refused "+string(alg)) {
						t.Fatalf("%q does not verify %s: result %+v, note %q", tg.provider, alg, res.Checksum, res.ChecksumNote)
					}
				case m.passMax < 0 && m.size > 16<<20 && !keepsWhole:
					// Nothing declared, no whole value kept: only the parts
					// were checked, and the result says so.
					if !res.Checksum.IsZero() || res.ChecksumNote == "" {
						t.Fatalf("result %+v, note %q; want no whole value and a note", res.Checksum, res.ChecksumNote)
					}
				default:
					if res.Checksum != (checksum.Value{Algorithm: alg, Value: alg.Sum(data)}) {
						t.Fatalf("result checksum %+v (note %q), want %s %s", res.Checksum, res.ChecksumNote, alg, alg.Sum(data))
					}
				}
			})
		}
	}

	// The store checks each signed part checksum: bytes that changed
	// after hashing are refused (no read-ahead: the part is hashed, then
	// changes). With the read-ahead, the part is hashed and sent alike but
	// differs from the declared whole value: complete refuses it and
	// leaves no object.
	data := randomBytes(t, 20<<20)
	_, err = c.Upload(ctx, &corrupting{data: data}, int64(len(data)), client.UploadOptions{Filename: "bad.bin", Parallel: 1, ChecksumPassMax: -1})
	var se *client.StoreError
	if !errors.As(err, &se) || se.Part != 1 || se.Status != 400 {
		t.Fatalf("corrupted part: %v, want the store to refuse part 1 with 400", err)
	}
	var id string
	_, err = c.Upload(ctx, &corrupting{data: data}, int64(len(data)), client.UploadOptions{Filename: "bad.bin", Parallel: 1, OnSession: func(s string) { id = s }})
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 422 {
		t.Fatalf("file changed after the read-ahead: %v, want 422 at complete", err)
	}
	st, err := c.Status(ctx, id, false)
	if err != nil || st.State == "completed" {
		t.Fatalf("session after a whole-checksum mismatch: %v %+v", err, st)
	}
	if _, err := tg.store.StatObject(ctx, tg.bucket, st.Key, minio.StatObjectOptions{}); err == nil {
		t.Fatalf("an object was left at %s after a checksum mismatch", st.Key)
	}
}

func clientSingle(t *testing.T, tg *target) {
	data := randomBytes(t, 100<<10)
	res, err := newClient(t, tg, "alice").Upload(context.Background(), bytes.NewReader(data), int64(len(data)), client.UploadOptions{Filename: "small.png", ContentType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	if storedSHA(t, tg, res.Key) != sha256.Sum256(data) {
		t.Fatal("single upload differs from the file")
	}
	info, err := tg.store.StatObject(context.Background(), tg.bucket, res.Key, minio.StatObjectOptions{})
	if err != nil || info.ContentType != "image/png" {
		t.Fatalf("stat: %v, content type %q", err, info.ContentType)
	}
}

func clientErrors(t *testing.T, tg *target) {
	ctx := context.Background()
	c := newClient(t, tg, "alice")
	var ae *client.APIError
	if _, err := c.Status(ctx, "upl_doesnotexist", false); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" || ae.Message == "" {
		t.Fatalf("unknown session: %v", err)
	}
	if _, err := client.New(tg.base).Create(ctx, client.CreateRequest{Filename: "a", ContentType: "a/b", Size: new(int64(1))}); !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" {
		t.Fatalf("no token: %v", err)
	}
	// Someone else's session is not found; aborting our own works.
	u, err := c.Create(ctx, client.CreateRequest{Filename: "x.bin", ContentType: "application/octet-stream", Size: new(int64(20 << 20))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, tg, "mallory").Abort(ctx, u.ID); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("abort by another subject: %v", err)
	}
	if st, err := c.Abort(ctx, u.ID); err != nil || st.State != "aborted" {
		t.Fatalf("abort: %v", err)
	}
	if _, err := c.PartURLs(ctx, u.ID, []int{1}, nil); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "conflict" {
		t.Fatalf("part-urls on an aborted session: %v", err)
	}
}
