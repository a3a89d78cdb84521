// Package companion is the Uppy/Companion protocol as an adapter over the
// broker's use cases: Companion's /s3 routes, as @uppy/aws-s3 (v6,
// companionEndpoint mode) speaks them, with Companion's field names and
// casing, translated into calls of broker.Service's native methods.
//
// The protocol never tells the server how big a file is: a multipart
// create carries a filename, a type and metadata; a part signature carries
// a part number only; a single upload asks for a POST policy. So its
// uploads are open-ended (multipart.OpenEnded); the broker owns what that
// means (broker/open.go), this package only the translation:
//
//   - Companion's uploadId is the session id, and every call also names
//     the upload's key: Adapter checks it (Locate) and answers not_found
//     when it is not the upload's, as for an unknown id;
//   - Uppy's metadata (any JSON values) becomes object metadata (Metadata);
//   - answers carry Companion's fields: "expires" in whole seconds,
//     ETags quoted as S3 lists them, "location" the download URL.
//
// Errors are the broker's (*broker.Error); the HTTP layer (broker/httpapi,
// which also parses the requests, authenticates and rate-limits) renders
// them as on /v1. The routes stay as lenient as Companion is: unknown
// body fields are ignored (shared/API.md).
package companion

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// UseCases are the broker's use cases the protocol calls; *broker.Service
// has them.
type UseCases interface {
	CreateOpen(ctx context.Context, subject string, req broker.OpenRequest) (*broker.OpenUpload, error)
	SignPost(ctx context.Context, subject string, req broker.OpenRequest) (*broker.PostUpload, error)
	SignPart(ctx context.Context, subject, id string, n int) (*broker.PartURL, error)
	StoredParts(ctx context.Context, subject, id string) ([]multipart.Part, error)
	Complete(ctx context.Context, subject, id string, req broker.CompleteRequest) (*broker.CompleteResult, error)
	Abort(ctx context.Context, subject, id string) (*broker.Status, error)
	Locate(ctx context.Context, subject, id string) (*broker.Location, error)
}

var _ UseCases = (*broker.Service)(nil)

// Adapter translates Companion's requests into use-case calls and their
// results into Companion's answers. It is safe for concurrent use.
type Adapter struct {
	uc  UseCases
	now func() time.Time
}

// New returns the adapter over uc.
func New(uc UseCases) *Adapter {
	return &Adapter{uc: uc, now: time.Now}
}

// Params is the answer of GET /s3/params: a POST policy form, or a
// presigned PUT (fields empty, headers to send) for a store without POST
// policy uploads.
type Params struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Fields  map[string]string `json:"fields"`
	Headers map[string]string `json:"headers,omitempty"`
	Expires int64             `json:"expires"` // seconds from now
}

// Upload is the answer of POST /s3/multipart.
type Upload struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	Bucket   string `json:"bucket"`
}

