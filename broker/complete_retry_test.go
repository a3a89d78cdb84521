package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chute-dev/chute/multipart"
)

// uploadAll creates a multipart session of size bytes and PUTs every part
// to the fake store, reporting none; it returns the session id, the
// upload id and the client's part list.
func uploadAll(t *testing.T, svc *Service, fs *fakeStore, size int64) (string, string, []CompletePart) {
	t.Helper()
	res := createMultipart(t, svc, size)
	var uploadID string
	for id := range fs.uploads {
		uploadID = id
	}
	plan, err := multipart.NewPlan(size, 5*multipart.MiB)
	if err != nil {
		t.Fatal(err)
	}
	var list []CompletePart
	for n := 1; n <= plan.PartCount; n++ {
		list = append(list, CompletePart{PartNumber: n, ETag: fs.putPart(uploadID, n, plan.PartSizeOf(n))})
	}
	return res.ID, uploadID, list
}

// A complete whose answer is lost (the store completed, Chute saw a
// timeout) reverts the session; the client's retry finds the upload gone
// from the store and the object there with the parts' ETag: completed.
func TestCompleteRetryAfterLostAnswer(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	id, _, list := uploadAll(t, svc, fs, 12*multipart.MiB)

	fs.lostComplete = fmt.Errorf("%w: timed out", ErrUnavailable)
	_, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	wantCode(t, err, CodeStorageUnavailable)
	st, err := svc.Status(ctx, "alice", id, false)
	if err != nil || st.State == "completed" {
		t.Fatalf("after a lost answer: %+v %v", st, err)
	}

	fs.lostComplete = nil
	done, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	if err != nil {
		t.Fatalf("retried complete: %v", err)
	}
	want, _ := multipart.ETag(toParts(list))
	if done.State != "completed" || done.Size != 12*multipart.MiB || done.ETag != want {
		t.Fatalf("retried complete: %+v, want etag %s", done, want)
	}
	if n := fs.completes.Load(); n != 1 {
		t.Fatalf("CompleteMultipartUpload ran %d times, want 1 (the retry must not complete again)", n)
	}
}

// The store client retried CompleteMultipartUpload itself: the first try
// completed, the second answers NoSuchUpload. That is success.
func TestCompleteNoSuchUploadButObjectThere(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	id, _, list := uploadAll(t, svc, fs, 11*multipart.MiB)
	fs.lostComplete = ErrNotFound
	done, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != "completed" || done.Size != 11*multipart.MiB {
		t.Fatalf("%+v", done)
	}
	// And a later complete answers the same.
	again, err := svc.Complete(ctx, "alice", id, CompleteRequest{})
	if err != nil || again.ETag != done.ETag {
		t.Fatalf("second complete: %+v %v", again, err)
	}
}

// An upload gone from the store with an object of the right size at its
// key, but one made from other parts, is not this upload: no completed.
func TestCompleteRetryWrongObjectETag(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	id, uploadID, list := uploadAll(t, svc, fs, 12*multipart.MiB)
	fs.lostComplete = fmt.Errorf("%w: connection reset", ErrUnavailable)
	_, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	wantCode(t, err, CodeStorageUnavailable)
	fs.lostComplete = nil

	// Someone else's multipart object of the same size replaces ours.
	fs.mu.Lock()
	for k, o := range fs.objects {
		o.ETag = strings.Repeat("ab", 16) + "-3"
		fs.objects[k] = o
	}
	fs.mu.Unlock()
	_, err = svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	wantCode(t, err, CodeIncomplete)
	if !strings.Contains(ErrorMessage(err), "not made from its parts") {
		t.Fatalf("message: %q", ErrorMessage(err))
	}
	st, _ := svc.Status(ctx, "alice", id, false)
	if st.State == "completed" {
		t.Fatal("a foreign object completed the session")
	}
	_ = uploadID
}

// With the store down, complete fails fast with storage_unavailable and
// the session stays open for a retry; once it is back, complete works.
func TestCompleteStoreDown(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	id, _, list := uploadAll(t, svc, fs, 11*multipart.MiB)
	fs.fail = fmt.Errorf("%w: connection refused", ErrUnavailable)
	_, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	wantCode(t, err, CodeStorageUnavailable)
	if strings.Contains(ErrorMessage(err), "refused") {
		t.Fatalf("the store's own words leak: %q", ErrorMessage(err))
	}
	fs.fail = nil
	done, err := svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list})
	if err != nil || done.State != "completed" {
		t.Fatalf("%+v %v", done, err)
	}
}

func toParts(list []CompletePart) []multipart.Part {
	out := make([]multipart.Part, len(list))
	for i, p := range list {
		out[i] = multipart.Part{Number: p.PartNumber, ETag: p.ETag}
	}
	return out
}
