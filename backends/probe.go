package backends

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// Probed is what Probe found out about a store by trying.
type Probed struct {
	// PartChecksums lists the algorithms whose signed part checksums the
	// store checks (it refused a part whose bytes did not match).
	PartChecksums []checksum.Algorithm
	// FullObjectChecksums lists the CRCs for which the store refused a
	// complete with a wrong FULL_OBJECT value and took the right one.
	FullObjectChecksums []checksum.Algorithm
	// ListsPartChecksums: ListParts listed the part checksums.
	ListsPartChecksums bool
	// ConditionalWrites: a complete with If-None-Match: * onto an existing
	// object was refused.
	ConditionalWrites bool
	// ConditionalTested: the conditional-write check ran to its end (an
	// object was written and a complete onto it answered); when false,
	// ConditionalWrites says nothing.
	ConditionalTested bool
}

// ProbePrefix is the folder of the bucket where Probe writes its
// short-lived test objects (removed before it returns).
const ProbePrefix = ".chute-probe/"

// probeTimeout bounds a whole probe.
const probeTimeout = 20 * time.Second

// Probe finds out which checksums the store verifies and whether it
// honours conditional completes, by trying: for each algorithm it starts
// a multipart upload with that algorithm, PUTs a part whose signed
// checksum does not match its bytes (the store must refuse it), then the
// right part, and for the CRCs completes with a wrong FULL_OBJECT value
// (the store must refuse it) and then the right one; last it completes an
// upload with If-None-Match: * onto the object it made. Everything it
// writes lives under ProbePrefix and is removed. It makes about 40
// requests; an ability whose check fails or errs is reported as missing.
//
// The store's own preset (the provider table) is the better source where
// it claims anything: chute serve probes only stores whose preset is
// generic (docs/compatibility.md).
func (s *S3) Probe(ctx context.Context) (Probed, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var p Probed
	if err := s.Ping(ctx); err != nil {
		return p, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	base := ProbePrefix + hex.EncodeToString(rnd[:]) + "/"
	data := []byte("chute checks that this store verifies checksums\n")
	var made []string
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		for _, k := range made {
			_ = s.Remove(cctx, k)
		}
	}()
	for _, alg := range checksum.All {
		key := base + string(alg)
		id, listed, ok := s.probeParts(ctx, key, alg, data)
		if !ok {
			continue
		}
		p.PartChecksums = append(p.PartChecksums, alg)
		p.ListsPartChecksums = p.ListsPartChecksums || listed
		if alg.IsCRC() {
			// A store that takes the wrong whole value leaves an object
			// too, so the key is removed whatever the outcome.
			made = append(made, key)
			if s.probeFullObject(ctx, key, id, alg, data) {
				p.FullObjectChecksums = append(p.FullObjectChecksums, alg)
			}
		}
	}
	// Conditional completes: an object at the key, then a complete with
	// If-None-Match: * onto it.
	key := base + "conditional"
	if err := s.probePut(ctx, key, data); err == nil {
		made = append(made, key)
		p.ConditionalWrites, p.ConditionalTested = s.probeConditional(ctx, key, data)
	}
	return p, ctx.Err()
}

// probeParts starts an upload of key with alg and checks that the store
// refuses a part with a wrong checksum and takes the right one. For a CRC
// it leaves the upload open with its good part 1 and returns its id; it
// reports whether ListParts listed the part's checksum.
func (s *S3) probeParts(ctx context.Context, key string, alg checksum.Algorithm, data []byte) (string, bool, bool) {
	typ := checksum.Composite
	if alg.IsCRC() {
		typ = checksum.FullObject
	}
	id, err := s.CreateMultipart(ctx, key, ObjectOptions{ContentType: "text/plain", Checksum: alg, ChecksumType: typ})
	if err != nil {
		return "", false, false
	}
	abort := func() { _ = s.AbortMultipart(context.WithoutCancel(ctx), key, id) }
	wrong := alg.Sum([]byte("other bytes"))
	if st, _, err := s.probePart(ctx, key, id, alg, wrong, data); err != nil || st/100 == 2 {
		abort()
		return "", false, false // took bytes that do not match: not verified
	}
	st, etag, err := s.probePart(ctx, key, id, alg, alg.Sum(data), data)
	if err != nil || st != http.StatusOK || etag == "" {
		abort()
		return "", false, false
	}
	listed, err := s.ListParts(ctx, key, id)
	if err != nil || len(listed) != 1 {
		abort()
		return "", false, false
	}
	if !alg.IsCRC() {
		abort() // a COMPOSITE upload's part check is all that is probed
	}
	return id, listed[0].Checksum != "", true
}

