package metrics

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
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
//
// Per request the handler allocates nothing once a route, method and
// status have been seen: the series of each such triple is resolved once
// and kept (requestSeriesCache).
func (m *Metrics) Middleware() fiber.Handler {
	var (
		once   sync.Once
		routes *routeTable
		cache  requestSeriesCache
	)
	return func(c *fiber.Ctx) error {
		start := monotonic()
		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		// The routes are all registered by the time requests arrive.
		once.Do(func() { routes = newRouteTable(c.App().GetRoutes(true)) })
		method := methodIndex(c.Method())
		s := cache.get(m, routes, routes.matchIDOf(method, c.Method(), c.Path()), method, c.Response().StatusCode())
		s.requests.Inc()
		s.duration.Observe((monotonic() - start).Seconds())
		return nil
	}
}

// epoch anchors monotonic.
var epoch = time.Now()

// monotonic returns the time elapsed since epoch on the monotonic clock.
// The difference of two readings is what time.Since(start) would give for
// a start taken by time.Now at the first, but each reading takes one
// clock read where time.Now takes two (the wall clock as well).
func monotonic() time.Duration { return time.Since(epoch) }

// methodLabels are the method label values: the standard methods, then
// "other".
var methodLabels = [...]string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
	fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions, "other"}

// methodIndex returns the index in methodLabels of method's label.
func methodIndex(method string) int {
	for i, m := range methodLabels[:len(methodLabels)-1] {
		if method == m {
			return i
		}
	}
	return len(methodLabels) - 1
}

// methodLabel returns a constant for method: the string Fiber returns is
// backed by a buffer it reuses, and label values are kept.
func methodLabel(method string) string { return methodLabels[methodIndex(method)] }

// requestSeries are the series of one route, method and status.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// maxRequestSeries bounds requestSeriesCache. Routes × methods × statuses
// is finite and, in Chute, a few hundred at most; past the bound, series
// are resolved on every request, as exact but slower.
const maxRequestSeries = 1024

// requestSeriesCache maps a route, method and status to their series. It
// is read-mostly: a lookup is one atomic load and one map read; a triple
// seen for the first time copies the map under a lock.
type requestSeriesCache struct {
	mu sync.Mutex // held to add
	m  atomic.Pointer[map[uint64]requestSeries]
}

