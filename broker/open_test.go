package broker

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chute-dev/chute/multipart"
)

// The fake store gets the optional capabilities too.

func (f *fakeStore) PresignPartUnsized(_ context.Context, key, uploadID string, n int, ttl time.Duration) (PresignedRequest, error) {
	if f.fail != nil {
		return PresignedRequest{}, f.fail
	}
	return f.presigned("PUT", key, url.Values{"partNumber": {fmt.Sprint(n)}, "uploadId": {uploadID}}, nil, ttl), nil
}

func (f *fakeStore) PresignPost(_ context.Context, key string, opts PostOptions, ttl time.Duration) (PresignedPost, error) {
	if f.fail != nil {
		return PresignedPost{}, f.fail
	}
	return PresignedPost{URL: "http://store.test/bucket", Fields: map[string]string{
		"key": key, "Content-Type": opts.ContentType, "range": fmt.Sprintf("%d..%d", opts.MinSize, opts.MaxSize),
	}, ExpiresAt: time.Now().Add(ttl)}, nil
}

func (f *fakeStore) uploadIDOf(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, u := range f.uploads {
		if u.key == key {
			return id
		}
	}
	return ""
}

func TestOpenMultipartFlow(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "clip.mp4", ContentType: "video/mp4", Metadata: map[string]string{"title": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := svc.Status(ctx, "alice", up.ID, false)
	// The size is not known yet: status shows 0 (the session is open-ended).
	if err != nil || st.Size != 0 || st.Strategy != "multipart" || st.PartCount != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	// Another subject, or the wrong key: not found.
	_, err = svc.SignPart(ctx, "bob", up.ID, 1)
	wantCode(t, err, CodeNotFound)
	// The key (Companion's second name for it, checked by broker/companion).
	if loc, err := svc.Locate(ctx, "alice", up.ID); err != nil || loc.Key != up.Key {
		t.Fatalf("Locate = %+v, %v", loc, err)
	}
	// Part numbers are bounded by max_size (5 GiB / 5 MiB + 1).
	_, err = svc.SignPart(ctx, "alice", up.ID, 1026)
	wantCode(t, err, CodeInvalidRequest)
	p, err := svc.SignPart(ctx, "alice", up.ID, 1025)
	if err != nil || p.Headers["Content-Length"] != "" {
		t.Fatalf("%+v %v", p, err)
	}
	uid := fs.uploadIDOf(up.Key)
	e1 := fs.putPart(uid, 1, 5*multipart.MiB)
	e2 := fs.putPart(uid, 2, 9)
	parts, err := svc.StoredParts(ctx, "alice", up.ID)
	if err != nil || len(parts) != 2 || parts[1].Size != 9 {
		t.Fatalf("%+v %v", parts, err)
	}
	// A list with a gap, or a wrong ETag, completes nothing.
	_, err = completeList(ctx, svc, "alice", up.ID, []CompletePart{{PartNumber: 2, ETag: e2}})
	wantCode(t, err, CodeIncomplete)
	_, err = completeList(ctx, svc, "alice", up.ID, []CompletePart{{PartNumber: 1, ETag: e2}, {PartNumber: 2, ETag: e2}})
	wantCode(t, err, CodeIncomplete)
	if fs.completes.Load() != 0 {
		t.Fatal("CompleteMultipartUpload ran on a bad list")
	}
	list := []CompletePart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: `"` + e2 + `"`}}
	done, err := completeList(ctx, svc, "alice", up.ID, list)
	if err != nil {
		t.Fatal(err)
	}
	if done.Size != 5*multipart.MiB+9 || done.State != "completed" || done.Download == nil {
		t.Fatalf("%+v", done)
	}
	// The learned plan is on the session now, and completing again is idempotent.
	st, err = svc.Status(ctx, "alice", up.ID, false)
	if err != nil || st.Size != 5*multipart.MiB+9 || st.PartCount != 2 || st.PartSize != 5*multipart.MiB {
		t.Fatalf("%+v %v", st, err)
	}
	again, err := completeList(ctx, svc, "alice", up.ID, list)
	if err != nil || again.ETag != done.ETag || fs.completes.Load() != 1 {
		t.Fatalf("%+v %v (completes %d)", again, err, fs.completes.Load())
	}
}