// probePart PUTs data as part 1 of upload id with value signed as its alg
// checksum, and returns the status and ETag.
func (s *S3) probePart(ctx context.Context, key, id string, alg checksum.Algorithm, value string, data []byte) (int, string, error) {
	r, err := s.PresignPart(ctx, key, id, 1, PartOptions{Size: int64(len(data)), Checksum: checksum.Value{Algorithm: alg, Value: value}}, time.Minute)
	if err != nil {
		return 0, "", err
	}
	return s.probeSend(ctx, r, data)
}

// probeFullObject completes key's upload (left by probeParts) first with a
// wrong FULL_OBJECT value, which the store must refuse, then with the
// right one, which it must take.
func (s *S3) probeFullObject(ctx context.Context, key, id string, alg checksum.Algorithm, data []byte) bool {
	defer func() { _ = s.AbortMultipart(context.WithoutCancel(ctx), key, id) }()
	listed, err := s.ListParts(ctx, key, id)
	if err != nil || len(listed) != 1 {
		return false
	}
	part := listed[0]
	if part.Checksum == "" {
		part.Checksum = alg.Sum(data)
	}
	parts := []multipart.Part{part}
	wrong := checksum.Value{Algorithm: alg, Type: checksum.FullObject, Value: alg.Sum([]byte("other bytes"))}
	if _, err := s.CompleteMultipart(ctx, key, id, parts, CompleteOptions{Checksum: wrong}); err == nil {
		return false // took a wrong whole value
	}
	right := checksum.Value{Algorithm: alg, Type: checksum.FullObject, Value: alg.Sum(data)}
	if _, err := s.CompleteMultipart(ctx, key, id, parts, CompleteOptions{Checksum: right}); err != nil {
		return false
	}
	info, err := s.Stat(ctx, key)
	return err == nil && info.Checksum.Value == right.Value
}

// probePut stores data at key through a presigned PUT.
func (s *S3) probePut(ctx context.Context, key string, data []byte) error {
	r, err := s.PresignPut(ctx, key, int64(len(data)), ObjectOptions{ContentType: "text/plain"}, time.Minute)
	if err != nil {
		return err
	}
	st, _, err := s.probeSend(ctx, r, data)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("probe PUT: status %d", st)
	}
	return err
}

// probeConditional completes a one-part upload onto the existing object
// at key with If-None-Match: *; the store must refuse it. tested is false
// when the check could not get as far as the complete's answer.
func (s *S3) probeConditional(ctx context.Context, key string, data []byte) (honoured, tested bool) {
	id, err := s.CreateMultipart(ctx, key, ObjectOptions{ContentType: "text/plain"})
	if err != nil {
		return false, false
	}
	defer func() { _ = s.AbortMultipart(context.WithoutCancel(ctx), key, id) }()
	r, err := s.PresignPart(ctx, key, id, 1, PartOptions{Size: int64(len(data))}, time.Minute)
	if err != nil {
		return false, false
	}
	st, etag, err := s.probeSend(ctx, r, data)
	if err != nil || st != http.StatusOK {
		return false, false
	}
	_, err = s.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: etag, Size: int64(len(data))}}, CompleteOptions{IfNoneMatch: true})
	if errors.Is(err, ErrPrecondition) {
		return true, true
	}
	return false, err == nil
}

// probeSend sends a presigned request with data as its body.
func (s *S3) probeSend(ctx context.Context, r PresignedRequest, data []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	for k, v := range r.Headers {
		if k != headerContentLength {
			req.Header.Set(k, v)
		}
	}
	req.ContentLength = int64(len(data))
	resp, err := s.probeClient().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, multipart.NormalizeETag(resp.Header.Get("ETag")), nil
}

// probeClient sends the probe's presigned requests. The URLs carry the
// public endpoint, which the process may not reach; the probe then finds
// nothing and the store is treated as verifying nothing.
func (s *S3) probeClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second}
}

// SetProbed adds what a probe found to what the store's preset claims,
// for Capabilities. Call it before the store is used.
func (s *S3) SetProbed(p Probed) {
	s.probed = &p
}

func mergeAlgs(a, b []checksum.Algorithm) []checksum.Algorithm {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
