package broker

// Upload authorization by the application: before an upload is created,
// an optional Authorizer (see Config.Authorizer) is asked whether the
// subject may upload this file, and may narrow what it gets — a key
// prefix, extra object metadata, a lower size limit. It fails closed: an
// Authorizer that errs, or answers something Chute cannot apply, denies.

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on an Authorizer's answer.
const (
	// MaxDenyMessage is the longest deny message shown to a client, in
	// characters; longer ones are cut.
	MaxDenyMessage = 200
	// MaxKeyPrefix is the longest key prefix an Authorizer may set, in bytes.
	MaxKeyPrefix = 256
)

// msgNotAuthorized is what a client is told when the Authorizer failed
// or gave an answer that cannot be applied (details go to the log).
const msgNotAuthorized = "upload not authorized"

// Authorizer decides whether an upload may be created. Package
// broker/webhook has the HTTP implementation. An error means "could not
// decide": the upload is refused (403) and the error logged, never shown.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthorizeRequest) (*Decision, error)
}

// AuthorizeRequest is what an Authorizer is asked about: the upload as the
// client asked for it (content type normalised) and the client's
// allowlisted request headers.
type AuthorizeRequest struct {
	Subject     string `json:"subject"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	// Size is nil when the client does not tell it (the Uppy-compatible
	// routes).
	Size     *int64            `json:"size"`
	Profile  string            `json:"profile"`
	Metadata map[string]string `json:"metadata"`
	Headers  map[string]string `json:"headers"`
}

// Decision is an Authorizer's answer.
type Decision struct {
	// Allow lets the upload be created.
	Allow bool `json:"allow"`
	// Message, on a deny, is shown to the client (cut to MaxDenyMessage
	// printable characters).
	Message string `json:"message"`
	// KeyPrefix, when set, is prepended to the key the profile's template
	// renders ("tenant-7/" gives "tenant-7/alice/2026/…"). It may not
	// contain "..", start with "/" or hold control characters, and is at
	// most MaxKeyPrefix bytes.
	KeyPrefix string `json:"key_prefix"`
	// Metadata is merged into the client's metadata (its entries win);
	// the result must pass the usual metadata rules.
	Metadata map[string]string `json:"metadata"`
	// MaxSize, when positive, lowers the profile's max_size for this
	// upload (it never raises it).
	MaxSize int64 `json:"max_size"`
}

// grant is a Decision checked and ready to apply.
type grant struct {
	keyPrefix string
	metadata  map[string]string
	maxSize   int64 // 0: no override
	// refuse logs a cause and returns the generic refusal.
	refuse func(error) *Error
}

// authorize asks the Authorizer, if there is one, about an upload whose
// request has been validated against prof. size is nil when unknown.
func (s *Service) authorize(ctx context.Context, subject, profile string, req *CreateRequest, size *int64, headers map[string]string) (*grant, error) {
	if s.authorizer == nil {
		return &grant{metadata: req.Metadata}, nil
	}
	md := req.Metadata
	if md == nil {
		md = map[string]string{}
	}
	if headers == nil {
		headers = map[string]string{}
	}
	d, err := s.authorizer.Authorize(ctx, AuthorizeRequest{
		Subject: subject, Filename: req.Filename, ContentType: req.ContentType, Size: size,
		Profile: profile, Metadata: md, Headers: headers,
	})
	if err != nil {
		return nil, s.refuse(subject, fmt.Errorf("authorizer: %w", err))
	}
	if d == nil {
		return nil, s.refuse(subject, fmt.Errorf("authorizer: no answer"))
	}
	if !d.Allow {
		msg := sanitizeMessage(d.Message)
		if msg == "" {
			msg = msgNotAuthorized
		}
		return nil, Errorf(CodeForbidden, "%s", msg)
	}
	g := &grant{keyPrefix: d.KeyPrefix, maxSize: d.MaxSize, refuse: func(err error) *Error { return s.refuse(subject, err) }}
	if err := checkKeyPrefix(d.KeyPrefix); err != nil {
		return nil, s.refuse(subject, fmt.Errorf("authorizer: key_prefix: %w", err))
	}
	if d.MaxSize < 0 {
		return nil, s.refuse(subject, fmt.Errorf("authorizer: max_size %d is negative", d.MaxSize))
	}
	if err := validateMetadata(d.Metadata); err != nil {
		return nil, s.refuse(subject, fmt.Errorf("authorizer: metadata: %w", err))
	}
	if len(d.Metadata) == 0 {
		g.metadata = req.Metadata
	} else {
		g.metadata = make(map[string]string, len(req.Metadata)+len(d.Metadata))
		for k, v := range req.Metadata {
			g.metadata[k] = v
		}
		for k, v := range d.Metadata {
			g.metadata[k] = v
		}
		if err := validateMetadata(g.metadata); err != nil {
			return nil, err // the client's metadata and the app's do not fit together
		}
	}
	if size != nil && g.maxSize > 0 && *size > g.maxSize {
		return nil, Errorf(CodeTooLarge, "size: %d bytes is over the limit of %d for this upload", *size, g.maxSize)
	}
	return g, nil
}

// refuse logs why an upload is refused for a failing or unusable
// Authorizer and returns the generic refusal shown to the client.
func (s *Service) refuse(subject string, cause error) *Error {
	s.log.Warn("upload not authorized", "subject", subject, "err", cause)
	return wrap(CodeForbidden, cause, msgNotAuthorized)
}

// applyKey prepends the granted prefix to a rendered key and checks the
// result.
func (g *grant) applyKey(key string) (string, error) {
	if g.keyPrefix == "" {
		return key, nil
	}
	full := g.keyPrefix + key
	if err := checkKey(full); err != nil {
		return "", g.refuse(fmt.Errorf("authorizer: key_prefix gives a bad key: %w", err))
	}
	return full, nil
}

// checkKeyPrefix reports what is wrong with an Authorizer's key prefix.
func checkKeyPrefix(p string) error {
	switch {
	case len(p) > MaxKeyPrefix:
		return fmt.Errorf("%d bytes, over %d", len(p), MaxKeyPrefix)
	case !utf8.ValidString(p):
		return fmt.Errorf("not UTF-8")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("starts with /")
	case strings.Contains(p, ".."):
		return fmt.Errorf(`contains ".."`)
	case strings.Contains(p, "//"):
		return fmt.Errorf("contains an empty segment")
	case hasControl(p):
		return fmt.Errorf("contains a control character")
	}
	return nil
}

// sanitizeMessage keeps the printable characters of an Authorizer's deny
// message (other runes become spaces), trimmed, at most MaxDenyMessage
// characters.
func sanitizeMessage(m string) string {
	if !utf8.ValidString(m) {
		m = strings.ToValidUTF8(m, " ")
	}
	var b strings.Builder
	n := 0
	for _, r := range m {
		if n == MaxDenyMessage {
			break
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// ClientHeaderNames returns the request headers the HTTP layer should pass
// on (CreateRequest.ClientHeaders, OpenRequest.ClientHeaders); none
// without an Authorizer.
func (s *Service) ClientHeaderNames() []string {
	if s.authorizer == nil {
		return nil
	}
	return s.headers
}
