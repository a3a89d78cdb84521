package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// End-to-end checksums (API.md, "Checksums").
//
// A create may name an algorithm, and the whole file's value. Chute then
//   - creates the multipart upload with that algorithm (x-amz-checksum-
//     algorithm), FULL_OBJECT for a CRC the store keeps whole, so the
//     store requires and keeps a checksum of every part;
//   - signs a part's checksum into its URL when the client gives one
//     (part-urls "checksums"), and a single upload's whole value into its
//     one URL: the store refuses other bytes;
//   - at complete, sends every part's checksum as the store listed it,
//     and the whole value when the store keeps a FULL_OBJECT checksum of
//     that algorithm: the store refuses a mismatch. Otherwise (SHA256,
//     SHA1, or a store that keeps no whole CRC) it reads the object back
//     and hashes it. A mismatch leaves no object at the key.

// checksumOf validates a create's checksum request against the backend:
// the algorithm must be one the store verifies on parts.
func (s *Service) checksumOf(backend string, req *ChecksumRequest) (checksum.Algorithm, string, error) {
	if req == nil {
		return "", "", nil
	}
	if req.Algorithm == "" {
		return "", "", Errorf(CodeInvalidRequest, "checksum.algorithm: required (one of %s)", checksum.List(checksum.All))
	}
	alg, err := checksum.Parse(req.Algorithm)
	if err != nil {
		return "", "", Errorf(CodeInvalidRequest, "checksum.algorithm: %v", err)
	}
	caps := s.caps[backend].Checksums
	if !caps.VerifiesParts(alg) {
		if len(caps.Parts) == 0 {
			return "", "", Errorf(CodeInvalidRequest, "checksum.algorithm: this upload's store verifies no checksum algorithm")
		}
		return "", "", Errorf(CodeInvalidRequest, "checksum.algorithm: this upload's store cannot verify %s; it verifies %s", alg, checksum.List(caps.Parts))
	}
	if req.Value != "" {
		if err := alg.Check(req.Value); err != nil {
			return "", "", Errorf(CodeInvalidRequest, "checksum.value: %v", err)
		}
	}
	return alg, req.Value, nil
}

// checksumType is the multipart checksum type a session of alg gets on
// backend: FULL_OBJECT for a CRC the store keeps whole, else COMPOSITE.
func (s *Service) checksumType(backend string, alg checksum.Algorithm) checksum.Type {
	if alg == "" {
		return ""
	}
	if alg.IsCRC() && s.caps[backend].Checksums.KeepsFullObject(alg) {
		return checksum.FullObject
	}
	return checksum.Composite
}

// declaresAlgorithm reports whether a session of alg on backend creates its
// multipart upload with x-amz-checksum-algorithm. It does, except for a
// COMPOSITE checksum on a store whose ListParts does not list part
// checksums (SeaweedFS): S3 then wants every part's checksum repeated at
// complete, which only the client knew. Such an upload is created without
// the algorithm; the store still checks each signed part checksum, and
// complete checks the whole file by reading it back.
func (s *Service) declaresAlgorithm(backend string, alg checksum.Algorithm) bool {
	if alg == "" {
		return false
	}
	return s.checksumType(backend, alg) == checksum.FullObject || s.caps[backend].Checksums.ListsParts
}

// createOptions are the checksum options of a new upload of alg. A single
// upload without a declared value gets none: its one URL cannot carry a
// checksum the client has not told, and a store that was told the
// algorithm refuses a part without one. Complete then reads it back.
func (s *Service) createOptions(backend string, alg checksum.Algorithm, single bool, whole string) (checksum.Algorithm, checksum.Type) {
	if !s.declaresAlgorithm(backend, alg) || (single && whole == "") {
		return "", ""
	}
	return alg, s.checksumType(backend, alg)
}

// partChecksums reads a part-urls request's checksums for sess: the
// session's algorithm (or SHA256 through the older checksums_sha256).
func partChecksums(sess *session.Session, plan multipart.Plan, req *PartURLsRequest) (checksum.Algorithm, map[int]string, error) {
	alg := checksum.Algorithm(sess.ChecksumAlgorithm)
	field, given := "checksums", req.Checksums
	if len(req.ChecksumsSHA256) > 0 {
		if len(req.Checksums) > 0 {
			return "", nil, Errorf(CodeInvalidRequest, "checksums_sha256: give checksums or checksums_sha256, not both")
		}
		if alg != "" && alg != checksum.SHA256 {
			return "", nil, Errorf(CodeInvalidRequest, "checksums_sha256: this upload's checksum algorithm is %s: use checksums", alg)
		}
		alg, field, given = checksum.SHA256, "checksums_sha256", req.ChecksumsSHA256
	}
	if len(given) == 0 {
		return alg, nil, nil
	}
	if alg == "" {
		return "", nil, Errorf(CodeInvalidRequest, "checksums: this upload was created without a checksum algorithm (create with \"checksum\": {\"algorithm\": ...})")
	}
	sums := make(map[int]string, len(given))
	for k, v := range given {
		n, err := parsePartNumber(k)
		if err != nil || !plan.Valid(n) {
			return "", nil, Errorf(CodeInvalidRequest, "%s: %q is not a part number in 1..%d", field, truncate(k, 20), plan.PartCount)
		}
		if err := alg.Check(v); err != nil {
			return "", nil, Errorf(CodeInvalidRequest, "%s: part %d: %v", field, n, err)
		}
		sums[n] = v
	}
	return alg, sums, nil
}

