package multipart

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ETag returns the ETag S3 gives the object a CompleteMultipartUpload of
// parts (in part order) makes: the hex MD5 of the concatenated binary MD5s
// of the parts, a dash and the part count ("<32 hex>-<n>"). Every part
// ETag must be a plain 32-hex-digit MD5 (after NormalizeETag); stores that
// encrypt with KMS or compute ETags their own way do not follow this rule,
// which is why callers treat a mismatch with care (see IsMultipartETag).
func ETag(parts []Part) (string, error) {
	if len(parts) == 0 {
		return "", errors.New("multipart: no parts")
	}
	h := md5.New()
	for _, p := range parts {
		raw, err := hex.DecodeString(NormalizeETag(p.ETag))
		if err != nil || len(raw) != md5.Size {
			return "", fmt.Errorf("multipart: part %d: ETag is not an MD5", p.Number)
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// IsMultipartETag reports whether etag has the "<32 hex>-<n>" form of a
// multipart object's ETag, and returns n.
func IsMultipartETag(etag string) (int, bool) {
	e := NormalizeETag(etag)
	sum, count, ok := strings.Cut(e, "-")
	if !ok || len(sum) != 2*md5.Size {
		return 0, false
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > MaxParts {
		return 0, false
	}
	return n, true
}
