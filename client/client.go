// Package client is a Go client for Chute's native /v1 API and an uploader
// that sends a file's bytes straight to the store through the presigned URLs
// Chute hands out.
//
// The API methods (Create, Status, PartURLs, ReportPart, Complete, Abort,
// DownloadURL) map one to one onto the routes of API.md. Upload drives a
// whole upload: it creates (or resumes) a session, PUTs the parts in
// parallel from an io.ReaderAt without buffering the file, retries
// transient failures with exponential backoff and jitter, re-signs URLs the
// store refuses as expired, reports each part and completes the session.
//
// Presigned URLs are bearer credentials: the client never puts them in an
// error or a log line.
//
// # Checksums
//
// By default Upload checks the bytes end to end with CRC64NVME (the
// algorithm AWS itself defaults to): it asks for the algorithm at create,
// computes each part's checksum before asking for that part's URL, and
// sends the x-amz-checksum-* header Chute signed into it, so the store
// refuses a part whose bytes changed on the way.
//
// The whole file's value is declared at create when that is cheap, and
// otherwise checked at the end without a second pass:
//
//   - A file of at most UploadOptions.ChecksumPassMax bytes (default
//     DefaultChecksumPassMax, 64 MiB; every single upload under the default
//     single_max) is read once before create and its value declared. Chute
//     then checks the stored object against it at complete and answers 422,
//     leaving no object, on a mismatch.
//   - A bigger file is not read ahead (that would cost a pass over
//     gigabytes before the first byte is sent). Create names only the
//     algorithm; the parts are verified one by one by the store, and when
//     complete reports the stored object's checksum, Upload compares it with
//     the value it derives from its own part checksums: CRCs combine into a
//     full-object value (checksum.CombineAll), any algorithm gives the
//     COMPOSITE "-N" value. A mismatch is a *ChecksumError; the object is
//     then stored, and differs from the file. A single upload of such a
//     file (a profile with a big single_max) cannot go without the value:
//     its one URL, signed at create, must carry it (a session with an
//     algorithm wants a checksum with every part). Upload then hashes the
//     file, aborts that session and creates it again with the value.
//
// Only the small file's read-ahead and one read of each part before it is
// sent cost extra I/O; hashing runs at several GB/s for the CRCs (see
// docs/clients/go.md), and combining part CRCs costs well under a
// microsecond per part. Resuming hashes the parts an earlier run sent, to
// compare the whole object at the end.
//
// If Chute refuses the algorithm (400 naming checksum: the store cannot
// verify it), Upload creates the session again without a checksum and says
// so in Result.ChecksumNote; it never drops a check silently.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chute-dev/chute/api"
)

// Client talks to one Chute server. It is safe for concurrent use.
type Client struct {
	base        string
	token       string
	hc          *http.Client
	parallel    int
	maxAttempts int
	baseDelay   time.Duration
	log         *slog.Logger
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token sent to Chute (not to the store).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sets the HTTP client used for Chute and for the store.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithParallel sets how many parts Upload sends at once (default 4).
func WithParallel(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// WithRetry sets how many times a request is tried in all (default 5) and
// the first backoff delay (default 200ms), doubled on each retry with
// jitter and capped at 30s.
func WithRetry(maxAttempts int, baseDelay time.Duration) Option {
	return func(c *Client) {
		if maxAttempts > 0 {
			c.maxAttempts = maxAttempts
		}
		if baseDelay > 0 {
			c.baseDelay = baseDelay
		}
	}
}

// WithLogger sets a logger for retries and re-signing (default: discard).
// It never receives URLs or tokens.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New returns a client for the Chute server at baseURL
// (e.g. "http://127.0.0.1:8080").
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base:        strings.TrimRight(baseURL, "/"),
		hc:          http.DefaultClient,
		parallel:    4,
		maxAttempts: 5,
		baseDelay:   200 * time.Millisecond,
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is an error answered by Chute: its HTTP status and the code and
// message of its JSON error body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code == CodeRejected {
		return "chute: upload rejected: " + e.Message
	}
	return fmt.Sprintf("chute: %d %s: %s", e.Status, e.Code, e.Message)
}

