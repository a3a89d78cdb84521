package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// newPolicyService is a Service with a cap of 2 open sessions and a
// profile "private" for alice only, with a minimum size and small metadata.
func newPolicyService(t *testing.T) (*Service, *fakeStore, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	fs := newFakeStore()
	base := Profile{Backend: "main", MaxSize: 5 * multipart.GiB, PartSize: 5 * multipart.MiB,
		SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"*/*"}, URLTTL: 15 * time.Minute,
		KeyTemplate: "{subject}/{id}{ext}"}
	def, priv := base, base
	def.Name = "default"
	priv.Name, priv.Subjects, priv.MinSize, priv.MaxMetadataBytes = "private", []string{"alice"}, 100, 10
	svc, err := New(Config{
		Profiles:        map[string]Profile{"default": def, "private": priv},
		Backends:        map[string]ObjectStore{"main": fs},
		Sessions:        sessions.NewRedisStore(rc),
		TTL:             time.Hour,
		MaxOpenSessions: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs, mr
}

func sizeOf(n int64) *int64 { return &n }

func wantPolicyCode(t *testing.T, err error, code Code, msg string) {
	t.Helper()
	if ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if msg != "" && !strings.Contains(ErrorMessage(err), msg) {
		t.Fatalf("message %q lacks %q", ErrorMessage(err), msg)
	}
}

func TestOpenSessionCap(t *testing.T) {
	svc, fs, mr := newPolicyService(t)
	ctx := context.Background()
	req := CreateRequest{Filename: "a.bin", ContentType: "application/octet-stream", Size: sizeOf(10)}
	a, err := svc.Create(ctx, "bob", req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Create(ctx, "bob", CreateRequest{Filename: "b.bin", ContentType: "application/octet-stream", Size: sizeOf(20 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}
	uploads := len(fs.uploads)
	_, err = svc.Create(ctx, "bob", req)
	wantPolicyCode(t, err, CodeRateLimited, "too many open uploads")
	if len(fs.uploads) != uploads {
		t.Errorf("a refused create left a multipart upload in the store")
	}
	// The Uppy-compatible creates count against the same cap.
	_, err = svc.CreateOpen(ctx, "bob", OpenRequest{Filename: "c.bin", ContentType: "application/octet-stream"})
	wantPolicyCode(t, err, CodeRateLimited, "too many open uploads")
	// Another subject has its own cap.
	if _, err := svc.Create(ctx, "carol", req); err != nil {
		t.Fatalf("carol: %v", err)
	}

	// Abort frees a slot.
	if _, err := svc.Abort(ctx, "bob", b.ID); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Create(ctx, "bob", req)
	if err != nil {
		t.Fatalf("after abort: %v", err)
	}
	// So does a complete.
	fs.putObject(a.Key, 10, "application/octet-stream")
	if _, err := svc.Complete(ctx, "bob", a.ID, CompleteRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "bob", req); err != nil {
		t.Fatalf("after complete: %v", err)
	}
	_, err = svc.Create(ctx, "bob", req)
	wantPolicyCode(t, err, CodeRateLimited, "")
	members, err := mr.ZMembers("chute:open:{bob}")
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 || !strings.Contains(strings.Join(members, " "), c.ID) {
		t.Errorf("open set of bob = %v, want 2 ids including %s", members, c.ID)
	}
}

func TestOpenSessionCapReleasedOnFailedCreate(t *testing.T) {
	svc, fs, mr := newPolicyService(t)
	ctx := context.Background()
	fs.fail = ErrUnavailable
	_, err := svc.Create(ctx, "bob", CreateRequest{Filename: "a.bin", ContentType: "text/plain", Size: sizeOf(10)})
	if err == nil {
		t.Fatal("create with a failing store succeeded")
	}
	if mr.Exists("chute:open:{bob}") {
		if m, _ := mr.ZMembers("chute:open:{bob}"); len(m) > 0 {
			t.Errorf("failed create kept its slot: %v", m)
		}
	}
}

func TestProfileSubjectsMinSizeMetadata(t *testing.T) {
	svc, _, _ := newPolicyService(t)
	ctx := context.Background()
	req := CreateRequest{Filename: "a.bin", ContentType: "text/plain", Size: sizeOf(1000), Profile: "private"}
	_, err := svc.Create(ctx, "bob", req)
	wantPolicyCode(t, err, CodeForbidden, `profile "private" is not allowed`)
	_, err = svc.CreateOpen(ctx, "bob", OpenRequest{Filename: "a.bin", ContentType: "text/plain", Profile: "private"})
	wantPolicyCode(t, err, CodeForbidden, "")
	_, err = svc.SignPost(ctx, "bob", OpenRequest{Filename: "a.bin", ContentType: "text/plain", Profile: "private"})
	wantPolicyCode(t, err, CodeForbidden, "")
	if _, err := svc.Create(ctx, "alice", req); err != nil {
		t.Fatalf("alice: %v", err)
	}

	small := req
	small.Size = sizeOf(99)
	_, err = svc.Create(ctx, "alice", small)
	wantPolicyCode(t, err, CodeInvalidRequest, "under the profile's minimum of 100")

	md := req
	md.Metadata = map[string]string{"title": "0123456789"}
	_, err = svc.Create(ctx, "alice", md)
	wantPolicyCode(t, err, CodeInvalidRequest, "metadata: at most 10 bytes")
	_, err = svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "text/plain", Profile: "private", Metadata: md.Metadata})
	wantPolicyCode(t, err, CodeInvalidRequest, "metadata: at most 10 bytes")
	// The default profile keeps the S3 bound.
	md.Profile = ""
	if _, err := svc.Create(ctx, "bob", md); err != nil {
		t.Fatalf("default profile with 15 bytes of metadata: %v", err)
	}
}
