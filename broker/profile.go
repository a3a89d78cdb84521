package broker

import (
	"slices"
	"time"
)

// Profile is an upload policy: where the bytes go, how big they may be,
// which types are allowed and how keys are named.
type Profile struct {
	Name    string
	Backend string
	// MaxSize is the largest upload allowed, in bytes.
	MaxSize int64
	// PartSize is the preferred part size; the plan grows it for huge files.
	PartSize int64
	// SingleMax is the largest upload sent as one PUT; above it, multipart.
	SingleMax int64
	// AllowedTypes are media types: "video/mp4", "image/*" or "*/*".
	AllowedTypes []string
	// URLTTL is how long a presigned URL stays valid.
	URLTTL time.Duration
	// KeyTemplate names the object; see RenderKey.
	KeyTemplate string
	// Overwrite lets a completed upload replace an object already at its
	// key. Without it, Chute completes with If-None-Match: * on stores
	// that honour it, so a verified object is never replaced.
	Overwrite bool
	// Sniff checks the first bytes of a completed object against the
	// declared content type (see sniff.go).
	Sniff bool
	// MinSize is the smallest upload allowed, in bytes (0: no minimum).
	MinSize int64
	// Subjects, when not empty, are the only subjects that may use the
	// profile (others get forbidden).
	Subjects []string
	// MaxMetadataBytes bounds the user metadata, keys plus values
	// (0: MaxMetadataBytes).
	MaxMetadataBytes int
	// Verify, when set, is asked to accept or reject every finished
	// upload of the profile (see verify.go).
	Verify *VerifyHook
	// InlineTypes are media types ("image/svg+xml", "text/*", "*/*")
	// whose downloads are served inline with their own type, even those
	// served as attachments by default (see downloads.go).
	InlineTypes []string
}

// SubjectAllowed reports whether subject may use the profile.
func (p *Profile) SubjectAllowed(subject string) bool {
	return len(p.Subjects) == 0 || slices.Contains(p.Subjects, subject)
}

// TypeAllowed reports whether the media type ct (parameters ignored, case
// insensitive) matches one of the profile's allowed types.
func (p *Profile) TypeAllowed(ct string) bool { return matchType(p.AllowedTypes, ct) }
