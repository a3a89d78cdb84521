package backends

import (
	"context"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Open streams object key (broker.ObjectReader). The store timeout bounds
// the request's start only: the body is read as long as the caller's ctx
// allows, since a large object takes longer than one call's timeout.
// Close the reader to free the connection.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	const op = "open"
	if err := checkKey(key); err != nil {
		return nil, opError(op, err)
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return body, nil
}

// Copy copies object src to dst inside the bucket (broker.Copier), with
// dst's content type and metadata replaced by opts'. With IfNoneMatch it
// sends If-None-Match: *, so a store that honours it refuses to replace
// an existing dst (ErrPrecondition).
func (s *S3) Copy(ctx context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error) {
	const op = "copy"
	if err := checkKey(src); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	if err := checkKey(dst); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	if err := checkMetadata(opts.Metadata); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	headers := map[string]string{
		"x-amz-metadata-directive": "REPLACE",
		headerContentType:          contentType(opts.ContentType),
	}
	for k, v := range metaHeaders(opts.Metadata) {
		headers[k] = v
	}
	if opts.IfNoneMatch {
		headers["If-None-Match"] = "*"
	}
	if opts.Checksum != "" {
		headers["x-amz-checksum-algorithm"] = string(opts.Checksum)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	info, err := s.core.CopyObject(ctx, s.bucket, src, s.bucket, dst, headers, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.fail(op, err)
	}
	return ObjectInfo{Size: info.Size, ETag: strings.Trim(info.ETag, `"`), ContentType: contentType(opts.ContentType)}, nil
}
