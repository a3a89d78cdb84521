package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientHeaders copies the named request headers that are present (keyed
// by their canonical name, values copied out of Fiber's buffers), for the
// broker's Authorizer; nil when no header is named.
func clientHeaders(c *fiber.Ctx, names []string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if v := c.Get(n); v != "" {
			out[n] = strings.Clone(v)
		}
	}
	return out
}
