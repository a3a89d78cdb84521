package multipart

import (
	"errors"
	"fmt"
)

// DefaultPartSize is the part size NewPlan uses when none is preferred.
const DefaultPartSize = 16 * MiB

// Errors returned by NewPlan and Check.
var (
	// ErrTooLarge means the object is larger than a multipart upload can
	// build (MaxObjectSize).
	ErrTooLarge = errors.New("multipart: object too large")
	// ErrInvalidSize means a size is out of range: an object size below
	// one byte or a negative part size.
	ErrInvalidSize = errors.New("multipart: invalid size")
	// ErrInvalidPlan means a Plan was not made by NewPlan (for example the
	// zero Plan) or has been altered so that its fields disagree.
	ErrInvalidPlan = errors.New("multipart: invalid plan")
)

// Plan is the split of one object into the parts of a multipart upload.
// Every part holds PartSize bytes except the last, which holds the rest
// (1..PartSize bytes). Stores such as Cloudflare R2 require this shape:
// all parts but the last of one equal size.
//
// A Plan is a plain value; make it with NewPlan.
type Plan struct {
	// Size is the object's size in bytes.
	Size int64
	// PartSize is the size of every part but the last.
	PartSize int64
	// PartCount is the number of parts, 1..MaxParts.
	PartCount int
}

// NewPlan returns the plan for an object of size bytes.
//
// preferredPartSize is the part size the caller would like; 0 means
// DefaultPartSize. It is clamped into [MinPartSize, MaxPartSize]. When that
// size would need more than MaxParts parts, the part size grows to the
// smallest multiple of MiB that fits the object into MaxParts parts.
//
// NewPlan returns an error wrapping ErrInvalidSize when size is below 1 or
// preferredPartSize is negative, and one wrapping ErrTooLarge when size is
// over MaxObjectSize.
func NewPlan(size, preferredPartSize int64) (Plan, error) {
	if size < 1 {
		return Plan{}, fmt.Errorf("%w: object size %d, must be at least 1 byte", ErrInvalidSize, size)
	}
	if preferredPartSize < 0 {
		return Plan{}, fmt.Errorf("%w: part size %d is negative", ErrInvalidSize, preferredPartSize)
	}
	if size > MaxObjectSize {
		return Plan{}, fmt.Errorf("%w: %d bytes is over the limit of %d bytes (5 TiB)", ErrTooLarge, size, MaxObjectSize)
	}

	partSize := preferredPartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	partSize = min(max(partSize, MinPartSize), MaxPartSize)

	if ceilDiv(size, partSize) > MaxParts {
		// The smallest part size that fits is ceil(size/MaxParts); round
		// it up to whole MiB. For size <= MaxObjectSize this is about
		// 525 MiB at most, well under MaxPartSize.
		partSize = min(ceilDiv(ceilDiv(size, MaxParts), MiB)*MiB, MaxPartSize)
	}

	return Plan{
		Size:      size,
		PartSize:  partSize,
		PartCount: int(ceilDiv(size, partSize)),
	}, nil
}

// Valid reports whether n is a part number of the plan (1..PartCount).
func (p Plan) Valid(n int) bool {
	return n >= 1 && n <= p.PartCount
}

// PartSizeOf returns the size in bytes of part n (1-based), or 0 when n is
// not a part number of the plan.
func (p Plan) PartSizeOf(n int) int64 {
	if !p.Valid(n) {
		return 0
	}
	if n < p.PartCount {
		return p.PartSize
	}
	return p.Size - int64(p.PartCount-1)*p.PartSize
}

// Offset returns the offset in the object of the first byte of part n
// (1-based), or -1 when n is not a part number of the plan.
func (p Plan) Offset(n int) int64 {
	if !p.Valid(n) {
		return -1
	}
	return int64(n-1) * p.PartSize
}

// validate returns an error wrapping ErrInvalidPlan unless p is shaped as
// NewPlan makes plans: sizes within S3's limits and a last part of
// 1..PartSize bytes.
func (p Plan) validate() error {
	switch {
	case p.Size < 1 || p.Size > MaxObjectSize:
		return fmt.Errorf("%w: size %d", ErrInvalidPlan, p.Size)
	case p.PartSize > MaxPartSize || (p.PartSize < MinPartSize && !(p.PartCount == 1 && p.PartSize == p.Size)):
		// A part under MinPartSize is allowed as the last one, so as the
		// only one too (an upload of one small part).
		return fmt.Errorf("%w: part size %d", ErrInvalidPlan, p.PartSize)
	case p.PartCount < 1 || p.PartCount > MaxParts:
		return fmt.Errorf("%w: part count %d", ErrInvalidPlan, p.PartCount)
	case int64(p.PartCount) != ceilDiv(p.Size, p.PartSize):
		return fmt.Errorf("%w: %d parts of %d bytes do not hold %d bytes", ErrInvalidPlan, p.PartCount, p.PartSize, p.Size)
	}
	return nil
}

// ceilDiv returns ceil(a/b) for a >= 0, b > 0.
func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}
