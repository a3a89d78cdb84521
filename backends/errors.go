package backends

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/minio/minio-go/v7"
)

// storeError is a translated store error. Its message is built from
// parts known to be safe: the operation, the S3 error code, the HTTP
// status and a scrubbed, shortened message. It never holds the foreign
// error itself, so no minio-go type and no request URL escape; only a
// context error is kept, so errors.Is(err, context.DeadlineExceeded)
// works.
type storeError struct {
	op    string
	kind  error // one of the package's errors, or nil
	msg   string
	cause error // context.Canceled, context.DeadlineExceeded or nil
}

// Error returns "backends: <op>: <kind>: <detail>".
func (e *storeError) Error() string {
	var b strings.Builder
	b.WriteString("backends: ")
	if e.op != "" {
		b.WriteString(e.op)
		b.WriteString(": ")
	}
	if e.kind != nil {
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "store: "))
		b.WriteString(": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// Unwrap returns the kind and the context error, whichever are set.
func (e *storeError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// errorKinds maps S3 error codes to the package's errors. Providers
// disagree on codes: DigitalOcean Spaces answers NoSuchKey for a missing
// upload id, so NoSuchKey and NoSuchUpload both mean ErrNotFound.
var errorKinds = map[string]error{
	"NoSuchKey":    ErrNotFound,
	"NoSuchUpload": ErrNotFound,
	"NoSuchBucket": ErrNotFound,
	"NotFound":     ErrNotFound,

	"InvalidPart":      ErrInvalidPart,
	"InvalidPartOrder": ErrInvalidPart,
	"EntityTooSmall":   ErrInvalidPart,

	"AccessDenied":          ErrAccessDenied,
	"SignatureDoesNotMatch": ErrAccessDenied,
	"InvalidAccessKeyId":    ErrAccessDenied,
	"InvalidSecurity":       ErrAccessDenied,
	"ExpiredToken":          ErrAccessDenied,
	"InvalidToken":          ErrAccessDenied,
	"AccountProblem":        ErrAccessDenied,

	// A conditional write (If-None-Match: *) found an object in the way,
	// or raced another conditional write of the same key (AWS: 409).
	"PreconditionFailed":         ErrPrecondition,
	"ConditionalRequestConflict": ErrPrecondition,

	// The bytes, or the part checksums, do not match a checksum the
	// store was given: on a part PUT (AWS, versitygw and SeaweedFS answer
	// BadDigest) or at complete (BadDigest for a whole-object value).
	"BadDigest":                   ErrBadDigest,
	"InvalidDigest":               ErrBadDigest,
	"XAmzContentChecksumMismatch": ErrBadDigest,

	"SlowDown":           ErrUnavailable,
	"ServiceUnavailable": ErrUnavailable,
	"InternalError":      ErrUnavailable,
	"RequestTimeout":     ErrUnavailable,

	// Provider-specific spellings and relatives of the codes above.
	// A missing bucket configuration is "not found" too, so that a
	// caller can tell "none set" from "can't ask".
	"NoSuchLifecycleConfiguration": ErrNotFound, // AWS, GCS, Ceph
	"NoSuchCORSConfiguration":      ErrNotFound,
	"NoSuchVersion":                ErrNotFound,
	"XMinioInvalidPart":            ErrInvalidPart,
	// R2 answers InvalidPart ("All non-trailing parts must have the same
	// length") for unequal parts; some stores answer EntityTooLarge for
	// a part over 5 GiB, which is a bad part list too.
	"EntityTooLarge": ErrInvalidPart,
	// A wrong region (AWS answers AuthorizationHeaderMalformed), a
	// skewed clock, a missing signature: the request was not accepted as
	// signed.
	"AuthorizationHeaderMalformed":      ErrAccessDenied,
	"RequestTimeTooSkewed":              ErrAccessDenied,
	"MissingSecurityHeader":             ErrAccessDenied,
	"InvalidSignature":                  ErrAccessDenied, // reported for some gateways
	"AuthorizationQueryParametersError": ErrAccessDenied,
	"AllAccessDisabled":                 ErrAccessDenied,
	"Unauthorized":                      ErrAccessDenied, // B2's native spelling, reported on its S3 API
	"TooManyRequests":                   ErrUnavailable,  // R2, GCS (429)
	"Throttling":                        ErrUnavailable,
	"ServerBusy":                        ErrUnavailable,
	"XMinioServerNotInitialized":        ErrUnavailable,
	"BackendDown":                       ErrUnavailable, // versitygw
	// Operations a store does not implement (versitygw without CORS,
	// R2 and B2 without PostObject, GCS's XML API without some bucket
	// calls).
	"NotImplemented":       ErrNotSupported,
	"XNotImplemented":      ErrNotSupported,
	"MethodNotAllowed":     ErrNotSupported,
	"UnsupportedOperation": ErrNotSupported,
}

// IsNotSupported reports whether err says the store does not implement
// the operation.
func IsNotSupported(err error) bool { return errors.Is(err, ErrNotSupported) }

// Translate is translate for callers outside the package that call
// minio-go themselves (chute doctor): err as one of the package's errors,
// with op named and secrets (the given strings) redacted.
func Translate(op string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	s := &S3{secrets: secrets}
	return s.fail(op, err)
}

// translate turns an error from minio-go into one wrapping ErrNotFound,
// ErrInvalidPart, ErrAccessDenied or ErrUnavailable, or into a plain
// error for anything else. The result's message names the S3 error code
// and HTTP status but holds no URL query string and no credentials.
// A nil err gives nil.
//
// minio.ToErrorResponse uses a type switch, so it must see err before
// anything wraps it.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if resp := minio.ToErrorResponse(err); resp.Code != "" || resp.StatusCode != 0 {
		return &storeError{kind: kindOf(resp.Code, resp.StatusCode, resp.Message), msg: describe(resp)}
	}

	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &storeError{kind: ErrUnavailable, msg: "timed out", cause: context.DeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return &storeError{msg: "canceled", cause: context.Canceled}
	}

	var uerr *url.Error
	if errors.As(err, &uerr) {
		// The URL (with its query) is what must not escape; what the
		// transport said is enough.
		return &storeError{kind: ErrUnavailable, msg: "request failed: " + scrub(uerr.Err.Error())}
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return &storeError{kind: ErrUnavailable, msg: scrub(err.Error())}
	}
	return &storeError{msg: scrub(err.Error())}
}

