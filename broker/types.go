package broker

import (
	"time"

	"github.com/chute-dev/chute/multipart"
)

// CreateRequest asks for a new upload. Size is a pointer so that a missing
// size can be told from an empty file.
type CreateRequest struct {
	Filename    string            `json:"filename"`
	ContentType string            `json:"content_type"`
	Size        *int64            `json:"size"`
	Profile     string            `json:"profile,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Checksum asks the store to verify the bytes: Algorithm for every
	// part (and Value, when given, for the whole file).
	Checksum *ChecksumRequest `json:"checksum,omitempty"`
	// ClientHeaders are the request headers the HTTP layer passes on to
	// the Authorizer (those named in its allowlist); never JSON.
	ClientHeaders map[string]string `json:"-"`
}

// ChecksumRequest names a checksum algorithm and, optionally, the whole
// file's checksum (base64).
type ChecksumRequest struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value,omitempty"`
}

// Checksum is a verified (or declared) whole-object checksum, as the API
// shows it.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value,omitempty"`
}

// PartURL is a presigned request for one part.
type PartURL struct {
	PartNumber int               `json:"part_number"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    map[string]string `json:"headers"`
	Size       int64             `json:"size"`
	ExpiresAt  time.Time         `json:"expires_at"`
}

// Upload is the presigned request of a single-PUT upload.
type Upload struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// CreateResult is the answer to a create.
type CreateResult struct {
	ID          string    `json:"id"`
	Key         string    `json:"key"`
	Strategy    string    `json:"strategy"`
	State       string    `json:"state"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	PartSize    int64     `json:"part_size,omitempty"`
	PartCount   int       `json:"part_count,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	Parts       []PartURL `json:"parts,omitempty"`
	Upload      *Upload   `json:"upload,omitempty"`
}

// PartURLsRequest asks for presigned part URLs.
type PartURLsRequest struct {
	PartNumbers []int `json:"part_numbers"`
	// Checksums maps a part number (as a string) to the base64 checksum
	// of its bytes under the session's algorithm, signed into that part's
	// URL.
	Checksums map[string]string `json:"checksums,omitempty"`
	// ChecksumsSHA256 is the older spelling of Checksums for SHA256 (on a
	// session created with SHA256, or with no algorithm).
	ChecksumsSHA256 map[string]string `json:"checksums_sha256,omitempty"`
}

// PartURLsResult holds presigned part URLs.
type PartURLsResult struct {
	Parts []PartURL `json:"parts"`
}

// ReportRequest reports a finished part. Size is a pointer so that a
// missing size can be told from zero.
type ReportRequest struct {
	ETag string `json:"etag"`
	Size *int64 `json:"size"`
}

// CompletePart is one entry of a client's part list.
type CompletePart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
}

// CompleteRequest optionally carries the client's part list.
type CompleteRequest struct {
	Parts []CompletePart `json:"parts,omitempty"`
}

// Status is a session as the API shows it.
type Status struct {
	ID            string           `json:"id"`
	Key           string           `json:"key"`
	Strategy      string           `json:"strategy"`
	State         string           `json:"state"`
	Size          int64            `json:"size"`
	ContentType   string           `json:"content_type"`
	PartSize      int64            `json:"part_size,omitempty"`
	PartCount     int              `json:"part_count,omitempty"`
	Parts         []multipart.Part `json:"parts"`
	UploadedBytes int64            `json:"uploaded_bytes"`
	Checksum      *Checksum        `json:"checksum,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	ExpiresAt     time.Time        `json:"expires_at"`
	// Reason is why the verify hook rejected the upload (state rejected).
	Reason string `json:"reason,omitempty"`
}

// Download is a presigned GET.
type Download struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CompleteResult is the answer to a complete.
type CompleteResult struct {
	ID          string    `json:"id"`
	Key         string    `json:"key"`
	State       string    `json:"state"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	ETag        string    `json:"etag"`
	Checksum    *Checksum `json:"checksum,omitempty"`
	Download    *Download `json:"download"`
}

func partURL(n int, size int64, r PresignedRequest) PartURL {
	return PartURL{PartNumber: n, Method: r.Method, URL: r.URL, Headers: r.Headers, Size: size, ExpiresAt: r.ExpiresAt}
}
