package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/client"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// memStore is an object store in memory: the test stores parts with put,
// as a client's PUTs to the presigned URLs would.
type memStore struct {
	downStore
	mu      sync.Mutex
	parts   map[string]map[int]multipart.Part // upload id → parts
	objects map[string]broker.ObjectInfo
	n       int
}

func (m *memStore) CreateMultipart(_ context.Context, _ string, _ broker.ObjectOptions) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	id := "mem-" + strconv.Itoa(m.n)
	m.parts[id] = map[int]multipart.Part{}
	return id, nil
}

func (m *memStore) presign(method, what string) broker.PresignedRequest {
	return broker.PresignedRequest{Method: method, URL: "http://127.0.0.1:1/store/" + what + "?X-Amz-Signature=x&a=b",
		Headers: map[string]string{"Content-Length": "1"}, ExpiresAt: time.Now().Add(time.Minute).UTC()}
}

func (m *memStore) PresignPart(_ context.Context, key, id string, n int, o broker.PartOptions, _ time.Duration) (broker.PresignedRequest, error) {
	r := m.presign("PUT", key+"/"+id+"/"+strconv.Itoa(n))
	r.Headers["Content-Length"] = strconv.FormatInt(o.Size, 10)
	return r, nil
}

func (m *memStore) PresignGet(_ context.Context, key string, _ broker.GetOptions, _ time.Duration) (broker.PresignedRequest, error) {
	return m.presign("GET", key), nil
}

func (m *memStore) put(id string, p multipart.Part) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.parts[id][p.Number] = p
}

func (m *memStore) ListParts(_ context.Context, _, id string) ([]multipart.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []multipart.Part
	for n := 1; n <= len(m.parts[id]); n++ {
		out = append(out, m.parts[id][n])
	}
	return out, nil
}

func (m *memStore) CompleteMultipart(_ context.Context, key, _ string, parts []multipart.Part, _ broker.CompleteOptions) (broker.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info := broker.ObjectInfo{ETag: "whole-2", ContentType: "video/mp4"}
	for _, p := range parts {
		info.Size += p.Size
	}
	m.objects[key] = info
	return info, nil
}

func (m *memStore) AbortMultipart(context.Context, string, string) error { return nil }

func (m *memStore) Stat(_ context.Context, key string) (broker.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if info, ok := m.objects[key]; ok {
		return info, nil
	}
	return broker.ObjectInfo{}, broker.ErrNotFound
}

func (m *memStore) Remove(context.Context, string) error { return nil }
func (m *memStore) Ping(context.Context) error           { return nil }

// TestClientRoundTrip drives the Go client's API calls against the real
// HTTP layer (strict bodies, the fast encoders) over loopback: both sides
// speak the types of package api, and every call must decode into them.
func TestClientRoundTrip(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	store := &memStore{parts: map[string]map[int]multipart.Part{}, objects: map[string]broker.ObjectInfo{}}
	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
			PartSize: 16 * multipart.MiB, SingleMax: 8 * multipart.MiB, AllowedTypes: []string{"*/*"},
			URLTTL: time.Minute, KeyTemplate: "{subject}/{id}{ext}"}},
		Backends: map[string]broker.ObjectStore{"main": store},
		Sessions: sessions.NewRedisStore(rc),
		TTL:      time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.NewJWT(auth.JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(svc, authn, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.App().Shutdown() })
	tok, _ := auth.SignHS256(secret, "alice", time.Hour, "", "")
	c := client.New("http://"+ln.Addr().String(), client.WithToken(tok))
	ctx := context.Background()

	const size = 20 * multipart.MiB
	u, err := c.Create(ctx, client.CreateRequest{Filename: "clip.mp4", ContentType: "video/mp4", Size: new(int64(size)),
		Metadata: map[string]string{"title": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Strategy != "multipart" || u.State != "pending" || u.Size != size || u.PartSize != 16*multipart.MiB || u.PartCount != 2 ||
		len(u.Parts) != 2 || u.Parts[1].PartNumber != 2 || u.Parts[1].Size != 4*multipart.MiB || u.Parts[0].URL == "" ||
		u.Parts[0].Headers["Content-Length"] != "16777216" || u.Parts[0].ExpiresAt.IsZero() || u.Upload != nil {
		t.Fatalf("create: %+v", u)
	}
	urls, err := c.PartURLs(ctx, u.ID, []int{2}, nil)
	if err != nil || len(urls) != 1 || urls[0].PartNumber != 2 || urls[0].Method != "PUT" || urls[0].Size != 4*multipart.MiB {
		t.Fatalf("part-urls: %+v, %v", urls, err)
	}
	id := "mem-1"
	for n, sz := range map[int]int64{1: 16 * multipart.MiB, 2: 4 * multipart.MiB} {
		store.put(id, multipart.Part{Number: n, ETag: "etag-" + strconv.Itoa(n), Size: sz})
	}
	st, err := c.ReportPart(ctx, u.ID, 1, `"etag-1"`, 16*multipart.MiB)
	if err != nil || st.State != "uploading" || len(st.Parts) != 1 || st.Parts[0].Number != 1 || st.Parts[0].ETag != "etag-1" ||
		st.UploadedBytes != 16*multipart.MiB || st.CreatedAt.IsZero() {
		t.Fatalf("report: %+v, %v", st, err)
	}
	if _, err := c.ReportPart(ctx, u.ID, 2, "etag-2", 4*multipart.MiB); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status(ctx, u.ID, false)
	if err != nil || len(st.Parts) != 2 || st.UploadedBytes != size || st.PartCount != 2 {
		t.Fatalf("status: %+v, %v", st, err)
	}
	done, err := c.Complete(ctx, u.ID, []client.CompletePart{{PartNumber: 1, ETag: "etag-1"}, {PartNumber: 2, ETag: "etag-2"}})
	if err != nil || done.State != "completed" || done.Size != size || done.ETag == "" || done.Download == nil || done.Download.URL == "" {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	dl, err := c.DownloadURL(ctx, u.ID)
	if err != nil || dl.URL == "" || dl.ExpiresAt.IsZero() {
		t.Fatalf("download-url: %+v, %v", dl, err)
	}
	// An error answer decodes into the client's APIError.
	var ae *client.APIError
	if _, err := c.Abort(ctx, u.ID); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "conflict" || ae.Message == "" {
		t.Fatalf("abort of a completed upload: %v", err)
	}
	if _, err := c.Status(ctx, "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa", false); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" {
		t.Fatalf("status of an unknown upload: %v", err)
	}
}
