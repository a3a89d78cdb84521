package metrics

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Unmatched is the route label of requests that match no route: unknown
// paths, and methods a path does not have (CORS preflights included).
const Unmatched = "unmatched"

// Middleware returns a Fiber handler that counts every request in
// chute_http_requests_total and times it in
// chute_http_request_duration_seconds. Install it before the other
// middleware so that it sees the final status; an error returned by the
// handlers below is rendered with the app's error handler first.
//
// The route label is the pattern of the app's route that the request's
// method and path match (e.g. /v1/uploads/:id), whether or not the handler
// ran (a request refused by the authentication middleware still has its
// route); requests matching no route get "unmatched". The method label is
// the request's method when it is a standard one, else "other". Neither
// ever carries a raw path.
func (m *Metrics) Middleware() fiber.Handler {
	var (
		once   sync.Once
		routes *routeTable
	)
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		// The routes are all registered by the time requests arrive.
		once.Do(func() { routes = newRouteTable(c.App().GetRoutes(true)) })
		method := methodLabel(c.Method())
		route := routes.match(c.Method(), c.Path())
		status := strconv.Itoa(c.Response().StatusCode())
		m.httpRequests.WithLabelValues(route, method, status).Inc()
		m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// methodLabel returns a constant for method: the string Fiber returns is
// backed by a buffer it reuses, and label values are kept.
func methodLabel(method string) string {
	for _, m := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions} {
		if method == m {
			return m
		}
	}
	return "other"
}

// routeTable matches request paths to route patterns, the most specific
// pattern first: at the first segment where two patterns differ, a fixed
// segment beats a parameter.
type routeTable struct {
	byMethod map[string][]pattern
}

type pattern struct {
	path string
	segs []string
}

func newRouteTable(rs []fiber.Route) *routeTable {
	t := &routeTable{byMethod: map[string][]pattern{}}
	seen := map[string]bool{}
	for _, r := range rs {
		k := r.Method + " " + r.Path
		if seen[k] {
			continue
		}
		seen[k] = true
		t.byMethod[r.Method] = append(t.byMethod[r.Method], pattern{path: r.Path, segs: split(r.Path)})
	}
	for _, ps := range t.byMethod {
		sort.SliceStable(ps, func(i, j int) bool { return moreSpecific(ps[i].segs, ps[j].segs) })
	}
	return t
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isParam(seg string) bool {
	return strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") || strings.HasPrefix(seg, "+")
}

func moreSpecific(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		pa, pb := isParam(a[i]), isParam(b[i])
		if pa != pb {
			return !pa
		}
	}
	return len(a) > len(b)
}

// match returns the pattern of the first route of method matching path,
// or Unmatched.
func (t *routeTable) match(method, path string) string {
	segs := split(path)
	for _, p := range t.byMethod[method] {
		if matches(p.segs, segs) {
			return p.path
		}
	}
	return Unmatched
}

// matches tells whether a path's segments fit a Fiber pattern's: ":name"
// takes one non-empty segment (":name?" may be absent), "*" or "+" the
// rest of the path (which "+" needs non-empty); any other segment must be
// equal but for case, as in Fiber's default routing.
func matches(pat, segs []string) bool {
	for i, p := range pat {
		switch {
		case p == "*" || strings.HasPrefix(p, "*"):
			return true
		case p == "+" || strings.HasPrefix(p, "+"):
			return i < len(segs)
		case strings.HasPrefix(p, ":") && strings.HasSuffix(p, "?"):
			if i >= len(segs) {
				return i == len(pat)-1
			}
		case strings.HasPrefix(p, ":"):
			if i >= len(segs) || segs[i] == "" {
				return false
			}
		default:
			if i >= len(segs) || !strings.EqualFold(segs[i], p) {
				return false
			}
		}
	}
	return len(segs) == len(pat)
}

// RoutePatterns returns a function naming the route pattern that a
// request's method and path match among routes, or Unmatched: the route
// label of Middleware. Package tracing names server spans with it.
func RoutePatterns(routes []fiber.Route) func(method, path string) string {
	return newRouteTable(routes).match
}
