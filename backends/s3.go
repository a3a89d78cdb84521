package backends

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// DefaultTimeout bounds each store call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultCompleteTimeout bounds CompleteMultipartUpload when
// Config.CompleteTimeout is zero. AWS documents that a complete can take
// several minutes to process (it answers 200 at once and keeps the
// connection alive with whitespace meanwhile); 15 minutes leaves room for
// the largest upload, 10,000 parts.
const DefaultCompleteTimeout = 15 * time.Minute

// DefaultRegion is the region used when Config.Region is empty.
const DefaultRegion = "us-east-1"

// Limits on presigned URLs, as S3's Signature Version 4 allows them.
const (
	// MinPresignTTL is the shortest lifetime of a presigned URL.
	MinPresignTTL = time.Second
	// MaxPresignTTL is the longest lifetime of a presigned URL (7 days).
	MaxPresignTTL = 7 * 24 * time.Hour
)

// Page sizes for listings; S3 returns at most 1000 entries per page.
const (
	listPartsPage   = 1000
	listUploadsPage = 1000
	// maxUploadPages stops ListUploads on a store that never stops
	// paginating (at 1000 uploads a page, a million uploads).
	maxUploadPages = 1000
)

// maxRetries is how often minio-go tries one request; its default of 10
// makes an unreachable store take far longer than a user should wait.
const maxRetries = 3

// Header names Chute signs into presigned requests.
const (
	headerContentLength  = "Content-Length"
	headerContentType    = "Content-Type"
	headerChecksumSHA256 = "x-amz-checksum-sha256"
	metaPrefix           = "x-amz-meta-"
	defaultContentType   = "application/octet-stream"
)

// S3 is the adapter to an S3-compatible store, one bucket of it. It is
// safe for concurrent use.
type S3 struct {
	name    string
	bucket  string
	region  string
	timeout time.Duration
	// completeTimeout bounds CompleteMultipartUpload, which takes longer
	// than the other calls.
	completeTimeout time.Duration

	// core runs every call that reaches the store.
	core minio.Core
	// signer presigns URLs; it is core's client, or a second client
	// built on Config.PublicEndpoint (presigned URLs sign the Host). It
	// never sends a request.
	signer *minio.Client
	// fast presigns the common URLs without minio-go (presign.go); nil
	// when the configuration needs minio-go's own presigner.
	fast *fastSigner
	// partHeaders shares PresignPart's Headers maps among parts of one
	// size (partheaders.go).
	partHeaders partHeaderCache

	// secrets are redacted from error messages, whatever produced them.
	secrets []string
	// preset is the store's provider preset.
	preset Preset
	// probed, when set, is what Probe found, added to the preset's claims.
	probed *Probed
}

// Upload is an incomplete multipart upload in the store.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// NewS3 returns the adapter for cfg. It checks cfg but does not contact
// the store: call Ping (or EnsureBucket) for that.
//
// An empty Region means DefaultRegion; the region is always set on the
// client so that presigning never needs a network round trip. PathStyle
// selects path-style bucket addressing (http://host/bucket/key), else
// virtual-host style (http://bucket.host/key).
func NewS3(cfg Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	preset, err := LookupPreset(cfg.Provider)
	if err != nil {
		return nil, fmt.Errorf("backends: %s: provider: %v", cfg.label(), err)
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	completeTimeout := cfg.CompleteTimeout
	if completeTimeout == 0 {
		completeTimeout = DefaultCompleteTimeout
	}

	client, err := newClient(cfg.Endpoint, region, cfg)
	if err != nil {
		return nil, fmt.Errorf("backends: %s: endpoint: %v", cfg.label(), err)
	}
	s := &S3{
		name:    cfg.Name,
		bucket:  cfg.Bucket,
		region:  region,
		timeout: timeout,

		completeTimeout: completeTimeout,
		core:            minio.Core{Client: client},
		signer:          client,
		secrets:         []string{cfg.SecretKey, cfg.AccessKey},
		preset:          preset,
	}
	if cfg.PublicEndpoint != "" {
		signer, err := newClient(cfg.PublicEndpoint, region, cfg)
		if err != nil {
			return nil, fmt.Errorf("backends: %s: public endpoint: %v", cfg.label(), err)
		}
		s.signer = signer
	}
	s.fast = newFastSigner(s.signer, cfg.Bucket, region, cfg.AccessKey, cfg.SecretKey)
	return s, nil
}

// newClient builds a minio-go client for endpoint, a URL already checked
// by Config.validate.
func newClient(endpoint, region string, cfg Config) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	// minio-go's own transport, without its 1-minute wait for response
	// headers: every call has its context deadline, and a store may hold
	// back the answer to CompleteMultipartUpload for longer.
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	tr.ResponseHeaderTimeout = 0
	return minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
		Transport:    tr,
	})
}