func TestOpenMultipartOverMaxSize(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	prof := svc.profiles["default"]
	prof.MaxSize = 6 * multipart.MiB
	svc.profiles["default"] = prof
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	uid := fs.uploadIDOf(up.Key)
	e1 := fs.putPart(uid, 1, 5*multipart.MiB)
	e2 := fs.putPart(uid, 2, 2*multipart.MiB)
	_, err = completeList(ctx, svc, "alice", up.ID, []CompletePart{{PartNumber: 1, ETag: e1}, {PartNumber: 2, ETag: e2}})
	wantCode(t, err, CodeTooLarge)
	st, err := svc.Status(ctx, "alice", up.ID, false)
	if err != nil || st.State != "aborted" {
		t.Fatalf("%+v %v", st, err)
	}
	if fs.uploadIDOf(up.Key) != "" {
		t.Fatal("the multipart upload over max_size was not aborted")
	}
}

func TestSignPostAndLazyComplete(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	_, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.exe", ContentType: "application/x-msdownload"})
	wantCode(t, err, CodeUnsupportedType)
	post, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	staged := StagingKey(post.Key, post.ID)
	if post.Fields["key"] != staged || post.Fields["Content-Type"] != "text/plain" || post.Fields["range"] != fmt.Sprint("0..", 5*multipart.GiB) {
		t.Fatalf("%+v", post)
	}
	// Not uploaded yet: incomplete, and the session stays open.
	_, err = svc.Complete(ctx, "alice", post.ID, CompleteRequest{})
	wantCode(t, err, CodeIncomplete)
	fs.putObject(staged, 11, "text/plain")
	done, err := svc.Complete(ctx, "alice", post.ID, CompleteRequest{})
	if err != nil || done.Size != 11 || done.State != "completed" {
		t.Fatalf("%+v %v", done, err)
	}
	if o, ok := fs.objects[post.Key]; !ok || o.Size != 11 {
		t.Fatalf("object at the key: %+v %v", o, ok)
	}
	if _, ok := fs.objects[staged]; ok {
		t.Fatal("staged object left after complete")
	}
	// The form, posted again after complete, writes the staging key only.
	fs.putObject(staged, 5, "text/plain")
	if o := fs.objects[post.Key]; o.Size != 11 {
		t.Fatalf("a late post replaced the completed object: %+v", o)
	}
	if again, err := svc.Complete(ctx, "alice", post.ID, CompleteRequest{}); err != nil || again.Size != 11 {
		t.Fatalf("complete again: %+v %v", again, err)
	}
	_, err = svc.Complete(ctx, "bob", post.ID, CompleteRequest{})
	wantCode(t, err, CodeNotFound)
}

func TestAbortOpen(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, abortErr(ctx, svc, "bob", up.ID), CodeNotFound)
	_, err = svc.Locate(ctx, "bob", up.ID)
	wantCode(t, err, CodeNotFound)
	if err := abortErr(ctx, svc, "alice", up.ID); err != nil {
		t.Fatal(err)
	}
	if fs.uploadIDOf(up.Key) != "" {
		t.Fatal("multipart upload left in the store")
	}
	_, err = svc.SignPart(ctx, "alice", up.ID, 1)
	wantCode(t, err, CodeConflict)
}

