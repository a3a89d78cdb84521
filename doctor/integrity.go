package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// The integrity checks probe what the store does with part checksums and
// conditional writes, and compare it with what the provider preset
// claims (the claims are what Chute relies on: docs/compatibility.md).

// checkChecksums probes every checksum algorithm: a part PUT whose bytes
// do not match its signed checksum must be refused, and one that matches
// accepted. A claimed algorithm the store does not check fails.
func checkChecksums(ctx context.Context, s3 *backends.S3, hc *http.Client, p backends.Preset) Result {
	const name = "checksums"
	var verified, unverified, notes []string
	for _, a := range checksum.All {
		ok, note := probePartChecksum(ctx, s3, hc, a)
		if ok {
			verified = append(verified, string(a))
			continue
		}
		unverified = append(unverified, string(a))
		if note != "" {
			notes = append(notes, string(a)+": "+note)
		}
	}
	var missing []string
	for _, a := range p.PartChecksums {
		if !slices.Contains(verified, string(a)) {
			missing = append(missing, string(a))
		}
	}
	detail := "part checksums verified by the store: " + listOr(verified, "none")
	if len(unverified) > 0 {
		detail += "; not verified: " + strings.Join(unverified, ", ")
	}
	if len(notes) > 0 {
		detail += " (" + strings.Join(notes, "; ") + ")"
	}
	switch {
	case len(missing) > 0:
		return Result{Name: name, Status: Fail,
			Detail: fmt.Sprintf("%s; but provider %q says the store checks %s", detail, p.Name, strings.Join(missing, ", ")),
			Fix:    "check the backend's provider setting; a store that accepts parts whose bytes do not match their signed checksum lets corrupted uploads through where Chute relies on it"}
	case len(verified) == 0:
		return Result{Name: name, Status: Warn, Detail: detail,
			Fix: "Chute then checks a declared checksum at complete by reading the object back (slower for large files); see docs/compatibility.md"}
	case len(p.PartChecksums) == 0:
		detail += fmt.Sprintf(" (provider %q claims none, so Chute relies on none)", p.Name)
	}
	return Result{Name: name, Status: OK, Detail: detail}
}

// probePartChecksum reports whether the store refuses a part whose bytes
// do not match its signed checksum of a and takes the matching one; note
// says why a probe could not tell.
func probePartChecksum(ctx context.Context, s3 *backends.S3, hc *http.Client, a checksum.Algorithm) (bool, string) {
	key := testKey("-" + strings.ToLower(string(a)) + ".bin")
	id, err := s3.CreateMultipart(ctx, key, backends.ObjectOptions{Checksum: a})
	if err != nil {
		return false, "create refused: " + shortErr(err)
	}
	defer func() { _ = s3.AbortMultipart(context.WithoutCancel(ctx), key, id) }()
	data := []byte("chute doctor checksum probe " + string(a) + "\n")
	presign := func(v string) (backends.PresignedRequest, error) {
		return s3.PresignPart(ctx, key, id, 1, backends.PartOptions{Size: int64(len(data)), Checksum: checksum.Value{Algorithm: a, Value: v}}, 5*time.Minute)
	}
	bad, err := presign(a.Sum([]byte("other bytes")))
	if err != nil {
		return false, err.Error()
	}
	status, _, _, err := send(ctx, hc, bad, data)
	if err != nil {
		return false, "part PUT: " + err.Error()
	}
	if status/100 == 2 {
		return false, ""
	}
	good, err := presign(a.Sum(data))
	if err != nil {
		return false, err.Error()
	}
	status, _, body, err := send(ctx, hc, good, data)
	switch {
	case err != nil:
		return false, "part PUT: " + err.Error()
	case status/100 != 2:
		return false, fmt.Sprintf("the matching part was refused too (HTTP %d%s)", status, s3Code(body))
	}
	return true, ""
}

// checkConditionalWrites completes a tiny upload with If-None-Match: *
// onto a key that holds an object: a store that honours it refuses
// (ErrPrecondition) and keeps the object.
func checkConditionalWrites(ctx context.Context, s3 *backends.S3, hc *http.Client, p backends.Preset) Result {
	const name = "conditional writes"
	key := testKey("-exists.bin")
	defer func() { _ = s3.Remove(context.WithoutCancel(ctx), key) }()
	put, err := s3.PresignPut(ctx, key, 6, backends.ObjectOptions{}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Warn, Detail: "could not test: " + err.Error()}
	}
	if status, _, body, err := send(ctx, hc, put, []byte("first\n")); err != nil || status/100 != 2 {
		return Result{Name: name, Status: Warn, Detail: fmt.Sprintf("could not test: PUT answered HTTP %d%s %v", status, s3Code(body), errText(err))}
	}
	id, err := s3.CreateMultipart(ctx, key, backends.ObjectOptions{})
	if err != nil {
		return Result{Name: name, Status: Warn, Detail: "could not test: " + err.Error()}
	}
	done := false
	defer func() {
		if !done {
			_ = s3.AbortMultipart(context.WithoutCancel(ctx), key, id)
		}
	}()
	data := []byte("second\n")
	part, err := s3.PresignPart(ctx, key, id, 1, backends.PartOptions{Size: int64(len(data))}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Warn, Detail: "could not test: " + err.Error()}
	}
	status, etag, body, err := send(ctx, hc, part, data)
	if err != nil || status/100 != 2 || etag == "" {
		return Result{Name: name, Status: Warn, Detail: fmt.Sprintf("could not test: part PUT answered HTTP %d%s %v", status, s3Code(body), errText(err))}
	}
	_, err = s3.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: etag, Size: int64(len(data))}}, backends.CompleteOptions{IfNoneMatch: true})
	honoured := errors.Is(err, backends.ErrPrecondition)
	switch {
	case err == nil:
		done = true
	case !honoured:
		return Result{Name: name, Status: Warn, Detail: "could not test: " + shortErr(err)}
	}
	switch {
	case honoured && p.ConditionalWrites:
		return Result{Name: name, Status: OK, Detail: "If-None-Match: * is honoured: a completed upload never replaces an existing object"}
	case honoured:
		return Result{Name: name, Status: Warn,
			Detail: fmt.Sprintf("the store honours If-None-Match: *, but provider %q does not claim it, so Chute does not rely on it", p.Name),
			Fix:    "key templates with {id} never collide; without {id}, an upload may replace an existing object"}
	case p.ConditionalWrites:
		return Result{Name: name, Status: Fail,
			Detail: fmt.Sprintf("a complete with If-None-Match: * replaced an existing object, although provider %q says the store refuses that", p.Name),
			Fix:    "check the backend's provider setting; until then, give every profile a key template with {id}"}
	}
	return Result{Name: name, Status: Warn, Detail: "the store ignores If-None-Match: *: Chute cannot stop a completed upload from replacing an existing object",
		Fix: "give every profile a key template with {id} (keys never collide then)"}
}

// listOr joins s, or says alt when s is empty.
func listOr(s []string, alt string) string {
	if len(s) == 0 {
		return alt
	}
	return strings.Join(s, ", ")
}

// shortErr is a store error without the "backends: " prefix.
func shortErr(err error) string {
	return strings.TrimPrefix(err.Error(), "backends: ")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