// get returns the series of route (an id of routes), method (an index of
// methodLabels) and status.
func (c *requestSeriesCache) get(m *Metrics, routes *routeTable, route, method, status int) requestSeries {
	if status < 0 || status > 0xffff {
		return m.requestSeries(routes.names[route], methodLabels[method], status)
	}
	key := uint64(route)<<24 | uint64(method)<<16 | uint64(status)
	if p := c.m.Load(); p != nil {
		if s, ok := (*p)[key]; ok {
			return s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[uint64]requestSeries
	if p := c.m.Load(); p != nil {
		old = *p
	}
	if s, ok := old[key]; ok {
		return s
	}
	s := m.requestSeries(routes.names[route], methodLabels[method], status)
	if len(old) >= maxRequestSeries {
		return s
	}
	next := make(map[uint64]requestSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = s
	c.m.Store(&next)
	return s
}

// requestSeries resolves the series of a route, method and status label.
func (m *Metrics) requestSeries(route, method string, status int) requestSeries {
	return requestSeries{
		requests: m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)),
		duration: m.httpDuration.WithLabelValues(route, method),
	}
}

// routeTable matches request paths to route patterns, the most specific
// pattern first: at the first segment where two patterns differ, a fixed
// segment beats a parameter. Matching allocates nothing.
type routeTable struct {
	// std holds the patterns of each standard method, by methodIndex;
	// other those of the other methods (the app's RequestMethods).
	std   [len(methodLabels) - 1][]pattern
	other map[string][]pattern
	// names are the route labels by id: Unmatched (id 0), then each
	// distinct pattern.
	names []string
}

type pattern struct {
	path  string
	id    int // in routeTable.names
	segs  []string
	kinds []segKind // of segs
}

// segKind says what a segment of a Fiber pattern takes.
type segKind uint8

const (
	segFixed    segKind = iota // this segment, but for case
	segParam                   // ":name": one non-empty segment
	segOptional                // ":name?": one segment, or none at the end
	segRest                    // "*": the rest of the path, if any
	segRestPlus                // "+": the rest of the path, not empty
)

func kindOf(seg string) segKind {
	switch {
	case strings.HasPrefix(seg, "*"):
		return segRest
	case strings.HasPrefix(seg, "+"):
		return segRestPlus
	case strings.HasPrefix(seg, ":") && strings.HasSuffix(seg, "?"):
		return segOptional
	case strings.HasPrefix(seg, ":"):
		return segParam
	}
	return segFixed
}

func newRouteTable(rs []fiber.Route) *routeTable {
	t := &routeTable{other: map[string][]pattern{}, names: []string{Unmatched}}
	ids := map[string]int{}
	seen := map[string]bool{}
	for _, r := range rs {
		k := r.Method + " " + r.Path
		if seen[k] {
			continue
		}
		seen[k] = true
		id, ok := ids[r.Path]
		if !ok {
			id = len(t.names)
			ids[r.Path] = id
			t.names = append(t.names, r.Path)
		}
		p := pattern{path: r.Path, id: id, segs: split(r.Path)}
		for _, s := range p.segs {
			p.kinds = append(p.kinds, kindOf(s))
		}
		if i := methodIndex(r.Method); i < len(t.std) {
			t.std[i] = append(t.std[i], p)
		} else {
			t.other[r.Method] = append(t.other[r.Method], p)
		}
	}
	bySpecificity := func(ps []pattern) {
		sort.SliceStable(ps, func(i, j int) bool { return moreSpecific(ps[i].segs, ps[j].segs) })
	}
	for _, ps := range t.std {
		bySpecificity(ps)
	}
	for _, ps := range t.other {
		bySpecificity(ps)
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
	return t.names[t.matchID(method, path)]
}

// matchID is match returning the pattern's id, 0 for Unmatched.
func (t *routeTable) matchID(method, path string) int {
	return t.matchIDOf(methodIndex(method), method, path)
}

// matchIDOf is matchID given methodIndex(method) as well.
func (t *routeTable) matchIDOf(index int, method, path string) int {
	var ps []pattern
	if index < len(t.std) {
		ps = t.std[index]
	} else {
		ps = t.other[method]
	}
	if len(ps) == 0 {
		return 0
	}
	var buf [maxInPlaceSegments]string
	segs := splitInto(buf[:0], path)
	if segs == nil && path != "" {
		segs = split(path) // longer than buf
	}
	for i := range ps {
		if ps[i].matches(segs) {
			return ps[i].id
		}
	}
	return 0
}

// maxInPlaceSegments is the most segments a path can have for matchID to
// split it without allocating.
const maxInPlaceSegments = 16

// splitInto is split appending to segs, within its capacity: nil when the
// path has more segments than that. The segments are substrings of path.
func splitInto(segs []string, path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return segs
	}
	for {
		if len(segs) == cap(segs) {
			return nil
		}
		i := strings.IndexByte(path, '/')
		if i < 0 {
			return append(segs, path)
		}
		segs = append(segs, path[:i])
		path = path[i+1:]
	}
}

// matches tells whether a path's segments fit the pattern: ":name" takes
// one non-empty segment (":name?" may be absent), "*" or "+" the rest of
// the path (which "+" needs non-empty); any other segment must be equal
// but for case, as in Fiber's default routing.
func (p *pattern) matches(segs []string) bool {
	for i, k := range p.kinds {
		switch k {
		case segRest:
			return true
		case segRestPlus:
			return i < len(segs)
		case segOptional:
			if i >= len(segs) {
				return i == len(p.kinds)-1
			}
		case segParam:
			if i >= len(segs) || segs[i] == "" {
				return false
			}
		default:
			if i >= len(segs) || !strings.EqualFold(segs[i], p.segs[i]) {
				return false
			}
		}
	}
	return len(segs) == len(p.kinds)
}

// RoutePatterns returns a function naming the route pattern that a
// request's method and path match among routes, or Unmatched: the route
// label of Middleware. Package tracing names server spans with it.
func RoutePatterns(routes []fiber.Route) func(method, path string) string {
	return newRouteTable(routes).match
}
