package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// benchService returns a Service whose backend is the real S3 adapter
// (presigning needs no network, so its endpoint is never contacted) and
// whose sessions live in miniredis, plus the id of an open multipart
// session of 10,000 parts owned by alice, written straight to the store.
func benchService(b *testing.B) (*broker.Service, string) {
	b.Helper()
	mr := miniredis.RunT(b)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	b.Cleanup(func() { _ = rc.Close() })
	s3, err := backends.NewS3(backends.Config{Name: "main", Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		Bucket: "uploads", AccessKey: "AKIDBENCH", SecretKey: "bench-secret", PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	store := sessions.NewRedisStore(rc)
	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: 100 * multipart.GiB,
			PartSize: 5 * multipart.MiB, SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"*/*"},
			URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{id}{ext}"}},
		Backends: map[string]broker.ObjectStore{"main": s3},
		Sessions: store,
		TTL:      time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	id := broker.NewID()
	err = store.Create(context.Background(), &sessions.Session{
		ID: id, Subject: "alice", Profile: "default", Backend: "main", Key: "alice/" + id + ".bin",
		UploadID: "bench-upload-id", Strategy: sessions.StrategyMultipart, State: sessions.StatePending,
		Filename: "f.bin", ContentType: "application/octet-stream", Size: 10000 * 5 * multipart.MiB,
		PartSize: 5 * multipart.MiB, PartCount: 10000, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc, id
}

// BenchmarkPartURLs1 is one part-urls call for one part: session load
// from (mini)Redis plus one real SigV4 presign.
func BenchmarkPartURLs1(b *testing.B) {
	svc, id := benchService(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := svc.PartURLs(ctx, "alice", id, broker.PartURLsRequest{PartNumbers: []int{i%10000 + 1}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPartURLs1000 is one part-urls call for the largest batch the
// API allows (broker.MaxBatch): one session load, 1,000 presigned URLs.
func BenchmarkPartURLs1000(b *testing.B) {
	svc, id := benchService(b)
	ctx := context.Background()
	nums := make([]int, broker.MaxBatch)
	for i := range nums {
		nums[i] = i + 1
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := svc.PartURLs(ctx, "alice", id, broker.PartURLsRequest{PartNumbers: nums})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Parts) != broker.MaxBatch {
			b.Fatalf("%d parts", len(res.Parts))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*broker.MaxBatch), "ns/url")
}
