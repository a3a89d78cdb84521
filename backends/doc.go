// Package backends is Chute's port to object stores and its S3-compatible
// adapter on minio-go. Errors from the store are translated here, at the
// edge, into the package's own error values, so callers never see a
// minio-go type.
//
// S3 is the adapter: multipart uploads (create, list parts, complete,
// abort, list incomplete uploads), presigned PUT, part and GET URLs, and
// object stat and removal, on one bucket. Presigning does no I/O. Every
// call that reaches the store is bounded by Config.Timeout. Error
// messages name the operation, the S3 error code and the HTTP status;
// they never hold a URL query string, a presigned URL or a credential.
// The package storetest holds the conformance suite every store Chute
// supports must pass.
//
// Permissions the credentials need on the bucket: s3:PutObject,
// s3:GetObject, s3:DeleteObject, s3:AbortMultipartUpload,
// s3:ListMultipartUploadParts, s3:ListBucketMultipartUploads and
// s3:ListBucket (for Ping's HEAD bucket); s3:CreateBucket only for
// EnsureBucket (development and tests).
//
// Caveats:
//   - Presigned URLs sign the Host. When clients reach the store under
//     another name than Chute does (containers, proxies), set
//     PublicEndpoint: URLs are then signed for it, while Chute's own calls
//     still go to Endpoint.
//   - PathStyle false means virtual-host addressing (bucket.host), which
//     needs DNS for the bucket name; local and self-hosted stores usually
//     need PathStyle true.
//   - Browsers uploading parts must be able to read the ETag response
//     header: the bucket's CORS rules must expose it.
//   - Stores keep the parts of an abandoned upload until it is aborted;
//     give the bucket a lifecycle rule that aborts incomplete multipart
//     uploads after a day or so.
//   - Checksums follow AWS: CreateMultipart names the algorithm
//     (ObjectOptions.Checksum, x-amz-checksum-algorithm), PresignPart
//     signs each part's value, ListParts returns them where the store
//     lists them (not SeaweedFS), and CompleteMultipart repeats them
//     (CompleteOptions.Checksum.Algorithm must name the algorithm) with
//     the whole object's value when given. Which store checks what is
//     in the provider presets and docs/compatibility.md; the storetest
//     suite measures it.
//   - Metadata keys and values travel as x-amz-meta-* headers: keys are
//     HTTP token characters, values printable ASCII; Stat returns the
//     keys in lower case.
package backends

import (
	"time"

	"github.com/chute-dev/chute/broker"
)

// The store port's types and errors belong to the broker (package
// broker declares the ObjectStore interface it needs); these aliases keep
// the adapter's own spelling.
type (
	PresignedRequest = broker.PresignedRequest
	GetOptions       = broker.GetOptions
	ObjectOptions    = broker.ObjectOptions
	PartOptions      = broker.PartOptions
	CompleteOptions  = broker.CompleteOptions
	CopyOptions      = broker.CopyOptions
	ObjectInfo       = broker.ObjectInfo
	PresignedPost    = broker.PresignedPost
	PostOptions      = broker.PostOptions
)

// Errors returned by a store, whatever the provider calls them (the
// broker's, see broker.ErrNotFound and its siblings).
var (
	ErrNotFound     = broker.ErrNotFound
	ErrInvalidPart  = broker.ErrInvalidPart
	ErrUnavailable  = broker.ErrUnavailable
	ErrAccessDenied = broker.ErrAccessDenied
	ErrPrecondition = broker.ErrPrecondition
	ErrBadDigest    = broker.ErrBadDigest
	ErrNotSupported = broker.ErrNotSupported
)

// Config is one named backend, as in the `backends` section of the config.
type Config struct {
	Name string
	// Provider names the store's preset (see LookupPreset): "" or
	// "generic", "aws", "r2", ... It decides PostPolicy; the region and
	// path-style defaults of a preset are applied by the caller
	// (ApplyPreset), since only it knows which values were set.
	Provider string
	// Endpoint is the URL Chute reaches the store at, e.g. http://127.0.0.1:7070.
	Endpoint string
	// PublicEndpoint, when set, is the URL clients reach the store at; it
	// goes into presigned URLs.
	PublicEndpoint string
	Region         string
	Bucket         string
	AccessKey      string
	SecretKey      string
	PathStyle      bool
	// Timeout bounds each store call (default 30s) but
	// CompleteMultipartUpload.
	Timeout time.Duration
	// CompleteTimeout bounds CompleteMultipartUpload (default
	// DefaultCompleteTimeout).
	CompleteTimeout time.Duration
}