// validate reports the first problem with c, naming the field.
func (c Config) validate() error {
	if err := checkEndpoint(c.Endpoint); err != nil {
		return fmt.Errorf("backends: %s: endpoint: %w", c.label(), err)
	}
	if c.PublicEndpoint != "" {
		if err := checkEndpoint(c.PublicEndpoint); err != nil {
			return fmt.Errorf("backends: %s: public endpoint: %w", c.label(), err)
		}
	}
	switch {
	case c.Bucket == "":
		return fmt.Errorf("backends: %s: bucket is required", c.label())
	case s3utils.CheckValidBucketNameStrict(c.Bucket) != nil:
		return fmt.Errorf("backends: %s: bucket %q is not a valid bucket name (3-63 characters: lower-case letters, digits, '.', '-')", c.label(), c.Bucket)
	case c.AccessKey == "":
		return fmt.Errorf("backends: %s: access key is required", c.label())
	case c.SecretKey == "":
		return fmt.Errorf("backends: %s: secret key is required", c.label())
	case c.Timeout < 0:
		return fmt.Errorf("backends: %s: timeout %v is negative", c.label(), c.Timeout)
	case c.CompleteTimeout < 0:
		return fmt.Errorf("backends: %s: complete timeout %v is negative", c.label(), c.CompleteTimeout)
	}
	return nil
}

// label names the backend in configuration errors.
func (c Config) label() string {
	if c.Name == "" {
		return "backend"
	}
	return fmt.Sprintf("backend %q", c.Name)
}

// checkEndpoint reports whether s is a usable store URL: http or https,
// a host, nothing else. The URL itself is left out of the message, in
// case someone put credentials in it.
func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("is required (e.g. http://127.0.0.1:7070)")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not hold credentials (use access_key and secret_key)")
	case u.Path != "" && u.Path != "/":
		return errors.New("must not have a path (the bucket is configured apart)")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is invalid", p)
		}
	}
	return nil
}

// Name returns the backend's configured name.
func (s *S3) Name() string { return s.name }

// Bucket returns the bucket this adapter works in.
func (s *S3) Bucket() string { return s.bucket }

