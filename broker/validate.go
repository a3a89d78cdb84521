package broker

import (
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chute-dev/chute/multipart"
)

// validateCreate checks a create request against its profile and
// normalises its content type.
func validateCreate(req *CreateRequest, p *Profile) error {
	if req.Filename == "" {
		return Errorf(CodeInvalidRequest, "filename: required")
	}
	if len(req.Filename) > MaxFilenameLen {
		return Errorf(CodeInvalidRequest, "filename: at most %d bytes", MaxFilenameLen)
	}
	if !utf8.ValidString(req.Filename) || hasControl(req.Filename) {
		return Errorf(CodeInvalidRequest, "filename: must be UTF-8 text without control characters")
	}
	if req.ContentType == "" {
		return Errorf(CodeInvalidRequest, "content_type: required")
	}
	mt, params, err := mime.ParseMediaType(req.ContentType)
	if err != nil || !strings.Contains(mt, "/") || len(req.ContentType) > 255 {
		return Errorf(CodeInvalidRequest, "content_type: %q is not a media type like video/mp4", truncate(req.ContentType, 64))
	}
	req.ContentType = mime.FormatMediaType(mt, params)
	if req.Size == nil {
		return Errorf(CodeInvalidRequest, "size: required")
	}
	if *req.Size < 0 {
		return Errorf(CodeInvalidRequest, "size: must not be negative")
	}
	if *req.Size > multipart.MaxObjectSize {
		return Errorf(CodeTooLarge, "size: %d bytes is over what S3 allows (%d)", *req.Size, multipart.MaxObjectSize)
	}
	if *req.Size > p.MaxSize {
		return Errorf(CodeTooLarge, "size: %d bytes is over the profile's limit of %d", *req.Size, p.MaxSize)
	}
	if !p.TypeAllowed(req.ContentType) {
		return Errorf(CodeUnsupportedType, "content_type: %s is not allowed for this profile", mt)
	}
	return validateMetadataMax(req.Metadata, p.MaxMetadataBytes)
}

// checkSubject refuses a subject the profile does not allow.
func checkSubject(p *Profile, subject string) error {
	if !p.SubjectAllowed(subject) {
		return Errorf(CodeForbidden, "profile %q is not allowed for this subject", p.Name)
	}
	return nil
}

// validateMetadata keeps user metadata to what S3 stores faithfully as
// x-amz-meta-* headers: few entries, token keys, printable ASCII values.
func validateMetadata(md map[string]string) error {
	return validateMetadataMax(md, MaxMetadataBytes)
}

// validateMetadataMax is validateMetadata with maxBytes (a profile's
// max_metadata_bytes; 0 or more than MaxMetadataBytes means
// MaxMetadataBytes) bounding keys plus values.
func validateMetadataMax(md map[string]string, maxBytes int) error {
	if maxBytes <= 0 || maxBytes > MaxMetadataBytes {
		maxBytes = MaxMetadataBytes
	}
	if len(md) > MaxMetadataEntries {
		return Errorf(CodeInvalidRequest, "metadata: at most %d entries", MaxMetadataEntries)
	}
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
		if k == "" || len(k) > 128 {
			return Errorf(CodeInvalidRequest, "metadata: keys must be 1 to 128 characters")
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return Errorf(CodeInvalidRequest, "metadata: key %q: use only a-z, 0-9, - and _", truncate(k, 32))
			}
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return Errorf(CodeInvalidRequest, "metadata: value of %q: use printable ASCII only", k)
			}
		}
	}
	if total > maxBytes {
		return Errorf(CodeInvalidRequest, "metadata: at most %d bytes of keys and values", maxBytes)
	}
	return nil
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

func parsePartNumber(s string) (int, error) {
	if s == "" || len(s) > 5 || s[0] == '0' || s[0] == '+' || s[0] == '-' {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}

// ParsePartNumber parses a part number as it appears in a path.
func ParsePartNumber(s string) (int, error) { return parsePartNumber(s) }