// wholeChecksum is what a complete of sess sends to the store as the
// whole object's checksum: the declared value when the store checks it
// itself (FULL_OBJECT of a CRC it keeps), else the algorithm alone, which
// the store adapter needs to send the parts' checksums (a COMPOSITE
// upload's complete must repeat them).
func (s *Service) wholeChecksum(sess *session.Session) checksum.Value {
	alg := checksum.Algorithm(sess.ChecksumAlgorithm)
	if a, _ := s.createOptions(sess.Backend, alg, sess.Strategy == session.StrategySingle, sess.Checksum); a == "" {
		return checksum.Value{} // created without the algorithm
	}
	if sess.Checksum == "" || s.checksumType(sess.Backend, alg) != checksum.FullObject {
		return checksum.Value{Algorithm: alg}
	}
	return checksum.Value{Algorithm: alg, Type: checksum.FullObject, Value: sess.Checksum}
}

// verifyChecksum checks the stored object of sess against its declared
// checksum, after complete: the store's own FULL_OBJECT value when it
// reports one (and for a single-part object its part checksum, which is
// the whole file's), else a read-back hash. It returns the verified value
// ("" when the session declared none and the store reports none).
func (s *Service) verifyChecksum(ctx context.Context, sess *session.Session, info ObjectInfo, parts []multipart.Part) (string, error) {
	alg := checksum.Algorithm(sess.ChecksumAlgorithm)
	if alg == "" {
		return "", nil
	}
	stored := ""
	switch {
	case info.Checksum.Algorithm == alg && info.Checksum.Type != checksum.Composite && !isComposite(info.Checksum.Value):
		stored = info.Checksum.Value
	case len(parts) == 1 && parts[0].Checksum != "":
		stored = parts[0].Checksum
	}
	if sess.Checksum == "" {
		if stored == "" && sess.Strategy == session.StrategySingle && sess.Size <= multipart.MaxSingleSize {
			return s.readBack(ctx, sess, alg) // small: learn the value to show it
		}
		return stored, nil // nothing declared: show what the store keeps, if anything
	}
	if stored == "" {
		var err error
		if stored, err = s.readBack(ctx, sess, alg); err != nil {
			return "", err
		}
	}
	if stored != sess.Checksum {
		return "", &Error{Code: CodeIncomplete, Message: fmt.Sprintf("the stored object's %s checksum does not match the declared one: upload aborted", alg), Err: errWrongObject}
	}
	return stored, nil
}

// isComposite reports whether v is a COMPOSITE value ("...-N").
func isComposite(v string) bool {
	for i := len(v) - 1; i > 0; i-- {
		if v[i] == '-' {
			_, err := strconv.Atoi(v[i+1:])
			return err == nil
		}
	}
	return false
}

// readBack hashes the stored object of sess with alg.
func (s *Service) readBack(ctx context.Context, sess *session.Session, alg checksum.Algorithm) (string, error) {
	r := s.caps[sess.Backend].Reader
	if r == nil {
		return "", wrap(CodeInternal, fmt.Errorf("backend %s can neither keep a whole %s checksum nor read objects back", sess.Backend, alg), "Internal error.")
	}
	body, err := r.Open(ctx, sess.Key)
	if errors.Is(err, ErrNotFound) {
		return "", Errorf(CodeIncomplete, "the object has not been uploaded yet")
	}
	if err != nil {
		return "", s.storeError(err, "read object back")
	}
	defer body.Close()
	h := alg.New()
	if _, err := io.Copy(h, body); err != nil {
		return "", s.storeError(fmt.Errorf("%w: %w", ErrUnavailable, err), "read object back")
	}
	return checksum.Encode(h.Sum(nil)), nil
}

// checksumView is the session's checksum as the API shows it: the
// algorithm as soon as the session has one (so that a client resuming it
// knows what to sign), the value once declared or verified.
func (s *Service) checksumView(sess *session.Session) *Checksum {
	if sess.ChecksumAlgorithm == "" {
		return nil
	}
	return &Checksum{Algorithm: sess.ChecksumAlgorithm, Value: sess.Checksum}
}
