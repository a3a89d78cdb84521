// Package multipart holds the pure mechanics of S3 multipart uploads that
// Chute relies on: the limits S3 imposes, the part plan for an object of a
// given size, ETag normalising, and the completion check that compares the
// store's own part list with the plan before CompleteMultipartUpload.
//
// Nothing here does I/O; every function is deterministic and safe for
// concurrent use.
package multipart

import "github.com/chute-dev/chute/api"

// Size units.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// Limits of the S3 multipart protocol, shared by every compatible store.
const (
	// MinPartSize is the smallest size of any part but the last.
	MinPartSize = 5 * MiB
	// MaxPartSize is the largest size of one part.
	MaxPartSize = 5 * GiB
	// MaxParts is the largest number of parts in one upload.
	MaxParts = 10000
	// MaxObjectSize is the largest object a multipart upload can build.
	MaxObjectSize = 5 * TiB
	// MaxSingleSize is the largest object one PUT can store.
	MaxSingleSize = 5 * GiB
)

// Part is one part of a multipart upload, as reported by a client or as
// listed by the store. It crosses the wire as it is (the parts of a
// status), so it is the wire type api.Part.
type Part = api.Part
