package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestUploadRejected: a complete the verify hook rejects ends Upload with
// the application's reason, at once (no retry).
func TestUploadRejected(t *testing.T) {
	f := newFake(t, 1000, 5000)
	c := newTestClient(f)
	calls := 0
	f.completeResp = func(w http.ResponseWriter) bool {
		calls++
		jsonErr(w, 422, "rejected", "video is 12 minutes long; at most 10 allowed")
		return true
	}
	data := randBytes(t, 1200)
	_, err := c.Upload(context.Background(), strings.NewReader(string(data)), int64(len(data)), UploadOptions{Filename: "clip.mp4", ContentType: "video/mp4"})
	reason, ok := Rejected(err)
	if !ok || reason != "video is 12 minutes long; at most 10 allowed" {
		t.Fatalf("Rejected(%v) = %q, %v", err, reason, ok)
	}
	if err.Error() != "chute: upload rejected: video is 12 minutes long; at most 10 allowed" {
		t.Fatalf("error text %q", err.Error())
	}
	if calls != 1 {
		t.Fatalf("complete called %d times, want 1 (a rejection is final)", calls)
	}
	if _, ok := Rejected(errors.New("other")); ok {
		t.Fatal("Rejected of another error")
	}
	if _, ok := Rejected(&APIError{Status: 422, Code: "incomplete", Message: "x"}); ok {
		t.Fatal("Rejected of incomplete")
	}
}

// TestUploadVerifyUnavailable: a 503 from a hook that gives no verdict is
// retried, and the retried complete succeeds.
func TestUploadVerifyUnavailable(t *testing.T) {
	f := newFake(t, 1000, 5000)
	c := newTestClient(f)
	calls := 0
	f.completeResp = func(w http.ResponseWriter) bool {
		calls++
		if calls < 3 {
			jsonErr(w, 503, "storage_unavailable", "the upload could not be verified: the application's verify hook did not give a verdict; retry the complete")
			return true
		}
		return false
	}
	data := randBytes(t, 1200)
	res, err := c.Upload(context.Background(), strings.NewReader(string(data)), int64(len(data)), UploadOptions{Filename: "clip.mp4"})
	if err != nil || res.ID != "upl_1" || calls != 3 {
		t.Fatalf("upload: %+v %v after %d completes", res, err, calls)
	}
}

// TestResumeRejected: resuming a rejected session says why it was
// rejected instead of uploading again.
func TestResumeRejected(t *testing.T) {
	f := newFake(t, 1000, 5000)
	c := newTestClient(f)
	data := randBytes(t, 1200)
	if _, err := c.Create(context.Background(), CreateRequest{Filename: "clip.mp4", ContentType: "video/mp4", Size: new(int64(len(data)))}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.state, f.reason = "rejected", "too long"
	f.mu.Unlock()
	_, err := c.Upload(context.Background(), strings.NewReader(string(data)), int64(len(data)), UploadOptions{ResumeID: "upl_1"})
	if reason, ok := Rejected(err); !ok || reason != "too long" {
		t.Fatalf("resume of a rejected session: %v", err)
	}
	if f.putsOf(0)+f.putsOf(1) != 0 {
		t.Fatal("resuming a rejected session sent bytes")
	}
}