// CodeRejected is the error code of a complete whose upload the profile's
// verify hook rejected: the object was removed, the session is over, and
// the message is the application's reason.
const CodeRejected = "rejected"

// Rejected reports whether err says the application's verify hook
// rejected the upload, and returns its reason.
func Rejected(err error) (reason string, ok bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == CodeRejected {
		return ae.Message, true
	}
	return "", false
}

// StoreError is a refusal from the object store for a presigned request.
type StoreError struct {
	Part   int    // part number; 0 for a single upload
	Status int    // HTTP status
	Code   string // S3 error code, when the body had one
}

func (e *StoreError) Error() string {
	what := "single upload"
	if e.Part > 0 {
		what = "part " + strconv.Itoa(e.Part)
	}
	if e.Code != "" {
		return fmt.Sprintf("store refused %s: %d %s", what, e.Status, e.Code)
	}
	return fmt.Sprintf("store refused %s: %d", what, e.Status)
}

// The request and answer bodies are the wire types of package api, which
// the server uses too (and its OpenAPI document is generated from); these
// aliases keep the client's names.
type (
	// CreateRequest is the body of POST /v1/uploads. Size is a pointer (the
	// server tells a missing size from an empty file): new(int64(n)).
	// Checksum, when set, asks for the algorithm's checksums: each part's
	// is then signed into its URL (see PartURLs), and a Value, when given,
	// is the whole file's, which Chute checks at complete.
	CreateRequest = api.CreateRequest
	// ChecksumRequest names a checksum algorithm and, optionally, the
	// whole file's value (CreateRequest.Checksum).
	ChecksumRequest = api.ChecksumRequest
	// Checksum is a session's checksum algorithm and, once known, the
	// whole object's value (Status.Checksum, Completed.Checksum; a
	// COMPOSITE value ends in "-N", N parts).
	Checksum = api.Checksum
	// SignedRequest is a presigned request: send Headers with exactly
	// these values (Content-Length included).
	SignedRequest = api.Upload
	// PartURL is a presigned request for one part.
	PartURL = api.PartURL
	// Upload is a created session (the answer to Create): Parts holds the
	// first batch of part URLs of a multipart upload, Upload the one
	// request of a single upload.
	Upload = api.CreateResult
	// Part is a part known to the session.
	Part = api.Part
	// Status is a session's state (GET /v1/uploads/{id}); Reason is why
	// the verify hook rejected the upload (state rejected).
	Status = api.Status
	// CompletePart names a part for Complete.
	CompletePart = api.CompletePart
	// Download is a presigned GET.
	Download = api.Download
	// Completed is the answer to Complete.
	Completed = api.CompleteResult
)

// Create starts an upload session.
func (c *Client) Create(ctx context.Context, req CreateRequest) (*Upload, error) {
	var u Upload
	// Not retried on 5xx: a create that reached the store would leave a
	// second session behind.
	return &u, c.call(ctx, http.MethodPost, "/v1/uploads", req, &u, false)
}

// Status returns a session's status; sync reconciles the reported parts
// with the store's own list first.
func (c *Client) Status(ctx context.Context, id string, sync bool) (*Status, error) {
	p := "/v1/uploads/" + url.PathEscape(id)
	if sync {
		p += "?sync=true"
	}
	var s Status
	return &s, c.call(ctx, http.MethodGet, p, nil, &s, true)
}