// CreateMultipart starts a multipart upload of key, with opts' content
// type (application/octet-stream when empty) and metadata set on the
// object it will build, and returns its upload id.
//
// When opts.Checksum names an algorithm it is sent as
// x-amz-checksum-algorithm, and opts.ChecksumType (when set) as
// x-amz-checksum-type: on AWS semantics every part must then carry a
// checksum of that algorithm (PresignPart), the store keeps them
// (ListParts), and the complete must repeat them (CompleteMultipart).
// SHA256 and SHA1 have no FULL_OBJECT type, CRC64NVME no COMPOSITE one;
// asking for them is refused here.
func (s *S3) CreateMultipart(ctx context.Context, key string, opts ObjectOptions) (string, error) {
	const op = "create multipart upload"
	if err := checkKey(key); err != nil {
		return "", opError(op, err)
	}
	if err := checkObjectOptions(opts); err != nil {
		return "", opError(op, err)
	}
	if err := checkChecksumChoice(opts.Checksum, opts.ChecksumType); err != nil {
		return "", opError(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{
		ContentType:  contentType(opts.ContentType),
		UserMetadata: createHeaders(opts),
	})
	if err != nil {
		return "", s.fail(op, err)
	}
	if id == "" {
		return "", opError(op, errors.New("the store returned no upload id"))
	}
	return id, nil
}

// PresignPart returns a presigned PUT for part partNumber (1..10000) of
// upload uploadID, with Content-Length: opts.Size signed in, so the store
// refuses a body of any other length. When opts.Checksum has a value it
// is signed in as its algorithm's x-amz-checksum-* header, and a store
// that verifies that algorithm (Capabilities) refuses other bytes; when
// opts.ContentType is set it is signed in as Content-Type. The returned
// Headers are exactly the headers the client must send; they are
// read-only: parts of one size may share one map.
//
// PresignPart does no I/O.
func (s *S3) PresignPart(ctx context.Context, key, uploadID string, partNumber int, opts PartOptions, ttl time.Duration) (PresignedRequest, error) {
	size := opts.Size
	const op = "presign part"
	switch {
	case uploadID == "":
		return PresignedRequest{}, opError(op, errors.New("upload id is empty"))
	case partNumber < 1 || partNumber > multipart.MaxParts:
		return PresignedRequest{}, opError(op, fmt.Errorf("part number %d is out of range 1..%d", partNumber, multipart.MaxParts))
	case size < 0 || size > multipart.MaxPartSize:
		return PresignedRequest{}, opError(op, fmt.Errorf("part size %d is out of range 0..%d", size, multipart.MaxPartSize))
	}
	if opts.Checksum.Value != "" {
		if err := checkChecksum(opts.Checksum); err != nil {
			return PresignedRequest{}, opError(op, err)
		}
	}
	if r, ok := s.fastPresignPart(key, uploadID, partNumber, opts, ttl); ok { // presign.go
		return r, nil
	}
	headers := map[string]string{headerContentLength: strconv.FormatInt(size, 10)}
	if opts.Checksum.Value != "" {
		headers[opts.Checksum.Algorithm.Header()] = opts.Checksum.Value
	}
	if opts.ContentType != "" {
		headers[headerContentType] = opts.ContentType
	}
	query := url.Values{
		"partNumber": {strconv.Itoa(partNumber)},
		"uploadId":   {uploadID},
	}
	return s.presign(ctx, op, http.MethodPut, key, query, headers, ttl)
}

// PresignPut returns a presigned single PUT of key with Content-Length:
// size and Content-Type (application/octet-stream when opts has none)
// signed in, and opts' metadata as signed x-amz-meta-* headers. The
// returned Headers are exactly the headers the client must send.
//
// PresignPut does no I/O.
func (s *S3) PresignPut(ctx context.Context, key string, size int64, opts ObjectOptions, ttl time.Duration) (PresignedRequest, error) {
	const op = "presign put"
	if size < 0 || size > multipart.MaxSingleSize {
		return PresignedRequest{}, opError(op, fmt.Errorf("size %d is out of range 0..%d", size, multipart.MaxSingleSize))
	}
	if err := checkObjectOptions(opts); err != nil {
		return PresignedRequest{}, opError(op, err)
	}
	headers := metaHeaders(opts.Metadata)
	if headers == nil {
		headers = make(map[string]string, 2)
	}
	headers[headerContentLength] = strconv.FormatInt(size, 10)
	headers[headerContentType] = contentType(opts.ContentType)
	return s.presign(ctx, op, http.MethodPut, key, nil, headers, ttl)
}

// PresignGet returns a presigned GET of key. With opts.Attachment the
// response carries Content-Disposition: attachment, else, when
// opts.Filename is set, inline; either with that file name (an ASCII
// fallback plus the UTF-8 form, RFC 6266; only its last path element).
// With opts.ContentType the response carries that Content-Type instead of
// the object's.
//
// PresignGet does no I/O.
func (s *S3) PresignGet(ctx context.Context, key string, opts GetOptions, ttl time.Duration) (PresignedRequest, error) {
	var query url.Values
	if opts.Filename != "" || opts.Attachment {
		query = url.Values{"response-content-disposition": {disposition(opts.Attachment, opts.Filename)}}
	}
	if opts.ContentType != "" {
		if query == nil {
			query = url.Values{}
		}
		query.Set("response-content-type", opts.ContentType)
	}
	return s.presign(ctx, "presign get", http.MethodGet, key, query, nil, ttl)
}

// presign signs method on key with query and headers for ttl.
func (s *S3) presign(ctx context.Context, op, method, key string, query url.Values, headers map[string]string, ttl time.Duration) (PresignedRequest, error) {
	if err := checkKey(key); err != nil {
		return PresignedRequest{}, opError(op, err)
	}
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return PresignedRequest{}, opError(op, fmt.Errorf("ttl %v is out of range %v..%v", ttl, MinPresignTTL, MaxPresignTTL))
	}
	if r, ok := s.fastPresign(method, key, query, headers, ttl); ok {
		return r, nil
	}
	var signed http.Header
	if len(headers) > 0 {
		signed = make(http.Header, len(headers))
		for k, v := range headers {
			signed.Set(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u, err := s.signer.PresignHeader(ctx, method, s.bucket, key, ttl, query, signed)
	if err != nil {
		return PresignedRequest{}, s.fail(op, err)
	}
	return PresignedRequest{
		Method:    method,
		URL:       u.String(),
		Headers:   headers,
		ExpiresAt: expiresAt(u, ttl),
	}, nil
}

// expiresAt returns when the presigned URL u stops working: its signing
// time (X-Amz-Date, whole seconds) plus X-Amz-Expires. It falls back to
// now plus ttl, truncated to the second, if the URL lacks them.
func expiresAt(u *url.URL, ttl time.Duration) time.Time {
	q := u.Query()
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || err2 != nil {
		return time.Now().UTC().Truncate(time.Second).Add(ttl.Truncate(time.Second))
	}
	return signedAt.Add(time.Duration(secs) * time.Second)
}

// ListParts returns the parts the store holds for upload uploadID of key,
// in the store's order (ascending part numbers), reading every page. The
// ETags are normalised (multipart.NormalizeETag). When the listing names
// the upload's checksum algorithm, each part's Checksum is its checksum
// in that algorithm, as the store keeps it. An unknown upload gives an
// error wrapping ErrNotFound.
func (s *S3) ListParts(ctx context.Context, key, uploadID string) ([]multipart.Part, error) {
	const op = "list parts"
	if err := checkKey(key); err != nil {
		return nil, opError(op, err)
	}
	if uploadID == "" {
		// An empty upload id would turn the request into another one.
		return nil, opError(op, fmt.Errorf("%w: upload id is empty", ErrNotFound))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var parts []multipart.Part
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, key, uploadID, marker, listPartsPage)
		if err != nil {
			return nil, s.fail(op, err)
		}
		alg := listedAlgorithm(res)
		for _, p := range res.ObjectParts {
			parts = append(parts, multipart.Part{
				Number:   p.PartNumber,
				ETag:     multipart.NormalizeETag(p.ETag),
				Size:     p.Size,
				Checksum: partChecksum(p, alg),
			})
		}
		if !res.IsTruncated {
			return parts, nil
		}
		next := res.NextPartNumberMarker
		if next <= marker && len(res.ObjectParts) > 0 {
			next = res.ObjectParts[len(res.ObjectParts)-1].PartNumber
		}
		if next <= marker || len(parts) > multipart.MaxParts {
			return nil, opError(op, errors.New("the store's part listing does not advance"))
		}
		marker = next
	}
}

// CompleteMultipart builds the object from parts (ascending part
// numbers, ETags quoted or not) and returns its unquoted ETag and the
// checksum the store answered with. A part the store does not hold, a
// wrong ETag, parts out of order or a too-small part give an error
// wrapping ErrInvalidPart; an unknown upload one wrapping ErrNotFound.
//
// Checksums: a part's Checksum is sent with it as opts.Checksum.Algorithm
// (which must then be set, the upload's algorithm); opts.Checksum.Value,
// when set, is sent as the whole object's checksum, with
// opts.Checksum.Type as x-amz-checksum-type when set. A store that checks
// them answers a mismatch with an error wrapping ErrBadDigest.
// opts.IfNoneMatch sends If-None-Match: *: a store that honours it
// (Capabilities().ConditionalWrites) answers an existing object with an
// error wrapping ErrPrecondition. After either refusal the upload is
// still open.
func (s *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []multipart.Part, opts CompleteOptions) (ObjectInfo, error) {
	const op = "complete multipart upload"
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	switch {
	case uploadID == "":
		return ObjectInfo{}, opError(op, fmt.Errorf("%w: upload id is empty", ErrNotFound))
	case len(parts) == 0:
		return ObjectInfo{}, opError(op, fmt.Errorf("%w: no parts", ErrInvalidPart))
	case len(parts) > multipart.MaxParts:
		return ObjectInfo{}, opError(op, fmt.Errorf("%w: %d parts, at most %d allowed", ErrInvalidPart, len(parts), multipart.MaxParts))
	}
	alg := opts.Checksum.Algorithm
	if alg != "" && !alg.Valid() {
		return ObjectInfo{}, opError(op, fmt.Errorf("unknown checksum algorithm %q", alg))
	}
	complete := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		etag := multipart.NormalizeETag(p.ETag)
		if etag == "" {
			return ObjectInfo{}, opError(op, fmt.Errorf("%w: part %d has no ETag", ErrInvalidPart, p.Number))
		}
		complete[i] = minio.CompletePart{PartNumber: p.Number, ETag: `"` + etag + `"`}
		if p.Checksum != "" {
			if alg == "" {
				return ObjectInfo{}, opError(op, fmt.Errorf("part %d has a checksum but the options name no algorithm", p.Number))
			}
			if err := alg.Check(p.Checksum); err != nil {
				return ObjectInfo{}, opError(op, fmt.Errorf("part %d: %v", p.Number, err))
			}
			setPartChecksum(&complete[i], alg, p.Checksum)
		}
	}
	meta, err := completeHeaders(opts)
	if err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	putOpts := minio.PutObjectOptions{UserMetadata: meta}
	if opts.IfNoneMatch {
		putOpts.SetMatchETagExcept("*")
	}
	ctx, cancel := context.WithTimeout(ctx, s.completeTimeout)
	defer cancel()
	info, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, complete, putOpts)
	if err != nil {
		return ObjectInfo{}, s.fail(op, err)
	}
	return ObjectInfo{Size: info.Size, ETag: multipart.NormalizeETag(info.ETag), Checksum: uploadChecksum(info)}, nil
}

