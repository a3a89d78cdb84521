package broker

import (
	"context"
	"io"
	"time"

	"github.com/chute-dev/chute/checksum"
)

// Optional store abilities, one small interface each. A backend's are
// resolved once, at wiring, into a Capabilities value; the use cases ask
// that value, never the store's dynamic type, so a decorator (metrics)
// cannot hide an ability by wrapping the store.

// HeadReader reads the first bytes of an object (content sniffing).
type HeadReader interface {
	ReadHead(ctx context.Context, key string, n int64) ([]byte, error)
}

// ObjectReader streams a whole object (read-back checksums).
type ObjectReader interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Copier copies an object inside the store (server side), e.g. a staged
// single upload into its final key.
type Copier interface {
	Copy(ctx context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error)
}

// CopyOptions tune a Copy.
type CopyOptions struct {
	// ContentType and Metadata replace the source's on the copy.
	ContentType string
	Metadata    map[string]string
	// IfNoneMatch refuses to replace an existing object at dst
	// (ErrPrecondition), where the store supports it.
	IfNoneMatch bool
	// Checksum asks the store to compute and keep this algorithm's
	// checksum for the copy (x-amz-checksum-algorithm).
	Checksum checksum.Algorithm
}

// PostPresigner signs browser POST policy uploads.
type PostPresigner interface {
	PresignPost(ctx context.Context, key string, opts PostOptions, ttl time.Duration) (PresignedPost, error)
}

// PresignedPost is a browser-style POST policy upload: a
// multipart/form-data POST to URL with every entry of Fields as a form
// field, and the file last, in a field named "file".
type PresignedPost struct {
	URL       string
	Fields    map[string]string
	ExpiresAt time.Time
}

// PostOptions bound a POST policy upload.
type PostOptions struct {
	// ContentType is the exact Content-Type the form must carry
	// (application/octet-stream when empty).
	ContentType string
	// Metadata becomes x-amz-meta-* fields, each bound by the policy.
	Metadata map[string]string
	// MinSize and MaxSize bound the file's length (content-length-range).
	MinSize, MaxSize int64
}

// UnsizedPartPresigner signs part URLs without a Content-Length (uploads
// of unknown size, the Companion routes).
type UnsizedPartPresigner interface {
	PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (PresignedRequest, error)
}

// ChecksumSupport tells what a store verifies of each checksum
// algorithm.
type ChecksumSupport struct {
	// Parts lists the algorithms whose part checksums the store checks
	// against the bytes (a signed x-amz-checksum-* on a part PUT).
	Parts []checksum.Algorithm
	// FullObject lists the algorithms for which the store computes and
	// keeps a FULL_OBJECT checksum of a multipart object and checks one
	// given at complete.
	FullObject []checksum.Algorithm
	// ListsParts: ListParts returns each part's checksum
	// (multipart.Part.Checksum) for an upload created with an algorithm.
	// Where false (SeaweedFS), a complete that needs the part checksums
	// (COMPOSITE) must send the ones signed into the part URLs.
	ListsParts bool
}

// VerifiesParts reports whether the store checks part checksums of a.
func (c ChecksumSupport) VerifiesParts(a checksum.Algorithm) bool { return hasAlg(c.Parts, a) }

// KeepsFullObject reports whether the store keeps a FULL_OBJECT checksum
// of a for multipart objects.
func (c ChecksumSupport) KeepsFullObject(a checksum.Algorithm) bool {
	return hasAlg(c.FullObject, a)
}

func hasAlg(as []checksum.Algorithm, a checksum.Algorithm) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

// Capabilities are one backend's optional abilities, resolved once. A
// nil interface or a false flag means the store lacks the ability.
type Capabilities struct {
	Heads        HeadReader
	Reader       ObjectReader
	Copier       Copier
	Post         PostPresigner
	UnsizedParts UnsizedPartPresigner
	// PostPolicy is false for stores known to refuse POST policy uploads
	// even when a PostPresigner is present (R2, B2).
	PostPolicy bool
	// Checksums is what the store verifies.
	Checksums ChecksumSupport
	// ConditionalWrites: the store honours If-None-Match: * on
	// CompleteMultipartUpload (and PutObject).
	ConditionalWrites bool
	// ConditionalCopy: the store honours If-None-Match: * on CopyObject
	// (CopyOptions.IfNoneMatch); where false, a Copy may replace dst.
	ConditionalCopy bool
	// Bucket names the bucket, for the Companion answers.
	Bucket string
}

// Describer is implemented by stores that describe their own abilities
// (backends.S3, from its provider preset and what it probed).
type Describer interface {
	Capabilities() Capabilities
}

// ResolveCapabilities returns the abilities of store: its own description
// when it is a Describer, else what its methods show. Call it on the
// undecorated store, at wiring.
func ResolveCapabilities(store ObjectStore) Capabilities {
	if d, ok := store.(Describer); ok {
		return d.Capabilities()
	}
	var c Capabilities
	c.Heads, _ = store.(HeadReader)
	c.Reader, _ = store.(ObjectReader)
	c.Copier, _ = store.(Copier)
	c.Post, _ = store.(PostPresigner)
	c.UnsizedParts, _ = store.(UnsizedPartPresigner)
	c.PostPolicy = c.Post != nil
	if b, ok := store.(interface{ Bucket() string }); ok {
		c.Bucket = b.Bucket()
	}
	return c
}
