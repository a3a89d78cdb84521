// Package api holds the wire types of Chute's native /v1 API: every request
// and response body and the error body, written once. The broker serves
// them (broker/types.go aliases them), the Go client sends and reads them
// (client/ aliases them), and the OpenAPI document that /openapi.json serves
// is generated from them:
//
//	go generate ./api
//
// writes broker/httpapi/openapi.json from these types (fields, json tags,
// the oapi tags below and the doc comments) and the operation table in
// api/openapi; a test fails when the checked-in document differs from what
// the generator writes, and another holds the hand-rolled encoders of
// broker/httpapi to encoding/json of these types.
//
// The package imports only the standard library, so any Go program can
// import it without pulling in the server.
//
// # Schema tags
//
// A field's schema follows from its Go type and json tag: a field without
// omitempty is required (a pointer field without omitempty too: the server
// tells a missing value from a zero one), time.Time is a date-time string,
// and every struct refuses unknown properties (the /v1 routes answer 400 to
// an unknown field). The oapi tag adds what the type cannot say, as
// comma-separated key=value pairs:
//
//	ref=Name                  the field is the named shared schema (see Schemas in api/openapi)
//	min=, max=                minimum, maximum (numbers)
//	minLength=, maxLength=    string length
//	minItems=, maxItems=      array length
//	maxProperties=            object size
//	pattern=                  a regular expression (no comma)
//	format=                   uri, date-time, int64, ...
//	enum=A|B                  allowed values
//	const=V                   the only value
//	default=V, example=V      documentation
//	encoding=base64           contentEncoding of a string (of a map's values)
//	keys=REGEX                propertyNames pattern of a map
//	required, optional        override the omitempty rule
//
// A type's or field's doc comment becomes its description (a field that
// refers to a shared schema takes that schema's); a trailing comment on a
// field's line is for Go readers only.
//
//go:generate go run ./openapi/cmd/openapigen -o ../broker/httpapi/openapi.json
package api

import "time"

// CreateRequest is the body of POST /v1/uploads.
type CreateRequest struct {
	// A hint for the key's extension and the download's Content-Disposition.
	Filename    string `json:"filename" oapi:"maxLength=4096"`
	ContentType string `json:"content_type" oapi:"minLength=1,example=video/mp4"`
	// Size is a pointer so that a missing size can be told from an empty
	// file.
	Size     *int64            `json:"size" oapi:"ref=Size"`
	Profile  string            `json:"profile,omitempty" oapi:"default=default"`
	Metadata map[string]string `json:"metadata,omitempty" oapi:"ref=Metadata"`
	// Checksum asks the store to verify the bytes: Algorithm for every
	// part (and Value, when given, for the whole file).
	Checksum *ChecksumRequest `json:"checksum,omitempty"`
}

// ChecksumRequest names a checksum algorithm and, optionally, the whole
// file's checksum (base64).
type ChecksumRequest struct {
	Algorithm string `json:"algorithm" oapi:"ref=ChecksumAlgorithm"`
	// The whole file's checksum. Complete checks the stored object against
	// it (422 incomplete on a mismatch, no object left at the key); for a
	// single upload it is signed into the PUT URL.
	Value string `json:"value,omitempty" oapi:"encoding=base64"`
}

// Checksum is the whole object's checksum: the algorithm from create on,
// the value once declared (create) or verified (complete).
type Checksum struct {
	Algorithm string `json:"algorithm" oapi:"ref=ChecksumAlgorithm"`
	Value     string `json:"value,omitempty" oapi:"encoding=base64"`
}