// AbortMultipart aborts upload uploadID of key and frees its parts. An
// unknown (or already aborted) upload gives an error wrapping
// ErrNotFound.
func (s *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	const op = "abort multipart upload"
	if err := checkKey(key); err != nil {
		return opError(op, err)
	}
	if uploadID == "" {
		return opError(op, fmt.Errorf("%w: upload id is empty", ErrNotFound))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, key, uploadID); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// ListUploads returns the incomplete multipart uploads whose keys start
// with prefix, reading every page.
func (s *S3) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	const op = "list multipart uploads"
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var uploads []Upload
	keyMarker, idMarker := "", ""
	for range maxUploadPages {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, prefix, keyMarker, idMarker, "", listUploadsPage)
		if err != nil {
			return nil, s.fail(op, err)
		}
		for _, u := range res.Uploads {
			uploads = append(uploads, Upload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated})
		}
		if !res.IsTruncated {
			return uploads, nil
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	return nil, opError(op, errors.New("the store's upload listing does not end"))
}

// Stat returns what the store knows of object key, its checksum
// included (asked with x-amz-checksum-mode: ENABLED; the zero Value when
// the store keeps or shows none). Metadata keys are lower case, without
// the x-amz-meta- prefix. A missing object gives an error wrapping
// ErrNotFound.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	const op = "stat"
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		return ObjectInfo{}, s.fail(op, err)
	}
	var meta map[string]string
	if len(info.UserMetadata) > 0 {
		meta = make(map[string]string, len(info.UserMetadata))
		for k, v := range info.UserMetadata {
			meta[strings.ToLower(k)] = v
		}
	}
	return ObjectInfo{
		Size:        info.Size,
		ETag:        multipart.NormalizeETag(info.ETag),
		ContentType: info.ContentType,
		Metadata:    meta,
		Checksum:    objectChecksum(info),
	}, nil
}

