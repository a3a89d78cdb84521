// Package verifyhttp is the HTTP implementation of broker.Verifier: it
// POSTs a finished upload to a profile's verify hook and reads the
// application's verdict.
//
//	POST <url>
//	Content-Type: application/json
//	X-Chute-Event: upload.verify
//	X-Chute-Timestamp: 1764806400
//	X-Chute-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
//	{"type":"upload.verify","upload":{"id","subject","key","size","content_type",
//	 "metadata","etag","checksum"?,"download_url"}}
//
//	200 {"accept": true}
//	200 {"accept": false, "reason": "video is longer than 10 minutes"}
//
// The signature is the webhooks' own (events.Sign), so one receiver check
// serves both; without a secret the request is sent unsigned. Anything but
// a 200 whose JSON body has a boolean "accept" — another status, a
// redirect (not followed), a transport error, ctx's deadline — is an error:
// no verdict. Errors name what went wrong, never the secret, the hook's
// query string or the download URL.
package verifyhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/events"
)

// maxAnswer is the largest answer body read, in bytes.
const maxAnswer = 64 << 10

// Client asks verify hooks over HTTP. It is safe for concurrent use.
type Client struct {
	hc  *http.Client
	now func() time.Time
}

var _ broker.Verifier = (*Client)(nil)

// New returns a Client on hc; nil means a client of its own that follows
// no redirect. Each call is bounded by its context (the broker sets the
// hook's timeout), not by hc.
func New(hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is not a verdict
		}}
	}
	return &Client{hc: hc, now: time.Now}
}

// Body returns the request body for req, byte for byte what Verify sends
// (JSON without HTML escaping, so the download URL reads as it is).
func Body(req broker.VerifyRequest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(req); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Verify POSTs req to hook.URL and returns the verdict.
func (c *Client) Verify(ctx context.Context, hook broker.VerifyHook, req broker.VerifyRequest) (broker.Verdict, error) {
	body, err := Body(req)
	if err != nil {
		return broker.Verdict{}, fmt.Errorf("verify hook: encode request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return broker.Verdict{}, errors.New("verify hook: cannot build the request (check verify.url)")
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "chute-verify")
	hr.Header.Set("X-Chute-Event", broker.EventVerify)
	hr.Header.Set("X-Chute-Timestamp", ts)
	if hook.Secret != "" {
		hr.Header.Set("X-Chute-Signature", events.Sign(hook.Secret, ts, body))
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return broker.Verdict{}, fmt.Errorf("verify hook %s: no answer: %w", events.RedactURL(hook.URL), ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text names the URL, query string included
		}
		return broker.Verdict{}, fmt.Errorf("verify hook %s: request failed: %s", events.RedactURL(hook.URL), scrub(err.Error(), hook.URL, req.Upload.DownloadURL))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			return broker.Verdict{}, fmt.Errorf("verify hook %s: no whole answer: %w", events.RedactURL(hook.URL), ctx.Err())
		}
		return broker.Verdict{}, fmt.Errorf("verify hook %s: read answer: %v", events.RedactURL(hook.URL), err)
	}
	if resp.StatusCode != http.StatusOK {
		return broker.Verdict{}, fmt.Errorf("verify hook %s: answered status %d, not 200", events.RedactURL(hook.URL), resp.StatusCode)
	}
	if len(raw) > maxAnswer {
		return broker.Verdict{}, fmt.Errorf("verify hook %s: answer over %d bytes", events.RedactURL(hook.URL), maxAnswer)
	}
	var v struct {
		Accept *bool  `json:"accept"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return broker.Verdict{}, fmt.Errorf("verify hook %s: answer is not the expected JSON: %v", events.RedactURL(hook.URL), err)
	}
	if v.Accept == nil {
		return broker.Verdict{}, fmt.Errorf(`verify hook %s: answer has no boolean "accept"`, events.RedactURL(hook.URL))
	}
	return broker.Verdict{Accept: *v.Accept, Reason: v.Reason}, nil
}

// scrub removes the URLs in urls (whole, and their query strings) from msg.
func scrub(msg string, urls ...string) string {
	for _, u := range urls {
		if u == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, u, events.RedactURL(u))
		if i := strings.IndexByte(u, '?'); i >= 0 {
			msg = strings.ReplaceAll(msg, u[i:], "")
		}
	}
	return msg
}
