// Package webhook is the HTTP implementation of broker.Authorizer: before
// an upload is created, Chute POSTs the request (as
// broker.AuthorizeRequest JSON) to the application's URL, and the
// application answers a broker.Decision as JSON:
//
//	POST <url>   {"subject","filename","content_type","size","profile","metadata","headers"}
//	200          {"allow": true, "key_prefix": "...", "metadata": {...}, "max_size": 123}
//	200          {"allow": false, "message": "quota exceeded"}
//
// Every request carries X-Chute-Timestamp (unix seconds, when it was
// sent). With a secret configured it also carries X-Chute-Signature:
// "sha256=" and the hex HMAC-SHA256, under the secret, of the timestamp, a
// dot and the exact body — the webhooks' and the verify hook's signature
// (events.Sign) — so the application can tell Chute's calls from anyone
// else's, and refuse a captured call replayed later by its timestamp
// (VerifySignature).
//
// It fails closed: a timeout, a transport error, a status other than 2xx
// or an answer that is not such JSON is an error, which the broker turns
// into a refusal. Errors name what went wrong, never the secret or the
// request's headers.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/events"
)

// SignatureHeader carries the HMAC of the timestamp and the body when a
// secret is configured; TimestampHeader carries the timestamp (unix
// seconds).
const (
	SignatureHeader = "X-Chute-Signature"
	TimestampHeader = "X-Chute-Timestamp"
)

// MaxSkew is how far from the receiver's clock VerifySignature accepts a
// timestamp.
const MaxSkew = 5 * time.Minute

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// maxAnswer is the largest answer body read, in bytes.
const maxAnswer = 64 << 10

// Config configures an Authorizer.
type Config struct {
	// URL is the application's http(s) endpoint.
	URL string
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// Secret, when set, signs each body (SignatureHeader).
	Secret string
	// Client is the HTTP client (default: a new one with no redirects
	// followed).
	Client *http.Client
}

// Authorizer asks an application over HTTP. It is safe for concurrent use.
type Authorizer struct {
	url     string
	timeout time.Duration
	secret  string
	client  *http.Client
	now     func() time.Time
}

// New checks cfg and returns an Authorizer.
func New(cfg Config) (*Authorizer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook: url must be an http:// or https:// URL")
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("webhook: timeout must not be negative")
	}
	a := &Authorizer{url: cfg.URL, timeout: cfg.Timeout, client: cfg.Client, secret: cfg.Secret, now: time.Now}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	if a.client == nil {
		a.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer of its own: not 2xx
		}}
	}
	return a, nil
}

// Sign returns the SignatureHeader value of body sent at timestamp ts
// (unix seconds, as in TimestampHeader) under secret: "sha256=" and the
// hex HMAC-SHA256 of ts + "." + body.
func Sign(secret, ts string, body []byte) string { return events.Sign(secret, ts, body) }

// VerifySignature is the application's check of a call: it reports
// whether sig (the SignatureHeader) is the signature of body sent at ts
// (the TimestampHeader) under secret, and ts is within MaxSkew of now. A
// call captured and replayed after MaxSkew is refused; within it, a
// receiver that must refuse every replay keeps the signatures it has seen
// for MaxSkew.
func VerifySignature(secret, ts, sig string, body []byte, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > MaxSkew {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

// Authorize asks the application about req.
func (a *Authorizer) Authorize(ctx context.Context, req broker.AuthorizeRequest) (*broker.Decision, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	ts := strconv.FormatInt(a.now().Unix(), 10)
	hr.Header.Set(TimestampHeader, ts)
	if a.secret != "" {
		hr.Header.Set(SignatureHeader, Sign(a.secret, ts, body))
	}
	resp, err := a.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("webhook: no answer within %s", a.timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a token of the application's
		}
		return nil, fmt.Errorf("webhook: call failed: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: read answer: %v", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("webhook: answered status %d", resp.StatusCode)
	}
	if len(raw) > maxAnswer {
		return nil, fmt.Errorf("webhook: answer over %d bytes", maxAnswer)
	}
	var d struct {
		Allow    *bool             `json:"allow"`
		Message  string            `json:"message"`
		Prefix   string            `json:"key_prefix"`
		Metadata map[string]string `json:"metadata"`
		MaxSize  int64             `json:"max_size"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("webhook: answer is not the expected JSON: %v", err)
	}
	if d.Allow == nil {
		return nil, errors.New(`webhook: answer has no "allow"`)
	}
	return &broker.Decision{Allow: *d.Allow, Message: d.Message, KeyPrefix: d.Prefix, Metadata: d.Metadata, MaxSize: d.MaxSize}, nil
}