// Remove deletes object key. Removing a missing object is not an error
// (S3 answers a delete of a missing key with success).
func (s *S3) Remove(ctx context.Context, key string) error {
	const op = "remove"
	if err := checkKey(key); err != nil {
		return opError(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// Ping checks that the store answers and the bucket exists; a missing
// bucket gives an error wrapping ErrNotFound that names it.
func (s *S3) Ping(ctx context.Context) error {
	const op = "ping"
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return opError(op, fmt.Errorf("%w: bucket %q does not exist", ErrNotFound, s.bucket))
	}
	return nil
}

// EnsureBucket creates the bucket, in the configured region, unless it
// exists. It is meant for development mode and tests; in production the
// bucket is provisioned apart, with its lifecycle rules and CORS.
func (s *S3) EnsureBucket(ctx context.Context) error {
	const op = "ensure bucket"
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail(op, err)
	}
	if ok {
		return nil
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil {
		// Another process may have created it in between.
		switch minio.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil
		}
		return s.fail(op, err)
	}
	return nil
}

// fail translates err from the store and names the operation, with this
// adapter's credentials redacted from the message.
func (s *S3) fail(op string, err error) error {
	t := translate(err)
	var e *storeError
	if !errors.As(t, &e) {
		return t
	}
	e.op = op
	for _, secret := range s.secrets {
		if secret != "" {
			e.msg = strings.ReplaceAll(e.msg, secret, "[redacted]")
		}
	}
	return e
}

// opError reports a problem found without the store's help (a bad
// argument, an odd answer) in the same shape as a translated store
// error, keeping the package error that err wraps, if any.
func opError(op string, err error) error {
	for _, k := range []error{ErrNotFound, ErrInvalidPart, ErrAccessDenied, ErrUnavailable, ErrPrecondition, ErrBadDigest, ErrNotSupported} {
		if errors.Is(err, k) {
			return &storeError{op: op, kind: k, msg: strings.TrimPrefix(err.Error(), k.Error()+": ")}
		}
	}
	return &storeError{op: op, msg: err.Error()}
}

// checkKey rejects keys no store accepts.
func checkKey(key string) error {
	if key == "" {
		return errors.New("object key is empty")
	}
	if s3utils.CheckValidObjectName(key) != nil {
		return errors.New("object key is not valid UTF-8")
	}
	if len(key) > 1024 {
		return fmt.Errorf("object key is %d bytes, at most 1024 allowed", len(key))
	}
	return nil
}

// checkChecksum reports whether v names a known algorithm and holds a
// well-formed value of it.
func checkChecksum(v checksum.Value) error {
	if !v.Algorithm.Valid() {
		return fmt.Errorf("unknown checksum algorithm %q", v.Algorithm)
	}
	if checksumWellFormed(v) { // checksums.go: the common answer, without allocating
		return nil
	}
	return v.Algorithm.Check(v.Value)
}

// checkObjectOptions rejects a content type or metadata that cannot
// travel as request headers.
func checkObjectOptions(opts ObjectOptions) error {
	for i := 0; i < len(opts.ContentType); i++ {
		if c := opts.ContentType[i]; c < 0x20 || c > 0x7e {
			return errors.New("content type is not printable ASCII")
		}
	}
	return checkMetadata(opts.Metadata)
}

// checkMetadata rejects metadata that cannot travel as x-amz-meta-*
// headers: keys must be HTTP token characters (without the prefix) and
// values printable ASCII without surrounding spaces, since signing
// normalises white space and stores differ in how they treat the rest.
func checkMetadata(meta map[string]string) error {
	for k, v := range meta {
		if k == "" {
			return errors.New("metadata key is empty")
		}
		if strings.HasPrefix(strings.ToLower(k), metaPrefix) {
			return fmt.Errorf("metadata key %q must not have the %s prefix", k, metaPrefix)
		}
		for i := 0; i < len(k); i++ {
			if !isTokenChar(k[i]) {
				return fmt.Errorf("metadata key %q: only letters, digits and !#$%%&'*+-.^_`|~ are allowed", k)
			}
		}
		if v != strings.TrimSpace(v) {
			return fmt.Errorf("metadata value of %q has leading or trailing white space", k)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return fmt.Errorf("metadata value of %q is not printable ASCII", k)
			}
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP header name
// (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// metaHeaders turns metadata into x-amz-meta-* headers, names in lower
// case; nil for no metadata.
func metaHeaders(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	h := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		h[metaPrefix+strings.ToLower(k)] = v
	}
	return h
}

// contentType returns ct, or the S3 default when ct is empty.
func contentType(ct string) string {
	if ct == "" {
		return defaultContentType
	}
	return ct
}