// kindOf returns the package error for an S3 error code, falling back on
// the HTTP status for codes it does not know.
func kindOf(code string, status int, message string) error {
	if k, ok := errorKinds[code]; ok {
		return k
	}
	if code == "InvalidRequest" && checksumMismatch(message) {
		return ErrBadDigest
	}
	switch {
	case status == http.StatusPreconditionFailed:
		return ErrPrecondition
	case status == http.StatusNotImplemented:
		return ErrNotSupported
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrAccessDenied
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return ErrUnavailable
	}
	return nil
}

// checksumMismatch reports whether an InvalidRequest message says that a
// checksum did not match: some stores answer a checksum of the wrong
// algorithm, or a part checksum that is not the one they keep, that way.
func checksumMismatch(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "checksum") && (strings.Contains(m, "mismatch") || strings.Contains(m, "did not match") || strings.Contains(m, "does not match"))
}

// describe renders an S3 error response as "Code (HTTP 404): message".
func describe(resp minio.ErrorResponse) string {
	var b strings.Builder
	code := resp.Code
	if code == "" {
		code = "error"
	}
	b.WriteString(scrub(code))
	if resp.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", resp.StatusCode)
	}
	if resp.Message != "" {
		b.WriteString(": ")
		b.WriteString(scrub(resp.Message))
	}
	return b.String()
}

// maxMessage bounds the length of a scrubbed message.
const maxMessage = 200

var (
	// urlPattern matches anything that looks like an absolute URL.
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]*`)
	// queryPattern matches a path or word followed by a query string.
	queryPattern = regexp.MustCompile(`[^\s"'<>]*\?[^\s"'<>]*=[^\s"'<>]*`)
	// signingPattern matches signing parameters outside of a URL.
	signingPattern = regexp.MustCompile(`(?i)x-amz-(signature|credential|security-token)[=:]\s*[^\s&"'<>]*`)
)

// scrub removes URLs, query strings and signing parameters from s and
// shortens it, keeping whatever else a store or transport said.
func scrub(s string) string {
	s = urlPattern.ReplaceAllString(s, "[url]")
	s = queryPattern.ReplaceAllString(s, "[url]")
	s = signingPattern.ReplaceAllString(s, "[redacted]")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// isRuneStart reports whether b begins a UTF-8 sequence.
func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
