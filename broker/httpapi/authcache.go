package httpapi

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// cachedAuthenticator is an Authenticator that can answer a token it
// verified recently from memory, with no context (auth.JWT's cache of
// verified tokens, auth.None). Cached accepts no token Authenticate would
// refuse (broker/auth/cache.go); a miss goes to Authenticate.
type cachedAuthenticator interface {
	Cached(token string) (subject string, ok bool)
}

// subjectOf authenticates token: from the authenticator's cache when it
// has one and holds the token, else with Authenticate under the request
// timeout. The cache hit skips a context and its timer per request.
//
// token may point into the request's buffers (Fiber's strings are only
// valid during the request): Cached reads it in place, Authenticate, which
// may keep what it is given, gets a copy.
func (s *Server) subjectOf(c *fiber.Ctx, token string) (string, error) {
	if ca, ok := s.authn.(cachedAuthenticator); ok {
		if sub, ok := ca.Cached(token); ok {
			return sub, nil
		}
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
	defer cancel()
	return s.authn.Authenticate(ctx, strings.Clone(token))
}