// PartURLs presigns the given parts (at most 1000). checksums, optional,
// maps part numbers to the encoded checksum of the part under the
// session's algorithm (the one asked for at create): it is signed into that
// part's URL as x-amz-checksum-<algorithm>, and the part's Headers then
// list that header, so the store refuses other bytes.
func (c *Client) PartURLs(ctx context.Context, id string, parts []int, checksums map[int]string) ([]PartURL, error) {
	body := api.PartURLsRequest{PartNumbers: parts}
	if len(checksums) > 0 {
		body.Checksums = make(map[string]string, len(checksums))
		for n, s := range checksums {
			body.Checksums[strconv.Itoa(n)] = s
		}
	}
	var out api.PartURLsResult
	err := c.call(ctx, http.MethodPost, "/v1/uploads/"+url.PathEscape(id)+"/part-urls", body, &out, true)
	return out.Parts, err
}

// ReportPart tells Chute that part n was stored with etag and size.
func (c *Client) ReportPart(ctx context.Context, id string, n int, etag string, size int64) (*Status, error) {
	body := api.ReportRequest{ETag: etag, Size: &size}
	var s Status
	return &s, c.call(ctx, http.MethodPut, "/v1/uploads/"+url.PathEscape(id)+"/parts/"+strconv.Itoa(n), body, &s, true)
}

// Complete finalizes a session. With parts nil, the reported parts are used.
func (c *Client) Complete(ctx context.Context, id string, parts []CompletePart) (*Completed, error) {
	var body any = api.CompleteRequest{Parts: parts}
	if parts != nil && len(parts) == 0 {
		// An empty list is a list (omitempty would drop it, and Chute
		// would then use the reported parts).
		body = json.RawMessage(`{"parts":[]}`)
	}
	var out Completed
	return &out, c.call(ctx, http.MethodPost, "/v1/uploads/"+url.PathEscape(id)+"/complete", body, &out, true)
}

// Abort ends a session and aborts its upload in the store.
func (c *Client) Abort(ctx context.Context, id string) (*Status, error) {
	var s Status
	return &s, c.call(ctx, http.MethodDelete, "/v1/uploads/"+url.PathEscape(id), nil, &s, true)
}

// DownloadURL returns a fresh presigned GET for a completed upload.
func (c *Client) DownloadURL(ctx context.Context, id string) (*Download, error) {
	var d Download
	return &d, c.call(ctx, http.MethodGet, "/v1/uploads/"+url.PathEscape(id)+"/download-url", nil, &d, true)
}

// call sends one JSON request to Chute, retrying network errors, 429 and
// 5xx when retry5xx is set (429 always, but for quota_exceeded).
func (c *Client) call(ctx context.Context, method, path string, in, out any, retry5xx bool) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		err := c.callOnce(ctx, method, path, payload, out)
		if err == nil || attempt >= c.maxAttempts || ctx.Err() != nil {
			return err
		}
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests && ae.Code != "quota_exceeded": // a quota frees in minutes or hours, not seconds
		case errors.As(err, &ae) && ae.Status >= 500 && retry5xx:
		case !errors.As(err, &ae) && retry5xx && isNetErr(err):
		default:
			return err
		}
		c.log.Warn("chute request failed, retrying", "method", method, "route", routeOf(path), "attempt", attempt, "err", err)
		if err := c.sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

func (c *Client) callOnce(ctx context.Context, method, path string, payload []byte, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return scrub(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return scrub(err)
	}
	if resp.StatusCode >= 300 {
		return parseAPIError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("chute: decoding %s answer: %w", routeOf(path), err)
	}
	return nil
}

// parseAPIError reads Chute's {"error":{"code","message"}} body; a body of
// another shape (a proxy's page, say) gives code "http_<status>".
func parseAPIError(status int, data []byte) *APIError {
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
		return &APIError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{Status: status, Code: "http_" + strconv.Itoa(status), Message: msg}
}

// routeOf returns path without its query, for logs.
func routeOf(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// scrub strips the URL (which may be presigned) from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func isNetErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// backoff returns the delay before retry number attempt (1-based):
// baseDelay·2^(attempt-1), capped at 30s, with "full jitter" in [d/2, d].
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseDelay << min(attempt-1, 20)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) sleep(ctx context.Context, attempt int) error {
	t := time.NewTimer(c.backoff(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
