package httpapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// A request for a path that is a route under other methods (PATCH
// /v1/uploads/{id}) is answered 405 with an Allow header and the JSON
// error invalid_request, not 404: the route exists, the method does not.
// The table is read from the app's own routes once they are installed, so
// a new route is covered without a list to keep in step.

// routeMethods is one route pattern and the methods it answers.
type routeMethods struct {
	segs  []string // the pattern's segments; ":name" matches any one segment
	allow string   // "GET, HEAD, DELETE"
}

// methodError is the error of a 405: the fallback handlers return it, the
// error handler renders it with its Allow header.
type methodError struct {
	method, allow string
}

func (e *methodError) Error() string {
	return fmt.Sprintf("method %s not allowed on this route (allowed: %s)", e.method, e.allow)
}

// buildMethodTable records the methods of every route whose first segment
// is a literal: the API and the operational routes, not the demo page's
// "/:file", under which every path would seem to be a route.
func buildMethodTable(routes []fiber.Route) []routeMethods {
	byPath := map[string][]string{}
	var order []string
	for _, r := range routes {
		segs := splitPath(r.Path)
		if len(segs) == 0 || strings.HasPrefix(segs[0], ":") || strings.ContainsAny(r.Path, "*+?") {
			continue
		}
		if _, seen := byPath[r.Path]; !seen {
			order = append(order, r.Path)
		}
		if !slices.Contains(byPath[r.Path], r.Method) {
			byPath[r.Path] = append(byPath[r.Path], r.Method)
		}
	}
	table := make([]routeMethods, 0, len(order))
	for _, p := range order {
		ms := byPath[p]
		slices.SortFunc(ms, func(a, b string) int { return methodRank(a) - methodRank(b) })
		table = append(table, routeMethods{segs: splitPath(p), allow: strings.Join(ms, ", ")})
	}
	return table
}

// methodRank orders an Allow list the way people read one.
func methodRank(m string) int {
	if i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m); i >= 0 {
		return i
	}
	return 100
}

// methodNotAllowed returns the 405 error for c when its path is a route
// under other methods, else nil.
func (s *Server) methodNotAllowed(c *fiber.Ctx) error {
	path := c.Path()
	allow := ""
	for _, r := range s.methods {
		if !matchSegments(r.segs, path) {
			continue
		}
		if allow == "" {
			allow = r.allow
			continue
		}
		// Another pattern matches too (/s3/multipart/{id}/complete is
		// also /s3/multipart/{id}/{n}): the union.
		ms := strings.Split(allow, ", ")
		for m := range strings.SplitSeq(r.allow, ", ") {
			if !slices.Contains(ms, m) {
				ms = append(ms, m)
			}
		}
		slices.SortFunc(ms, func(a, b string) int { return methodRank(a) - methodRank(b) })
		allow = strings.Join(ms, ", ")
	}
	if allow == "" {
		return nil
	}
	method := c.Method()
	if len(method) > 16 {
		method = method[:16] + "..."
	}
	return &methodError{method: method, allow: allow}
}

// matchSegments reports whether path has the pattern's segments, without
// allocating: it walks path one segment at a time. Literal segments match
// in any case, as Fiber routes by default.
func matchSegments(segs []string, path string) bool {
	path = strings.Trim(path, "/")
	for i, seg := range segs {
		if path == "" {
			return false
		}
		cur, rest, found := strings.Cut(path, "/")
		if cur == "" || (!strings.HasPrefix(seg, ":") && !strings.EqualFold(cur, seg)) {
			return false
		}
		if !found {
			return i == len(segs)-1
		}
		path = rest
	}
	return path == ""
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
