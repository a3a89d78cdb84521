package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chute-dev/chute/backends"
)

// probeOrigin is the origin the CORS probe sends for server.cors_origins
// "*" (any page): a name that can't be anyone's real origin.
const probeOrigin = "https://chute-doctor.invalid"

// probeCORS asks the store what a browser on each origin would: a
// preflight for a presigned PUT with a Content-Type header, then that PUT
// with an Origin header, whose answer must let the page read ETag. It
// finds CORS that a store applies without any bucket rule — a store-wide
// setting such as versitygw's --cors-allow-origin, which the embedded
// store of `chute dev` uses — and that GetBucketCors therefore can't show.
// It reports what a browser would run into first, or ok.
func probeCORS(ctx context.Context, s3 *backends.S3, hc *http.Client, origins []string) (detail string, ok bool) {
	for _, o := range origins {
		origin := o
		if o == "*" {
			origin = probeOrigin
		}
		if why := probeOne(ctx, s3, hc, origin); why != "" {
			if o == "*" {
				return fmt.Sprintf("from any origin (tried %s): %s", origin, why), false
			}
			return fmt.Sprintf("from %s: %s", origin, why), false
		}
	}
	return "", true
}

// probeOne runs the preflight and the PUT from origin and says what is
// wrong, or "".
func probeOne(ctx context.Context, s3 *backends.S3, hc *http.Client, origin string) string {
	data := []byte("chute doctor cors probe\n")
	key := testKey("-cors.txt")
	defer func() { _ = s3.Remove(context.WithoutCancel(ctx), key) }()
	put, err := s3.PresignPut(ctx, key, int64(len(data)), backends.ObjectOptions{ContentType: "text/plain"}, 5*time.Minute)
	if err != nil {
		return "could not presign the probe: " + err.Error()
	}

	pre, err := http.NewRequestWithContext(ctx, http.MethodOptions, put.URL, nil)
	if err != nil {
		return "could not build the preflight"
	}
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", http.MethodPut)
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := do(hc, pre)
	if err != nil {
		return "preflight: " + err.Error()
	}
	switch {
	case resp.StatusCode/100 != 2:
		return fmt.Sprintf("the preflight (OPTIONS) answered HTTP %d", resp.StatusCode)
	case !allowsOriginHeader(resp.Header, origin):
		return fmt.Sprintf("the preflight does not allow the origin (Access-Control-Allow-Origin %q)", resp.Header.Get("Access-Control-Allow-Origin"))
	case !listHas(resp.Header, "Access-Control-Allow-Methods", "PUT"):
		return fmt.Sprintf("the preflight does not allow PUT (Access-Control-Allow-Methods %q)", resp.Header.Get("Access-Control-Allow-Methods"))
	case !listHas(resp.Header, "Access-Control-Allow-Headers", "Content-Type"):
		return fmt.Sprintf("the preflight does not allow the Content-Type request header (Access-Control-Allow-Headers %q)", resp.Header.Get("Access-Control-Allow-Headers"))
	}

	req, err := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	if err != nil {
		return "could not build the PUT"
	}
	for k, v := range put.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Origin", origin)
	resp, err = do(hc, req)
	if err != nil {
		return "PUT: " + err.Error()
	}
	switch {
	case resp.StatusCode/100 != 2:
		return fmt.Sprintf("the PUT with an Origin header answered HTTP %d", resp.StatusCode)
	case !allowsOriginHeader(resp.Header, origin):
		return fmt.Sprintf("the PUT's answer does not allow the origin (Access-Control-Allow-Origin %q)", resp.Header.Get("Access-Control-Allow-Origin"))
	case !listHas(resp.Header, "Access-Control-Expose-Headers", "ETag"):
		return fmt.Sprintf("the PUT's answer does not expose ETag (Access-Control-Expose-Headers %q): browsers can't read part ETags", resp.Header.Get("Access-Control-Expose-Headers"))
	case resp.Header.Get("ETag") == "":
		return "the PUT's answer has no ETag"
	}
	return ""
}

// do sends req and returns the response with its body read and closed.
// Errors carry no URL (it is presigned).
func do(hc *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return nil, fmt.Errorf("request failed: %v", uerr.Err)
		}
		return nil, errors.New("request failed")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// allowsOriginHeader reports whether a CORS answer lets a page on origin
// read it: Access-Control-Allow-Origin is "*" or that origin.
func allowsOriginHeader(h http.Header, origin string) bool {
	v := strings.TrimSpace(h.Get("Access-Control-Allow-Origin"))
	return v == "*" || strings.EqualFold(v, origin)
}

// listHas reports whether the comma-separated header name lists v (case
// does not matter) or "*".
func listHas(h http.Header, name, v string) bool {
	for _, line := range h.Values(name) {
		for item := range strings.SplitSeq(line, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || strings.EqualFold(item, v) {
				return true
			}
		}
	}
	return false
}
