package broker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

func newNoPostService(t *testing.T) (*Service, *fakeStore) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	fs := newFakeStore()
	svc, err := New(Config{
		Profiles: map[string]Profile{
			"default": {Name: "default", Backend: "main", MaxSize: 10 * multipart.MiB, PartSize: 5 * multipart.MiB,
				SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"text/plain"}, MinSize: 2,
				URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{id}{ext}"},
		},
		Backends: map[string]ObjectStore{"main": fs},
		// A store without POST policy uploads (as R2 and B2 are).
		Capabilities: map[string]Capabilities{"main": {Copier: fs, PostPolicy: false}},
		Sessions:     sessions.NewRedisStore(rc),
		TTL:          time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs
}

func TestSignPostWithoutPostPolicy(t *testing.T) {
	svc, fs := newNoPostService(t)
	ctx := context.Background()
	size := func(n int64) *int64 { return &n }

	// No size: nothing would bound a PUT, so a clear refusal.
	_, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain"})
	wantCode(t, err, CodeInvalidRequest)
	if e, ok := err.(*Error); !ok || !contains(e.Message, "does not take POST policy uploads") {
		t.Errorf("message %v does not say why", err)
	}
	_, err = svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain", Size: size(11 * multipart.MiB)})
	wantCode(t, err, CodeTooLarge)
	_, err = svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain", Size: size(1)})
	wantCode(t, err, CodeInvalidRequest) // under min_size
	_, err = svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.exe", ContentType: "application/x-msdownload", Size: size(5)})
	wantCode(t, err, CodeUnsupportedType)

	put, err := svc.SignPost(ctx, "alice", OpenRequest{Filename: "a.txt", ContentType: "text/plain", Size: size(11)})
	if err != nil {
		t.Fatal(err)
	}
	if put.Method != "PUT" || len(put.Fields) != 0 || put.Headers["Content-Length"] != strconv.Itoa(11) || put.URL == "" {
		t.Fatalf("answer %+v, want a PUT with Content-Length 11 signed", put)
	}
	// The session is sized: complete checks the object against it.
	fs.putObject(StagingKey(put.Key, put.ID), 12, "text/plain")
	_, err = svc.Complete(ctx, "alice", put.ID, CompleteRequest{})
	if err == nil {
		t.Fatal("complete accepted an object of the wrong size")
	}
	put, err = svc.SignPost(ctx, "alice", OpenRequest{Filename: "b.txt", ContentType: "text/plain", Size: size(11)})
	if err != nil {
		t.Fatal(err)
	}
	fs.putObject(StagingKey(put.Key, put.ID), 11, "text/plain")
	done, err := svc.Complete(ctx, "alice", put.ID, CompleteRequest{})
	if err != nil || done.Size != 11 || done.State != "completed" {
		t.Fatalf("%+v %v", done, err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
