package config

import (
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// headerName is an HTTP header name (an RFC 9110 token).
var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// MaxAuthorizerTimeout bounds auth.authorizer.timeout: the webhook is
// called on every create, inside the request's own time budget.
const MaxAuthorizerTimeout = Duration(30 * time.Second)

// validateAuthorizer checks auth.authorizer. The headers that carry the
// client's credentials may not be passed on to the webhook.
func validateAuthorizer(a *Authorizer, add func(key, format string, args ...any)) {
	const key = "auth.authorizer"
	if a.URL != "" {
		if msg := checkHTTPURL(a.URL); msg != "" {
			add(key+".url", "%s", msg)
		}
	} else if a.Secret != "" || len(a.Headers) > 0 {
		add(key+".url", "required when auth.authorizer.secret or headers is set")
	}
	if a.Timeout <= 0 || a.Timeout > MaxAuthorizerTimeout {
		add(key+".timeout", "%s is not between 0s (excluded) and %s", a.Timeout, MaxAuthorizerTimeout)
	}
	for i, h := range a.Headers {
		k := fmt.Sprintf("%s.headers[%d]", key, i)
		switch http.CanonicalHeaderKey(h) {
		case "Authorization", "Cookie", "Proxy-Authorization":
			add(k, "%s carries the client's credentials and is never passed on", h)
			continue
		}
		if !headerName.MatchString(h) {
			add(k, "%q is not a header name", h)
		}
	}
}
