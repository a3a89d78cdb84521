package tracing_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// memStore is an in-memory object store for the unit tests: the test
// "uploads" a part with put, as a client's PUT to a presigned URL would.
type memStore struct {
	mu      sync.Mutex
	n       int
	uploads map[string][]multipart.Part // upload id → parts
	objects map[string]broker.ObjectInfo
}

func newMemStore() *memStore {
	return &memStore{uploads: map[string][]multipart.Part{}, objects: map[string]broker.ObjectInfo{}}
}

// presignSecret is in every URL the store signs: no span may carry it.
const presignSecret = "SIGNATURE-must-never-be-in-a-span"

func (m *memStore) url(key string, q string) string {
	return "http://store.test/bucket/" + key + "?" + q + "&X-Amz-Signature=" + presignSecret
}

func (m *memStore) CreateMultipart(_ context.Context, key string, opts broker.ObjectOptions) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	id := fmt.Sprintf("mpu-%d", m.n)
	m.uploads[id] = nil
	return id, nil
}

func (m *memStore) PresignPart(_ context.Context, key, uploadID string, n int, opts broker.PartOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	return broker.PresignedRequest{Method: "PUT", URL: m.url(key, fmt.Sprintf("uploadId=%s&partNumber=%d", uploadID, n)),
		Headers: map[string]string{"Content-Length": fmt.Sprint(opts.Size)}, ExpiresAt: time.Now().Add(ttl)}, nil
}

func (m *memStore) PresignPut(_ context.Context, key string, size int64, opts broker.ObjectOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	return broker.PresignedRequest{Method: "PUT", URL: m.url(key, "put"), ExpiresAt: time.Now().Add(ttl)}, nil
}

func (m *memStore) PresignGet(_ context.Context, key string, opts broker.GetOptions, ttl time.Duration) (broker.PresignedRequest, error) {
	return broker.PresignedRequest{Method: "GET", URL: m.url(key, "get"), ExpiresAt: time.Now().Add(ttl)}, nil
}

// put records part n of upload id as uploaded, and returns its ETag.
func (m *memStore) put(id string, n int, size int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := md5.Sum([]byte(fmt.Sprint(id, n, size)))
	etag := hex.EncodeToString(sum[:])
	m.uploads[id] = append(m.uploads[id], multipart.Part{Number: n, ETag: etag, Size: size})
	return etag
}

func (m *memStore) ListParts(_ context.Context, key, uploadID string) ([]multipart.Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps, ok := m.uploads[uploadID]
	if !ok {
		return nil, broker.ErrNotFound
	}
	return append([]multipart.Part(nil), ps...), nil
}

func (m *memStore) CompleteMultipart(_ context.Context, key, uploadID string, parts []multipart.Part, opts broker.CompleteOptions) (broker.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps, ok := m.uploads[uploadID]
	if !ok {
		return broker.ObjectInfo{}, broker.ErrNotFound
	}
	var size int64
	for _, p := range ps {
		size += p.Size
	}
	info := broker.ObjectInfo{Size: size, ETag: fmt.Sprintf("done-%d", len(ps)), ContentType: "video/mp4"}
	m.objects[key] = info
	delete(m.uploads, uploadID)
	return info, nil
}

func (m *memStore) AbortMultipart(_ context.Context, key, uploadID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.uploads, uploadID)
	return nil
}

func (m *memStore) Stat(_ context.Context, key string) (broker.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.objects[key]
	if !ok {
		return broker.ObjectInfo{}, broker.ErrNotFound
	}
	return info, nil
}

func (m *memStore) Remove(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func (m *memStore) Ping(context.Context) error { return nil }
