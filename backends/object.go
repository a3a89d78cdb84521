package backends

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// Open streams object key (broker.ObjectReader), for reading a whole
// object back (a checksum the store does not keep). The store must
// answer within the adapter's timeout; the body then reads for as long
// as ctx lives, however long that takes, until Close. Read errors are
// translated like every store error. A missing object gives an error
// wrapping ErrNotFound.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	const op = "open"
	if err := checkKey(key); err != nil {
		return nil, opError(op, err)
	}
	// One context for the request and the body; the timer bounds only
	// the wait for the answer's headers.
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.timeout, cancel)
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if !timer.Stop() {
		// The timer fired: whatever GetObject says, the answer came late.
		if err == nil {
			_ = body.Close()
		}
		cancel()
		return nil, &storeError{op: op, kind: ErrUnavailable, msg: "timed out waiting for the store's answer", cause: context.DeadlineExceeded}
	}
	if err != nil {
		cancel()
		return nil, s.fail(op, err)
	}
	return &objectBody{s: s, body: body, cancel: cancel}, nil
}

// objectBody is an object's bytes as Open returns them.
type objectBody struct {
	s      *S3
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (b *objectBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.s.fail("read object", err)
	}
	return n, err
}

func (b *objectBody) Close() error {
	err := b.body.Close()
	b.cancel()
	return err
}

// Copy copies object src to dst inside the bucket (broker.Copier), with
// the store's CopyObject: the bytes never pass through Chute. The copy
// gets opts' content type (application/octet-stream when empty) and
// metadata in place of the source's (x-amz-metadata-directive: REPLACE).
// opts.Checksum asks the store to compute and keep that algorithm's
// checksum for the copy (x-amz-checksum-algorithm). opts.IfNoneMatch
// sends If-None-Match: *: a store that honours it on CopyObject
// (Capabilities().ConditionalCopy; AWS does, versitygw v1.8.0 ignores it)
// then answers an existing dst with an error wrapping ErrPrecondition.
//
// It returns what Stat tells of dst after the copy. A missing src gives
// an error wrapping ErrNotFound. S3 copies at most 5 GiB in one
// CopyObject; larger objects fail with the store's error.
func (s *S3) Copy(ctx context.Context, src, dst string, opts CopyOptions) (ObjectInfo, error) {
	const op = "copy"
	if err := checkKey(src); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	if err := checkKey(dst); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	if err := checkObjectOptions(ObjectOptions{ContentType: opts.ContentType, Metadata: opts.Metadata}); err != nil {
		return ObjectInfo{}, opError(op, err)
	}
	if opts.Checksum != "" && !opts.Checksum.Valid() {
		return ObjectInfo{}, opError(op, errors.New("unknown checksum algorithm "+string(opts.Checksum)))
	}
	headers := metaHeaders(opts.Metadata)
	if headers == nil {
		headers = make(map[string]string, 4)
	}
	headers[headerMetadataDirective] = "REPLACE"
	headers[headerContentType] = contentType(opts.ContentType)
	if opts.IfNoneMatch {
		headers[headerIfNoneMatch] = "*"
	}
	if opts.Checksum != "" {
		headers[headerChecksumAlgorithm] = string(opts.Checksum)
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.core.CopyObject(cctx, s.bucket, src, s.bucket, dst, headers, minio.CopySrcOptions{}, minio.PutObjectOptions{}); err != nil {
		return ObjectInfo{}, s.fail(op, err)
	}
	return s.Stat(ctx, dst)
}
