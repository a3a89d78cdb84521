package broker

import (
	"github.com/chute-dev/chute/api"
)

// The wire types of /v1 are written once, in package api; the broker's
// use cases take and return them under these names.
type (
	// ChecksumRequest names a checksum algorithm and, optionally, the
	// whole file's checksum (base64).
	ChecksumRequest = api.ChecksumRequest
	// Checksum is a verified (or declared) whole-object checksum, as the
	// API shows it.
	Checksum = api.Checksum
	// PartURL is a presigned request for one part.
	PartURL = api.PartURL
	// Upload is the presigned request of a single-PUT upload.
	Upload = api.Upload
	// CreateResult is the answer to a create.
	CreateResult = api.CreateResult
	// PartURLsRequest asks for presigned part URLs.
	PartURLsRequest = api.PartURLsRequest
	// PartURLsResult holds presigned part URLs.
	PartURLsResult = api.PartURLsResult
	// ReportRequest reports a finished part.
	ReportRequest = api.ReportRequest
	// CompletePart is one entry of a client's part list.
	CompletePart = api.CompletePart
	// CompleteRequest optionally carries the client's part list.
	CompleteRequest = api.CompleteRequest
	// Status is a session as the API shows it.
	Status = api.Status
	// Download is a presigned GET.
	Download = api.Download
	// CompleteResult is the answer to a complete.
	CompleteResult = api.CompleteResult
)

// CreateRequest asks for a new upload: the body of POST /v1/uploads
// (api.CreateRequest, see NewCreateRequest) plus what the transport adds.
// The Uppy routes build it with a nil Size for an upload of unknown size.
// Size is a pointer so that a missing size can be told from an empty file.
type CreateRequest struct {
	Filename    string
	ContentType string
	Size        *int64
	Profile     string
	Metadata    map[string]string
	// Checksum asks the store to verify the bytes: Algorithm for every
	// part (and Value, when given, for the whole file).
	Checksum *ChecksumRequest
	// ClientHeaders are the request headers the HTTP layer passes on to
	// the Authorizer (those named in its allowlist).
	ClientHeaders map[string]string
}

// NewCreateRequest returns the use case's input for the body w of a
// create.
func NewCreateRequest(w api.CreateRequest, clientHeaders map[string]string) CreateRequest {
	return CreateRequest{
		Filename: w.Filename, ContentType: w.ContentType, Size: w.Size, Profile: w.Profile,
		Metadata: w.Metadata, Checksum: w.Checksum, ClientHeaders: clientHeaders,
	}
}

func partURL(n int, size int64, r PresignedRequest) PartURL {
	return PartURL{PartNumber: n, Method: r.Method, URL: r.URL, Headers: r.Headers, Size: size, ExpiresAt: r.ExpiresAt}
}
