package broker

// The object-store port. The broker owns it: the interface and every type
// it speaks are declared here, and package backends implements them for
// S3-compatible stores (its ObjectOptions, PresignedRequest, ... are
// aliases of these). Optional store abilities are separate small
// interfaces, resolved once per backend into a Capabilities value
// (capabilities.go); the broker never asks a store's dynamic type.

import (
	"context"
	"errors"
	"time"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// ObjectStore is what the broker needs from every object store.
type ObjectStore interface {
	CreateMultipart(ctx context.Context, key string, opts ObjectOptions) (uploadID string, err error)
	PresignPart(ctx context.Context, key, uploadID string, partNumber int, opts PartOptions, ttl time.Duration) (PresignedRequest, error)
	PresignPut(ctx context.Context, key string, size int64, opts ObjectOptions, ttl time.Duration) (PresignedRequest, error)
	PresignGet(ctx context.Context, key string, opts GetOptions, ttl time.Duration) (PresignedRequest, error)
	ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part, opts CompleteOptions) (ObjectInfo, error)
	AbortMultipart(ctx context.Context, key, uploadID string) error
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	Remove(ctx context.Context, key string) error
	Ping(ctx context.Context) error
}

// PresignedRequest is a request a client may send straight to the store
// until ExpiresAt, with exactly these headers. Headers is read-only: a
// store may hand one map to many requests (the S3 adapter does, for the
// parts of one size), so copy it before changing it.
type PresignedRequest struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// GetOptions shape the response to a presigned GET (the store sends
// them because the URL asks for them: response-content-disposition,
// response-content-type).
type GetOptions struct {
	// Filename, when set, names the file in Content-Disposition (only its
	// last path element).
	Filename string
	// Attachment asks for Content-Disposition: attachment (the browser
	// saves the file) rather than inline (it may show it).
	Attachment bool
	// ContentType, when set, replaces the object's own type in the
	// response.
	ContentType string
}

// ObjectOptions are set on a new object (a single PUT, or a multipart
// upload at create).
type ObjectOptions struct {
	ContentType string
	// Metadata becomes x-amz-meta-* (keys without that prefix).
	Metadata map[string]string
	// Checksum, when set on a multipart create, is sent as
	// x-amz-checksum-algorithm, and ChecksumType (FULL_OBJECT or
	// COMPOSITE; empty for the algorithm's default) as
	// x-amz-checksum-type: the store then requires and keeps a checksum
	// of that algorithm for every part.
	Checksum     checksum.Algorithm
	ChecksumType checksum.Type
}

// PartOptions describe one presigned part PUT.
type PartOptions struct {
	// Size is signed in as Content-Length: the store refuses a body of
	// any other length.
	Size int64
	// Checksum, when its Value is set, is signed in as the algorithm's
	// x-amz-checksum-* header: the store refuses other bytes.
	Checksum checksum.Value
	// ContentType, when set, is signed in as Content-Type (the object's
	// type is fixed at create; signing it makes a single upload's URL
	// carry the same headers a plain PUT would).
	ContentType string
}

// CompleteOptions tune a CompleteMultipartUpload.
type CompleteOptions struct {
	// Checksum, when its Value is set, is the whole object's checksum
	// (FULL_OBJECT, or COMPOSITE "-N") sent with the complete, so the
	// store checks it; the parts then carry their own checksums
	// (multipart.Part.Checksum).
	Checksum checksum.Value
	// IfNoneMatch sends If-None-Match: *: the store refuses to replace an
	// existing object (ErrPrecondition).
	IfNoneMatch bool
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size        int64
	ETag        string // unquoted
	ContentType string
	Metadata    map[string]string
	// Checksum is the checksum the store keeps for the object, if any
	// (asked with x-amz-checksum-mode: ENABLED).
	Checksum checksum.Value
}

// Errors an ObjectStore returns, whatever the provider calls them. Test
// them with errors.Is.
var (
	// ErrNotFound: no such key, no such upload, no such part.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalidPart: the store refused a part list (InvalidPart,
	// InvalidPartOrder, EntityTooSmall).
	ErrInvalidPart = errors.New("store: invalid part")
	// ErrUnavailable: network errors, timeouts, 5xx, slow down.
	ErrUnavailable = errors.New("store unavailable")
	// ErrAccessDenied: credentials refused.
	ErrAccessDenied = errors.New("store: access denied")
	// ErrPrecondition: a conditional write found an object in the way
	// (PreconditionFailed, 412) or a concurrent conditional write
	// (ConditionalRequestConflict, 409).
	ErrPrecondition = errors.New("store: precondition failed")
	// ErrBadDigest: the bytes do not match a checksum the store was given
	// (BadDigest, InvalidDigest, XAmzContentChecksumMismatch).
	ErrBadDigest = errors.New("store: checksum mismatch")
	// ErrNotSupported: the store does not implement the operation
	// (NotImplemented, HTTP 501).
	ErrNotSupported = errors.New("store: not supported")
)