// PartURL is a presigned request for one part; Content-Length (and the
// part's checksum, when one was given) is signed into it.
type PartURL struct {
	PartNumber int    `json:"part_number" oapi:"ref=PartNumber"`
	Method     string `json:"method" oapi:"enum=PUT"`
	URL        string `json:"url" oapi:"format=uri"`
	// Headers the client must send with exactly these values (a browser
	// sets Content-Length itself from the body).
	Headers   map[string]string `json:"headers"`
	Size      int64             `json:"size" oapi:"ref=Size"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Upload is the presigned PUT of a single upload; Content-Length and
// Content-Type are signed into it.
type Upload struct {
	Method string `json:"method" oapi:"enum=PUT"`
	URL    string `json:"url" oapi:"format=uri"`
	// Headers the client must send with exactly these values (a browser
	// sets Content-Length itself from the body).
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// CreateResult is the answer to a create (201). A single upload has
// upload and no part_size, part_count or parts; a multipart upload has
// those and no upload.
type CreateResult struct {
	ID          string    `json:"id" oapi:"ref=UploadID"`
	Key         string    `json:"key" oapi:"ref=Key"`
	Strategy    string    `json:"strategy" oapi:"ref=Strategy"`
	State       string    `json:"state" oapi:"ref=State"`
	Size        int64     `json:"size" oapi:"ref=Size"`
	ContentType string    `json:"content_type"`
	PartSize    int64     `json:"part_size,omitempty" oapi:"format=int64,min=1"`
	PartCount   int       `json:"part_count,omitempty" oapi:"min=1,max=10000"`
	ExpiresAt   time.Time `json:"expires_at"`
	// URLs for the first parts (at most 32).
	Parts  []PartURL `json:"parts,omitempty" oapi:"minItems=1,maxItems=32"`
	Upload *Upload   `json:"upload,omitempty"`
}

// PartURLsRequest is the body of POST /v1/uploads/{id}/part-urls.
type PartURLsRequest struct {
	PartNumbers []int `json:"part_numbers" oapi:"ref=PartNumber,minItems=1,maxItems=1000"`
	// Part number (as a string) to the base64 checksum of its bytes under
	// the session's algorithm, signed into that part's URL as
	// x-amz-checksum-<algorithm>.
	Checksums map[string]string `json:"checksums,omitempty" oapi:"keys=^[0-9]+$,encoding=base64"`
	// The older spelling of checksums for SHA256: part number to the base64
	// SHA-256 of its bytes, signed in as x-amz-checksum-sha256 (on a session
	// created with SHA256, or with no algorithm).
	ChecksumsSHA256 map[string]string `json:"checksums_sha256,omitempty" oapi:"keys=^[0-9]+$,encoding=base64"`
}

// PartURLsResult is the answer to part-urls: one presigned request per part
// asked for.
type PartURLsResult struct {
	Parts []PartURL `json:"parts"`
}

// ReportRequest is the body of PUT /v1/uploads/{id}/parts/{n}.
type ReportRequest struct {
	// The part's ETag as the store returned it; quoted and unquoted are the
	// same.
	ETag string `json:"etag" oapi:"minLength=1,maxLength=130"`
	// Size is a pointer so that a missing size can be told from zero.
	Size *int64 `json:"size" oapi:"ref=Size"`
}

// Part is one part of a multipart upload, as reported by a client or as
// listed by the store.
type Part struct {
	Number int    `json:"part_number" oapi:"ref=PartNumber"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size" oapi:"ref=Size"`
	// The part's checksum as the store lists it, when it keeps one
	// (base64, x-amz-checksum-* form, in the algorithm its upload was
	// created with, as CompleteMultipartUpload must repeat it).
	Checksum string `json:"checksum,omitempty" oapi:"encoding=base64"` // multipart.Part is this type

}

// CompletePart is one entry of a client's part list.
type CompletePart struct {
	PartNumber int    `json:"part_number" oapi:"ref=PartNumber"`
	ETag       string `json:"etag" oapi:"minLength=1"`
}

// CompleteRequest is the optional body of POST /v1/uploads/{id}/complete:
// the client's part list (without it, the reported parts are used).
type CompleteRequest struct {
	Parts []CompletePart `json:"parts,omitempty" oapi:"maxItems=10000"`
}

// Status is a session as the API shows it.
type Status struct {
	ID       string `json:"id" oapi:"ref=UploadID"`
	Key      string `json:"key" oapi:"ref=Key"`
	Strategy string `json:"strategy" oapi:"ref=Strategy"`
	State    string `json:"state" oapi:"ref=State"`
	// The declared size; -1 while it is unknown (a session created through
	// the /s3 routes learns its size when it completes).
	Size        int64  `json:"size" oapi:"format=int64,min=-1"`
	ContentType string `json:"content_type"`
	// Absent for single uploads and while the size is unknown.
	PartSize int64 `json:"part_size,omitempty" oapi:"format=int64,min=1"`
	// Absent for single uploads and while the size is unknown.
	PartCount int `json:"part_count,omitempty" oapi:"min=1,max=10000"`
	// The reported parts, by number.
	Parts         []Part    `json:"parts"`
	UploadedBytes int64     `json:"uploaded_bytes" oapi:"ref=Size"`
	Checksum      *Checksum `json:"checksum,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	// Why the verify hook rejected the upload; present only in state
	// rejected (and only when the hook gave a reason).
	Reason string `json:"reason,omitempty" oapi:"minLength=1,maxLength=1024"`
}

// Download is a presigned GET of the completed object.
type Download struct {
	URL       string    `json:"url" oapi:"format=uri"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CompleteResult is the answer to a complete (completing a completed
// session answers the same again).
type CompleteResult struct {
	ID          string `json:"id" oapi:"ref=UploadID"`
	Key         string `json:"key" oapi:"ref=Key"`
	State       string `json:"state" oapi:"const=completed"`
	Size        int64  `json:"size" oapi:"ref=Size"`
	ContentType string `json:"content_type"`
	// The object's ETag, unquoted.
	ETag     string    `json:"etag"`
	Checksum *Checksum `json:"checksum,omitempty"`
	Download *Download `json:"download"`
}

// Error is the body of every error answer. The message is safe to show; it
// never holds a credential or a presigned URL.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the code and message of an Error.
type ErrorBody struct {
	Code    string `json:"code" oapi:"ref=ErrorCode"`
	Message string `json:"message" oapi:"minLength=1"`
}
