package multipart

import (
	"fmt"
	"strconv"
)

// Kind says what an upload's plan knows of the object's size.
type Kind uint8

const (
	// Sized is an upload whose size was told when it was created: its
	// split is a Plan (NewPlan), or one PUT for a single upload. It is the
	// zero Kind.
	Sized Kind = iota
	// OpenEnded is an upload whose size is learned only when it completes,
	// from the parts the store holds (the Uppy/Companion protocol never
	// tells it up front). Until then its only plan is an OpenPlan, which
	// bounds the part numbers; Resolve turns it into a Plan.
	OpenEnded
)

// String returns "sized" or "open-ended".
func (k Kind) String() string {
	switch k {
	case Sized:
		return "sized"
	case OpenEnded:
		return "open-ended"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// OpenPlan is the plan of a multipart upload whose size is not known yet
// (Kind OpenEnded). All it knows is the most the object may hold, Limit;
// since every part but the last holds at least MinPartSize bytes, that
// bounds the part numbers (MaxParts). The part sizes are checked by
// Resolve, once the store lists the parts.
//
// Make it with NewOpenPlan; the zero OpenPlan has no parts.
type OpenPlan struct {
	// Limit is the largest object size allowed, 1..MaxObjectSize.
	Limit int64
}

// NewOpenPlan returns the open-ended plan of an object of at most limit
// bytes. It returns an error wrapping ErrInvalidSize when limit is below 1
// and one wrapping ErrTooLarge when limit is over MaxObjectSize.
func NewOpenPlan(limit int64) (OpenPlan, error) {
	if limit < 1 {
		return OpenPlan{}, fmt.Errorf("%w: size limit %d, must be at least 1 byte", ErrInvalidSize, limit)
	}
	if limit > MaxObjectSize {
		return OpenPlan{}, fmt.Errorf("%w: size limit %d is over %d bytes (5 TiB)", ErrTooLarge, limit, MaxObjectSize)
	}
	return OpenPlan{Limit: limit}, nil
}

// MaxParts returns the most parts an object of at most Limit bytes can be
// cut into: Limit/MinPartSize full parts and a shorter last one, at most
// MaxParts; 0 for an OpenPlan not made by NewOpenPlan.
func (o OpenPlan) MaxParts() int {
	if o.Limit < 1 || o.Limit > MaxObjectSize {
		return 0
	}
	return int(min(int64(MaxParts), o.Limit/MinPartSize+1))
}

// Valid reports whether n may be a part number of the upload (1..MaxParts()).
func (o OpenPlan) Valid(n int) bool {
	return n >= 1 && n <= o.MaxParts()
}

// Resolve derives the Plan of the upload from the parts the store holds
// (its ListParts), once the client says the upload has n parts: parts
// 1..n must all be stored, all of one size but for a last part of 1 to
// that many bytes (how Uppy, and every Plan, cuts a file), the parts but
// the last at least MinPartSize bytes when there are several, and n a
// valid part number. Stored parts above n are left for Check to report.
//
// The returned Plan holds the object's size, which Resolve does not
// compare with Limit: the caller decides what an object over its limit
// means (Chute aborts the upload). Resolve returns an *IncompleteError
// (wrapping ErrIncomplete) listing the missing parts, or an error wrapping
// ErrIncomplete that names the first misshapen part, or one wrapping
// ErrInvalidPlan when n is not a valid part number.
func (o OpenPlan) Resolve(stored []Part, n int) (Plan, error) {
	if !o.Valid(n) {
		return Plan{}, fmt.Errorf("%w: %d parts, want 1..%d", ErrInvalidPlan, n, o.MaxParts())
	}
	sizes := make(map[int]int64, len(stored))
	for _, p := range stored {
		sizes[p.Number] = p.Size
	}
	var missing []int
	for i := 1; i <= n; i++ {
		if _, ok := sizes[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return Plan{}, &IncompleteError{Missing: missing}
	}
	partSize := sizes[1]
	if partSize <= 0 {
		return Plan{}, &ShapeError{Part: 1, Size: partSize}
	}
	var total int64
	for i := 1; i <= n; i++ {
		sz := sizes[i]
		if (i < n && sz != partSize) || (i == n && (sz <= 0 || sz > partSize)) {
			return Plan{}, &ShapeError{Part: i, Size: sz, PartSize: partSize}
		}
		total += sz
	}
	if n > 1 && partSize < MinPartSize {
		return Plan{}, &ShapeError{Part: 1, Size: partSize, PartSize: partSize, Small: true}
	}
	if partSize > MaxPartSize {
		return Plan{}, &ShapeError{Part: 1, Size: partSize, PartSize: partSize, Large: true}
	}
	return Plan{Size: total, PartSize: partSize, PartCount: n}, nil
}

// ShapeError is a stored part that does not fit the shape of a Plan: an
// empty first part, a part of another size than the first (or a last one
// larger), or parts smaller than MinPartSize (or larger than MaxPartSize).
// It unwraps to ErrIncomplete.
type ShapeError struct {
	Part     int   // the part number
	Size     int64 // its stored size
	PartSize int64 // the size of part 1 (0 when part 1 is empty)
	Small    bool  // several parts under MinPartSize each
	Large    bool  // parts over MaxPartSize
}

// Error says which part is misshapen, e.g. "part 3 is 100 bytes: parts
// must all be 5242880 bytes but for a shorter last one".
func (e *ShapeError) Error() string {
	switch {
	case e.PartSize == 0:
		return fmt.Sprintf("part %d is empty", e.Part)
	case e.Small:
		return fmt.Sprintf("parts are %d bytes: every part but the last must hold at least %d bytes", e.PartSize, MinPartSize)
	case e.Large:
		return fmt.Sprintf("parts are %d bytes: a part may hold at most %d bytes", e.PartSize, MaxPartSize)
	}
	return fmt.Sprintf("part %d is %d bytes: parts must all be %d bytes but for a shorter last one", e.Part, e.Size, e.PartSize)
}

// Unwrap returns ErrIncomplete.
func (e *ShapeError) Unwrap() error { return ErrIncomplete }
