package broker

import (
	"context"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/multipart"
)

// ObjectStore is what the broker needs from an object store. The S3
// adapter in package backends implements it; errors are the backends
// package's (backends.ErrNotFound, backends.ErrUnavailable, ...).
type ObjectStore interface {
	CreateMultipart(ctx context.Context, key string, opts backends.ObjectOptions) (uploadID string, err error)
	PresignPart(ctx context.Context, key, uploadID string, partNumber int, size int64, checksumSHA256 string, ttl time.Duration) (backends.PresignedRequest, error)
	PresignPut(ctx context.Context, key string, size int64, opts backends.ObjectOptions, ttl time.Duration) (backends.PresignedRequest, error)
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (backends.PresignedRequest, error)
	ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part) (etag string, err error)
	AbortMultipart(ctx context.Context, key, uploadID string) error
	Stat(ctx context.Context, key string) (backends.ObjectInfo, error)
	Remove(ctx context.Context, key string) error
	Ping(ctx context.Context) error
}
