package backends

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/checksum"
)

// How the adapter speaks S3's checksums (x-amz-checksum-*): which headers
// go with a create, a complete and a stat, and where minio-go's types
// keep each algorithm's value. minio-go names its fields per algorithm,
// so each mapping is one switch.

// Request and response headers of S3's checksum and conditional-write
// protocol.
const (
	headerChecksumAlgorithm = "x-amz-checksum-algorithm"
	headerChecksumType      = "x-amz-checksum-type"
	headerIfNoneMatch       = "If-None-Match"
	headerMetadataDirective = "x-amz-metadata-directive"
)

// checkChecksumChoice reports whether a and t may be asked of a
// multipart create: a known algorithm (or none), and a type it can have.
// Only the CRCs combine into a FULL_OBJECT checksum of a multipart
// object; S3 refuses FULL_OBJECT with SHA256 or SHA1.
func checkChecksumChoice(a checksum.Algorithm, t checksum.Type) error {
	if a == "" {
		if t != "" {
			return fmt.Errorf("checksum type %s needs a checksum algorithm", t)
		}
		return nil
	}
	if !a.Valid() {
		return fmt.Errorf("unknown checksum algorithm %q", a)
	}
	switch t {
	case "", checksum.Composite:
	case checksum.FullObject:
		if !a.IsCRC() {
			return fmt.Errorf("checksum algorithm %s has no FULL_OBJECT type for multipart uploads (only the CRCs do)", a)
		}
	default:
		return fmt.Errorf("unknown checksum type %q (want %s or %s)", t, checksum.FullObject, checksum.Composite)
	}
	if a == checksum.CRC64NVME && t == checksum.Composite {
		return errors.New("checksum algorithm CRC64NVME has only the FULL_OBJECT type")
	}
	return nil
}

// createHeaders are the headers of a CreateMultipartUpload for opts
// beyond the content type: x-amz-meta-* and, when opts names an
// algorithm, x-amz-checksum-algorithm (and x-amz-checksum-type). minio-go
// sends x-amz-* entries of UserMetadata as they are.
func createHeaders(opts ObjectOptions) map[string]string {
	h := metaHeaders(opts.Metadata)
	if opts.Checksum == "" {
		return h
	}
	if h == nil {
		h = make(map[string]string, 2)
	}
	h[headerChecksumAlgorithm] = string(opts.Checksum)
	if opts.ChecksumType != "" {
		h[headerChecksumType] = string(opts.ChecksumType)
	}
	return h
}

// partChecksum returns p's checksum of algorithm a, "" when the store
// lists none.
func partChecksum(p minio.ObjectPart, a checksum.Algorithm) string {
	switch a {
	case checksum.CRC64NVME:
		return p.ChecksumCRC64NVME
	case checksum.CRC32C:
		return p.ChecksumCRC32C
	case checksum.CRC32:
		return p.ChecksumCRC32
	case checksum.SHA256:
		return p.ChecksumSHA256
	case checksum.SHA1:
		return p.ChecksumSHA1
	}
	return ""
}

// listedAlgorithm is the checksum algorithm of an upload as its part
// listing states it (ListPartsResult's ChecksumAlgorithm), or "" when it
// states none Chute knows. A listing that names no algorithm gives no
// part checksums: some stores (versitygw) keep an internal CRC of every
// part of an upload created without one, and refuse a complete that
// repeats it.
func listedAlgorithm(res minio.ListObjectPartsResult) checksum.Algorithm {
	if res.ChecksumAlgorithm == "" {
		return ""
	}
	a, err := checksum.Parse(res.ChecksumAlgorithm)
	if err != nil {
		return ""
	}
	return a
}

// setPartChecksum puts v into cp as the part's checksum of algorithm a.
func setPartChecksum(cp *minio.CompletePart, a checksum.Algorithm, v string) {
	switch a {
	case checksum.CRC64NVME:
		cp.ChecksumCRC64NVME = v
	case checksum.CRC32C:
		cp.ChecksumCRC32C = v
	case checksum.CRC32:
		cp.ChecksumCRC32 = v
	case checksum.SHA256:
		cp.ChecksumSHA256 = v
	case checksum.SHA1:
		cp.ChecksumSHA1 = v
	}
}