func TestPromoterCompletesStagedForms(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	post, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "b.txt", ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing posted yet: both wait.
	res, err := svc.PromoteStaged(ctx)
	if err != nil || res.Seen != 2 || res.Waiting != 2 || res.Promoted != 0 {
		t.Fatalf("first pass: %+v %v", res, err)
	}
	fs.putObject(StagingKey(post.Key, post.ID), 11, "text/plain")
	res, err = svc.PromoteStaged(ctx)
	if err != nil || res.Promoted != 1 || res.Waiting != 1 {
		t.Fatalf("second pass: %+v %v", res, err)
	}
	st, err := svc.Status(ctx, "alice", post.ID, false)
	if err != nil || st.State != "completed" || st.Size != 11 {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, ok := fs.objects[post.Key]; !ok {
		t.Fatal("no object at the key after promotion")
	}
	if _, ok := fs.objects[StagingKey(post.Key, post.ID)]; ok {
		t.Fatal("staged object left after promotion")
	}
	// A late post of the completed session's form writes the staging
	// key; it stays until the form expires, then goes.
	fs.putObject(StagingKey(post.Key, post.ID), 5, "text/plain")
	res, err = svc.PromoteStaged(ctx)
	if err != nil || res.Seen != 2 || res.Waiting != 2 {
		t.Fatalf("pass after a late post: %+v %v", res, err)
	}
	if o := fs.objects[post.Key]; o.Size != 11 {
		t.Fatalf("the late post changed the object: %+v", o)
	}
	// Both forms expired: the completed one's late object is removed, the
	// unused one's entry goes (the janitor ends that session).
	svc.now = func() time.Time { return time.Now().Add(time.Hour) }
	res, err = svc.PromoteStaged(ctx)
	if err != nil || res.Seen != 2 || res.Forgotten != 2 {
		t.Fatalf("pass after the forms expired: %+v %v", res, err)
	}
	if _, ok := fs.objects[StagingKey(post.Key, post.ID)]; ok {
		t.Fatal("the late post's staged object was not removed")
	}
	if res, _ = svc.PromoteStaged(ctx); res.Seen != 0 {
		t.Fatalf("index not emptied: %+v", res)
	}
	_ = idle
}

// TestCompleteOpenOneSmallPart: Uppy may send a small file as a multipart
// upload of one part under 5 MiB; it completes.
func TestCompleteOpenOneSmallPart(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	uid := fs.uploadIDOf(up.Key)
	e1 := fs.putPart(uid, 1, 2048)
	done, err := completeList(ctx, svc, "alice", up.ID, []CompletePart{{PartNumber: 1, ETag: e1}})
	if err != nil || done.Size != 2048 || done.State != "completed" {
		t.Fatalf("%+v %v", done, err)
	}
}

// TestOpenEndedSessionNeverShowsANegativeSize: a session whose size is
// not known yet reports 0, never a sentinel, in its status and in the
// event the janitor sends when it expires; its quota is the profile's.
func TestOpenEndedSessionNeverShowsANegativeSize(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	ctx := t.Context()
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.sessions.Get(ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Kind != multipart.OpenEnded || sess.Size != 0 {
		t.Fatalf("stored session: kind %v, size %d; want open-ended, 0", sess.Kind, sess.Size)
	}
	if got := svc.quotaBytes(sess); got != 5*multipart.GiB {
		t.Errorf("quota of an open-ended session = %d, want max_size", got)
	}
	st, err := svc.Status(ctx, "alice", up.ID, false)
	if err != nil || st.Size != 0 || st.PartCount != 0 {
		t.Fatalf("status = %+v, %v; want size 0, no plan", st, err)
	}
	e.clk.add(2 * time.Hour)
	if res, err := svc.ExpireDue(ctx, JanitorConfig{}); err != nil || res.Expired != 1 {
		t.Fatalf("janitor tick = %+v, %v; want one expired", res, err)
	}
	evs := e.sink.ofType(EventExpired)
	if len(evs) != 1 || evs[0].Upload.Size != 0 {
		t.Fatalf("upload.expired events = %+v, want one of size 0", evs)
	}
}

// completeList is a complete with the client's part list, as Companion's
// complete route sends it.
func completeList(ctx context.Context, svc *Service, subject, id string, parts []CompletePart) (*CompleteResult, error) {
	return svc.Complete(ctx, subject, id, CompleteRequest{Parts: parts})
}

// abortErr is Abort's error.
func abortErr(ctx context.Context, svc *Service, subject, id string) error {
	_, err := svc.Abort(ctx, subject, id)
	return err
}
