package backends

import (
	"context"
	"errors"
	"io"

	"github.com/minio/minio-go/v7"
)

// ReadHead returns the first n bytes of object key (fewer when the object
// is shorter; none for an empty object), fetched with one ranged GET. It
// is meant for checks of a file's magic bytes, not for reading content: n
// should be small. A missing object gives an error wrapping ErrNotFound.
func (s *S3) ReadHead(ctx context.Context, key string, n int64) ([]byte, error) {
	const op = "read head"
	if err := checkKey(key); err != nil {
		return nil, opError(op, err)
	}
	if n <= 0 {
		return nil, opError(op, errors.New("the byte count must be positive"))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var opts minio.GetObjectOptions
	if err := opts.SetRange(0, n-1); err != nil {
		return nil, opError(op, err)
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "InvalidRange" {
			return []byte{}, nil // an empty object has no byte 0
		}
		return nil, s.fail(op, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, n))
	if err != nil {
		return nil, s.fail(op, err)
	}
	return b, nil
}
