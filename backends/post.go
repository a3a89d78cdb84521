package backends

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/multipart"
)

// PresignPost returns a POST policy for key: the store accepts the form
// only for exactly that key, that Content-Type and metadata, a file length
// in MinSize..MaxSize, and until the ttl runs out. The store answers 204
// on success (the policy sets no success_action_status or redirect).
//
// PresignPost does no I/O: the region is set on the client, so minio-go
// does not look up the bucket location.
func (s *S3) PresignPost(ctx context.Context, key string, opts PostOptions, ttl time.Duration) (PresignedPost, error) {
	const op = "presign post"
	if err := checkKey(key); err != nil {
		return PresignedPost{}, opError(op, err)
	}
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return PresignedPost{}, opError(op, fmt.Errorf("ttl %v is out of range %v..%v", ttl, MinPresignTTL, MaxPresignTTL))
	}
	if opts.MinSize < 0 || opts.MaxSize < opts.MinSize || opts.MaxSize > multipart.MaxSingleSize {
		return PresignedPost{}, opError(op, fmt.Errorf("size range %d..%d is out of 0..%d", opts.MinSize, opts.MaxSize, multipart.MaxSingleSize))
	}
	if err := checkObjectOptions(ObjectOptions{ContentType: opts.ContentType, Metadata: opts.Metadata}); err != nil {
		return PresignedPost{}, opError(op, err)
	}
	// Whole seconds, so the reported expiry is the one in the policy.
	expires := time.Now().UTC().Add(ttl).Truncate(time.Second)
	p := minio.NewPostPolicy()
	for _, err := range []error{
		p.SetBucket(s.bucket),
		p.SetKey(key),
		p.SetExpires(expires),
		p.SetContentType(contentType(opts.ContentType)),
		p.SetContentLengthRange(opts.MinSize, opts.MaxSize),
	} {
		if err != nil {
			return PresignedPost{}, opError(op, err)
		}
	}
	for k, v := range opts.Metadata {
		if err := p.SetUserMetadata(k, v); err != nil {
			return PresignedPost{}, opError(op, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u, fields, err := s.signer.PresignedPostPolicy(ctx, p)
	if err != nil {
		return PresignedPost{}, s.fail(op, err)
	}
	return PresignedPost{URL: u.String(), Fields: fields, ExpiresAt: expires}, nil
}

// PresignPartUnsized is PresignPart without a signed Content-Length: for
// clients (Uppy through the Companion protocol) that never say how big a
// part will be. The store then accepts any part up to S3's part limit, so
// the caller must check the sizes before completing.
//
// PresignPartUnsized does no I/O.
func (s *S3) PresignPartUnsized(ctx context.Context, key, uploadID string, partNumber int, ttl time.Duration) (PresignedRequest, error) {
	const op = "presign part"
	switch {
	case uploadID == "":
		return PresignedRequest{}, opError(op, errors.New("upload id is empty"))
	case partNumber < 1 || partNumber > multipart.MaxParts:
		return PresignedRequest{}, opError(op, fmt.Errorf("part number %d is out of range 1..%d", partNumber, multipart.MaxParts))
	}
	if f := s.fast; f != nil && checkKey(key) == nil && ttl >= MinPresignTTL && ttl <= MaxPresignTTL {
		// The fast signer's parameter path (presign.go), without url.Values.
		var nb [8]byte
		params := [2]param{{"partNumber", string(strconv.AppendInt(nb[:0], int64(partNumber), 10))}, {"uploadId", uploadID}}
		if u, exp, ok := f.presignParams(time.Now(), http.MethodPut, key, params[:], nil, ttl); ok {
			return PresignedRequest{Method: http.MethodPut, URL: u, ExpiresAt: exp}, nil
		}
	}
	query := url.Values{
		"partNumber": {strconv.Itoa(partNumber)},
		"uploadId":   {uploadID},
	}
	return s.presign(ctx, op, http.MethodPut, key, query, nil, ttl)
}
