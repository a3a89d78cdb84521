// Package checksum names the whole-object and per-part checksums S3
// speaks (x-amz-checksum-*), computes them, and checks their encoded
// values. It is pure: no I/O, no store client. The broker, the store
// adapters and the clients all use it, so an algorithm means the same
// thing everywhere.
//
// Values are always the base64 (standard, padded) of the big-endian
// digest, as S3 sends them in headers.
package checksum

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"strings"

	"github.com/minio/crc64nvme"
)

// Algorithm is an S3 checksum algorithm, named as S3 names it.
type Algorithm string

// The algorithms S3 defines.
const (
	CRC64NVME Algorithm = "CRC64NVME"
	CRC32C    Algorithm = "CRC32C"
	CRC32     Algorithm = "CRC32"
	SHA256    Algorithm = "SHA256"
	SHA1      Algorithm = "SHA1"
)

// All lists the algorithms, in the order Chute prefers them.
var All = []Algorithm{CRC64NVME, CRC32C, CRC32, SHA256, SHA1}

// Type is how a multipart object's checksum is formed.
type Type string

const (
	// FullObject is the checksum of the whole object's bytes. Only the
	// CRCs have it for multipart objects (they combine from part CRCs).
	FullObject Type = "FULL_OBJECT"
	// Composite is the checksum of the concatenated part checksums,
	// shown with a "-N" suffix (N parts).
	Composite Type = "COMPOSITE"
)

// Parse returns the algorithm named s (case-insensitive), or an error
// listing the known ones.
func Parse(s string) (Algorithm, error) {
	for _, a := range All {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown checksum algorithm %q (want one of %s)", s, List(All))
}

// List joins algorithms for a message: "CRC64NVME, CRC32C".
func List(as []Algorithm) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// Valid reports whether a is one of the known algorithms.
func (a Algorithm) Valid() bool {
	for _, b := range All {
		if a == b {
			return true
		}
	}
	return false
}

// Header is the request and response header that carries a value of a,
// e.g. "x-amz-checksum-crc64nvme".
func (a Algorithm) Header() string {
	return "x-amz-checksum-" + strings.ToLower(string(a))
}

// Size is the length of a's digest in bytes.
func (a Algorithm) Size() int {
	switch a {
	case CRC64NVME:
		return 8
	case CRC32C, CRC32:
		return 4
	case SHA256:
		return 32
	case SHA1:
		return 20
	}
	return 0
}

// IsCRC reports whether a is a CRC: only CRCs combine from part values
// into a full-object value without reading the bytes again.
func (a Algorithm) IsCRC() bool { return a == CRC64NVME || a == CRC32C || a == CRC32 }

// DefaultType is the multipart checksum type S3 uses for a when none is
// asked for: FULL_OBJECT for CRC64NVME, COMPOSITE for the others.
func (a Algorithm) DefaultType() Type {
	if a == CRC64NVME {
		return FullObject
	}
	return Composite
}

// New returns a hash computing a.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC64NVME:
		return crc64nvme.New()
	case CRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case CRC32:
		return crc32.NewIEEE()
	case SHA256:
		return sha256.New()
	case SHA1:
		return sha1.New()
	}
	panic("checksum: unknown algorithm " + string(a))
}

// Sum returns the encoded checksum of b under a.
func (a Algorithm) Sum(b []byte) string {
	h := a.New()
	h.Write(b)
	return Encode(h.Sum(nil))
}

// Encode is the header form of a digest: standard padded base64.
func Encode(digest []byte) string { return base64.StdEncoding.EncodeToString(digest) }

// Check reports whether v is a well-formed value of a: the base64 of
// exactly a.Size() bytes.
func (a Algorithm) Check(v string) error {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != a.Size() || a.Size() == 0 {
		return fmt.Errorf("want the base64 of a %d-byte %s checksum", a.Size(), a)
	}
	return nil
}

// Value is a checksum as a store or a client states it.
type Value struct {
	Algorithm Algorithm `json:"algorithm"`
	// Type is FULL_OBJECT or COMPOSITE; empty when not known or when it
	// does not apply (a part, a single-part object).
	Type Type `json:"-"`
	// Value is the encoded checksum; a COMPOSITE value carries its "-N".
	Value string `json:"value,omitempty"`
}

// IsZero reports whether v names no algorithm.
func (v Value) IsZero() bool { return v.Algorithm == "" }