// Signed is the answer of GET /s3/multipart/{uploadId}/{n}.
type Signed struct {
	URL     string            `json:"url"`
	Expires int64             `json:"expires"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Part is one entry of the answer of GET /s3/multipart/{uploadId}.
type Part struct {
	PartNumber int    `json:"PartNumber"`
	ETag       string `json:"ETag"`
	Size       int64  `json:"Size"`
}

// Completed is the answer of POST /s3/multipart/{uploadId}/complete.
type Completed struct {
	Location string `json:"location"`
	Key      string `json:"key"`
	Bucket   string `json:"bucket"`
}

// CreateBody is the body of POST /s3/multipart.
type CreateBody struct {
	Filename string         `json:"filename"`
	Type     string         `json:"type"`
	Metadata map[string]any `json:"metadata"`
	Profile  string         `json:"profile"`
}

// CompleteBody is the body of POST /s3/multipart/{uploadId}/complete.
type CompleteBody struct {
	Parts []CompletePart `json:"parts"`
}

// CompletePart is one entry of CompleteBody.
type CompletePart struct {
	PartNumber int    `json:"PartNumber"`
	ETag       string `json:"ETag"`
}

// ParamsQuery is the query of GET /s3/params.
type ParamsQuery struct {
	Filename string
	Type     string
	Profile  string
	// Metadata holds the metadata[NAME]=VALUE parameters.
	Metadata map[string]any
	// Size is the size= parameter as sent, "" when absent.
	Size string
}

// Params answers GET /s3/params: a single upload of unknown size (a POST
// policy), or of the size told, for a store without POST policies.
func (a *Adapter) Params(ctx context.Context, subject string, q ParamsQuery, clientHeaders map[string]string) (*Params, error) {
	md, err := Metadata(q.Metadata)
	if err != nil {
		return nil, err
	}
	req := broker.OpenRequest{Filename: q.Filename, ContentType: q.Type, Profile: q.Profile, Metadata: md, ClientHeaders: clientHeaders}
	if q.Size != "" {
		n, err := strconv.ParseInt(q.Size, 10, 64)
		if err != nil || n < 0 {
			return nil, broker.Errorf(broker.CodeInvalidRequest, "size: must be a whole number of bytes")
		}
		req.Size = &n
	}
	post, err := a.uc.SignPost(ctx, subject, req)
	if err != nil {
		return nil, err
	}
	method := post.Method
	if method == "" {
		method = "POST"
	}
	return &Params{Method: method, URL: post.URL, Fields: post.Fields, Headers: post.Headers, Expires: a.secondsUntil(post.ExpiresAt)}, nil
}

// Create answers POST /s3/multipart: a multipart upload of unknown size.
func (a *Adapter) Create(ctx context.Context, subject string, body CreateBody, clientHeaders map[string]string) (*Upload, error) {
	md, err := Metadata(body.Metadata)
	if err != nil {
		return nil, err
	}
	up, err := a.uc.CreateOpen(ctx, subject, broker.OpenRequest{Filename: body.Filename, ContentType: body.Type, Profile: body.Profile, Metadata: md, ClientHeaders: clientHeaders})
	if err != nil {
		return nil, err
	}
	return &Upload{Key: up.Key, UploadID: up.ID, Bucket: up.Bucket}, nil
}

// SignPart answers GET /s3/multipart/{uploadId}/{n}. n is the path
// segment as sent; key the key= parameter.
func (a *Adapter) SignPart(ctx context.Context, subject, uploadID, key, n string) (*Signed, error) {
	num, err := broker.ParsePartNumber(n)
	if err != nil {
		return nil, broker.Errorf(broker.CodeInvalidRequest, "part number must be a whole number from 1 to 10000")
	}
	if _, err := a.locate(ctx, subject, uploadID, key); err != nil {
		return nil, err
	}
	p, err := a.uc.SignPart(ctx, subject, uploadID, num)
	if err != nil {
		return nil, err
	}
	return &Signed{URL: p.URL, Expires: a.secondsUntil(p.ExpiresAt), Headers: p.Headers}, nil
}

// ListParts answers GET /s3/multipart/{uploadId}: the parts the store
// holds, ETags quoted as S3 gives them.
func (a *Adapter) ListParts(ctx context.Context, subject, uploadID, key string) ([]Part, error) {
	if _, err := a.locate(ctx, subject, uploadID, key); err != nil {
		return nil, err
	}
	parts, err := a.uc.StoredParts(ctx, subject, uploadID)
	if err != nil {
		return nil, err
	}
	return Parts(parts), nil
}

// Parts renders stored parts as Companion lists them, ETags quoted as S3
// gives them.
func Parts(parts []multipart.Part) []Part {
	out := make([]Part, 0, len(parts))
	for _, p := range parts {
		out = append(out, Part{PartNumber: p.Number, ETag: `"` + multipart.NormalizeETag(p.ETag) + `"`, Size: p.Size})
	}
	return out
}

// Complete answers POST /s3/multipart/{uploadId}/complete.
func (a *Adapter) Complete(ctx context.Context, subject, uploadID, key string, body CompleteBody) (*Completed, error) {
	loc, err := a.locate(ctx, subject, uploadID, key)
	if err != nil {
		return nil, err
	}
	parts := make([]broker.CompletePart, 0, len(body.Parts))
	for _, p := range body.Parts {
		parts = append(parts, broker.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	res, err := a.uc.Complete(ctx, subject, uploadID, broker.CompleteRequest{Parts: parts})
	if err != nil {
		return nil, err
	}
	out := &Completed{Key: res.Key, Bucket: loc.Bucket}
	if res.Download != nil {
		out.Location = res.Download.URL
	}
	return out, nil
}

// Abort answers DELETE /s3/multipart/{uploadId}.
func (a *Adapter) Abort(ctx context.Context, subject, uploadID, key string) error {
	if _, err := a.locate(ctx, subject, uploadID, key); err != nil {
		return err
	}
	_, err := a.uc.Abort(ctx, subject, uploadID)
	return err
}

// locate checks that key names the upload: Companion names an upload by
// (uploadId, key), and a wrong key is answered as an unknown upload.
func (a *Adapter) locate(ctx context.Context, subject, uploadID, key string) (*broker.Location, error) {
	if key == "" {
		return nil, broker.Errorf(broker.CodeInvalidRequest, "key: required")
	}
	loc, err := a.uc.Locate(ctx, subject, uploadID)
	if err != nil {
		return nil, err
	}
	if loc.Key != key {
		return nil, broker.Errorf(broker.CodeNotFound, "upload not found")
	}
	return loc, nil
}

// secondsUntil is SecondsUntil(t, now).
func (a *Adapter) secondsUntil(t time.Time) int64 { return SecondsUntil(t, a.now()) }

// SecondsUntil is Companion's "expires": whole seconds from now to t,
// never negative.
func SecondsUntil(t, now time.Time) int64 {
	return max(0, int64(math.Floor(t.Sub(now).Seconds())))
}

// skippedMeta are the metadata fields Uppy adds to every file: Chute has
// the name and type already, and the relative path is the client's
// business.
var skippedMeta = map[string]bool{"name": true, "type": true, "relativepath": true}

// Metadata turns Uppy's metadata (any JSON values) into object metadata:
// keys lower-cased, null values and Uppy's own name, type and
// relativePath dropped, numbers and booleans written as text. Objects and
// arrays are refused. The broker then validates what is left like any
// /v1 metadata. It returns nil when nothing is left.
func Metadata(in map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		lk := strings.ToLower(k)
		if skippedMeta[lk] || v == nil {
			continue
		}
		switch t := v.(type) {
		case string:
			out[lk] = t
		case bool, float64, json.Number:
			out[lk] = fmt.Sprint(t)
		default:
			return nil, broker.Errorf(broker.CodeInvalidRequest, "metadata: %q must be a string, number or boolean", truncate(k, 32))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