// checksumFields are the per-algorithm checksum values of an answer
// (UploadInfo, ObjectInfo), in checksum.All's order.
type checksumFields struct {
	crc64nvme, crc32c, crc32, sha256, sha1 string
	// typ is the answer's x-amz-checksum-type (ChecksumType in XML).
	typ string
}

// value returns the first checksum the answer holds, with its type:
// the stated one, else COMPOSITE for a value with a "-N" suffix, else
// FULL_OBJECT (a single PUT's checksum covers the whole object). The zero
// Value when the answer holds none.
func (f checksumFields) value() checksum.Value {
	for _, c := range []struct {
		a checksum.Algorithm
		v string
	}{
		{checksum.CRC64NVME, f.crc64nvme},
		{checksum.CRC32C, f.crc32c},
		{checksum.CRC32, f.crc32},
		{checksum.SHA256, f.sha256},
		{checksum.SHA1, f.sha1},
	} {
		if c.v == "" {
			continue
		}
		v := checksum.Value{Algorithm: c.a, Value: c.v}
		switch t := checksum.Type(strings.ToUpper(strings.TrimSpace(f.typ))); {
		case t == checksum.FullObject || t == checksum.Composite:
			v.Type = t
		case strings.Contains(c.v, "-"):
			v.Type = checksum.Composite
		default:
			v.Type = checksum.FullObject
		}
		return v
	}
	return checksum.Value{}
}

func uploadChecksum(u minio.UploadInfo) checksum.Value {
	return checksumFields{u.ChecksumCRC64NVME, u.ChecksumCRC32C, u.ChecksumCRC32, u.ChecksumSHA256, u.ChecksumSHA1, u.ChecksumMode}.value()
}

func objectChecksum(o minio.ObjectInfo) checksum.Value {
	return checksumFields{o.ChecksumCRC64NVME, o.ChecksumCRC32C, o.ChecksumCRC32, o.ChecksumSHA256, o.ChecksumSHA1, o.ChecksumMode}.value()
}

// completeHeaders are the headers of a CompleteMultipartUpload for opts:
// the whole object's checksum with its type, and If-None-Match: *.
func completeHeaders(opts CompleteOptions) (meta map[string]string, err error) {
	if opts.Checksum.Value != "" {
		if err := checkObjectChecksum(opts.Checksum); err != nil {
			return nil, err
		}
		meta = map[string]string{opts.Checksum.Algorithm.Header(): opts.Checksum.Value}
		if opts.Checksum.Type != "" {
			meta[headerChecksumType] = string(opts.Checksum.Type)
		}
	}
	return meta, nil
}

// checkObjectChecksum checks a whole object's checksum as given at
// complete: a part-style value, or, for COMPOSITE, one with a "-N"
// suffix.
func checkObjectChecksum(v checksum.Value) error {
	if !v.Algorithm.Valid() {
		return fmt.Errorf("unknown checksum algorithm %q", v.Algorithm)
	}
	if err := checkChecksumChoice(v.Algorithm, v.Type); err != nil {
		return err
	}
	val := v.Value
	if i := strings.LastIndexByte(val, '-'); i >= 0 && v.Type != checksum.FullObject {
		n := val[i+1:]
		if n == "" || strings.Trim(n, "0123456789") != "" {
			return fmt.Errorf("the %s checksum %q has a malformed part count", v.Algorithm, val)
		}
		val = val[:i]
	}
	if err := v.Algorithm.Check(val); err != nil {
		return fmt.Errorf("object checksum: %v", err)
	}
	return nil
}

// checksumWellFormed reports whether v.Value is the base64 of exactly
// v.Algorithm.Size() bytes, as v.Algorithm.Check does, but decoding on
// the stack: PresignPart checks a value per part URL. It answers false
// for a value of the wrong length or too long for its buffers (no known
// algorithm's value is), leaving the verdict to Check; when it answers
// true, Check would have accepted the value too (the same decoder on the
// same bytes).
func checksumWellFormed(v checksum.Value) bool {
	size := v.Algorithm.Size()
	var src [64]byte
	var dst [48]byte
	if size == 0 || len(v.Value) != base64.StdEncoding.EncodedLen(size) || len(v.Value) > len(src) {
		return false
	}
	n := copy(src[:], v.Value)
	got, err := base64.StdEncoding.Decode(dst[:], src[:n])
	return err == nil && got == size
}
