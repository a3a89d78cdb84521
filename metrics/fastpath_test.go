package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// refMatch is the route matching as it was before it stopped allocating
// (strings.Split of the path per request): the reference that matchID
// must agree with.
func refMatch(routes []fiber.Route, method, path string) string {
	splitRef := func(p string) []string {
		p = strings.Trim(p, "/")
		if p == "" {
			return nil
		}
		return strings.Split(p, "/")
	}
	matchesRef := func(pat, segs []string) bool {
		for i, p := range pat {
			switch {
			case strings.HasPrefix(p, "*"):
				return true
			case strings.HasPrefix(p, "+"):
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
	var pats []string
	for _, r := range routes {
		if r.Method == method {
			pats = append(pats, r.Path)
		}
	}
	sort.SliceStable(pats, func(i, j int) bool { return moreSpecific(splitRef(pats[i]), splitRef(pats[j])) })
	segs := splitRef(path)
	for _, p := range pats {
		if matchesRef(splitRef(p), segs) {
			return p
		}
	}
	return Unmatched
}

// TestRouteMatchAgreesWithSplit compares matchID with the reference on
// random paths made of the patterns' own words (in either case), empty
// segments and stray slashes, for chute's routes and patterns with every
// kind of parameter.
func TestRouteMatchAgreesWithSplit(t *testing.T) {
	routes := benchApp(nil).GetRoutes(true)
	for _, p := range []string{"/opt/:a?", "/files/*", "/plus/+", "/x/:id", "/x/static", "/a/:b?/c", "//dbl//slash"} {
		routes = append(routes, fiber.Route{Method: "GET", Path: p}, fiber.Route{Method: "PATCH", Path: p})
	}
	tbl := newRouteTable(routes)
	words := []string{"", "", "v1", "V1", "uploads", "upl_1", "part-urls", "parts", "3", "complete", "s3", "S3",
		"multipart", "t", "tok", "params", "opt", "files", "plus", "x", "static", "a", "c", "dbl", "slash", "healthz"}
	rng := rand.New(rand.NewSource(1))
	matched := map[string]bool{}
	for i := 0; i < 6000; i++ {
		var segs []string
		if i%2 == 0 {
			n := rng.Intn(7)
			if i%10 == 0 { // past maxInPlaceSegments too
				n = rng.Intn(2 * maxInPlaceSegments)
			}
			segs = make([]string, n)
			for j := range segs {
				segs[j] = words[rng.Intn(len(words))]
			}
		} else {
			// A pattern's path: a word for each parameter, its fixed
			// segments in either case, sometimes a segment more or less.
			for _, s := range split(routes[rng.Intn(len(routes))].Path) {
				switch {
				case kindOf(s) != segFixed:
					s = words[rng.Intn(len(words))]
				case rng.Intn(4) == 0:
					s = strings.ToUpper(s)
				}
				segs = append(segs, s)
			}
			switch rng.Intn(6) {
			case 0:
				segs = append(segs, words[rng.Intn(len(words))])
			case 1:
				if len(segs) > 0 {
					segs = segs[:len(segs)-1]
				}
			}
		}
		path := strings.Repeat("/", rng.Intn(3)) + strings.Join(segs, "/") + strings.Repeat("/", rng.Intn(2))
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "BREW"} {
			want := refMatch(routes, method, path)
			if got := tbl.match(method, path); got != want {
				t.Fatalf("match(%s %q) = %q, want %q", method, path, got, want)
			}
			matched[want] = true
		}
	}
	// Long paths, split on the heap: a wildcard takes them whole.
	for _, n := range []int{maxInPlaceSegments - 1, maxInPlaceSegments, maxInPlaceSegments + 1, 40} {
		long := "/files" + strings.Repeat("/x", n-1)
		if got := tbl.match("GET", long); got != "/files/*" {
			t.Errorf("match(GET, %d segments) = %q, want /files/*", n, got)
		}
		if got := tbl.match("GET", "/plus"+strings.Repeat("/", n)); got != refMatch(routes, "GET", "/plus"+strings.Repeat("/", n)) {
			t.Errorf("match(GET, /plus and %d slashes) = %q", n, got)
		}
	}
	// The paths must have reached most patterns for the comparison to
	// mean something.
	for _, p := range []string{Unmatched, "/v1/uploads/:id/part-urls", "/t/:token/s3/multipart/:id/:n",
		"/opt/:a?", "/files/*", "/plus/+", "/x/static", "/a/:b?/c", "/", "/:file"} {
		if !matched[p] {
			t.Errorf("no random path matched %s", p)
		}
	}
}

// series reads the samples of metric name (of its _count for a
// histogram) off a scrape of m, keyed by their labels as the exposition
// writes them, sorted by name: method="GET",route="/x",status="200" is
// method=GET,route=/x,status=200.
func series(t *testing.T, m *Metrics, name string) map[string]uint64 {
	t.Helper()
	got := map[string]uint64{}
	for _, line := range strings.Split(scrape(t, m), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		got[strings.ReplaceAll(labels, `"`, "")] = uint64(v)
	}
	return got
}

// httpSeries reads the request counters and the duration histograms'
// sample counts off m.
func httpSeries(t *testing.T, m *Metrics) (requests, durations map[string]uint64) {
	return series(t, m, "chute_http_requests_total"), series(t, m, "chute_http_request_duration_seconds_count")
}

// statusApp has chute's routes behind a group that refuses requests
// without a token; each handler answers the status in the X-Status
// header (200 without one), or fails with an error the app renders as
// 418.
func statusApp(m *Metrics) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(418).SendString("rendered")
	}, RequestMethods: append(append([]string(nil), fiber.DefaultMethods...), "BREW")})
	app.Use(m.Middleware())
	h := func(c *fiber.Ctx) error {
		if c.Get("X-Fail") != "" {
			return errors.New("fails")
		}
		st := fiber.StatusOK
		if v := c.Get("X-Status"); v != "" {
			st, _ = strconv.Atoi(v)
		}
		return c.SendStatus(st)
	}
	v1 := app.Group("/v1", func(c *fiber.Ctx) error {
		if c.Get("Authorization") == "" {
			return c.Status(401).SendString("no")
		}
		return c.Next()
	})
	v1.Post("/uploads", h)
	v1.Get("/uploads/:id", h)
	v1.Post("/uploads/:id/part-urls", h)
	v1.Put("/uploads/:id/parts/:n", h)
	v1.Delete("/uploads/:id", h)
	app.Get("/t/:token/s3/multipart/:id/:n", h)
	app.Add("BREW", "/coffee", h)
	app.Get("/:file", h)
	return app
}

// TestMiddlewareRecordsAsBefore sends a mix of routes, methods and
// statuses (each seen many times, so most go through the cache), with
// unknown paths, a refusal before the handler, an error the app renders
// and a non-standard method, and compares every series of the request
// metrics with what labelling each request afresh gives.
func TestMiddlewareRecordsAsBefore(t *testing.T) {
	m := New()
	app := statusApp(m)
	routes := app.GetRoutes(true)
	type req struct {
		method, path, status string
		auth, fail           bool
	}
	reqs := []req{
		{method: "POST", path: "/v1/uploads/upl_a/part-urls", auth: true},
		{method: "POST", path: "/v1/uploads/upl_b/part-urls", auth: true, status: "429"},
		{method: "POST", path: "/v1/uploads/upl_b/part-urls", auth: false},
		{method: "POST", path: "/v1/uploads/upl_c/part-urls", auth: true, fail: true},
		{method: "GET", path: "/v1/uploads/upl_a", auth: true},
		{method: "GET", path: "/v1/uploads/upl_a/", auth: true, status: "404"},
		{method: "DELETE", path: "/v1/uploads/upl_a", auth: true, status: "409"},
		{method: "PUT", path: "/v1/uploads/upl_a/parts/3", auth: true, status: "204"},
		{method: "POST", path: "/v1/uploads", auth: true, status: "201"},
		{method: "GET", path: "/t/" + strings.Repeat("jwt", 70) + "/s3/multipart/up/7"},
		{method: "GET", path: "/t/tok/s3/multipart/up/8", status: "403"},
		{method: "GET", path: "/index.html"},
		{method: "GET", path: "/v1/nothing/here", auth: true},
		{method: "PATCH", path: "/v1/uploads/upl_a", auth: true},
		{method: "OPTIONS", path: "/v1/uploads", auth: true},
		{method: "HEAD", path: "/index.html"},
		{method: "BREW", path: "/coffee", status: "418"},
		{method: "BREW", path: "/tea"},
	}
	wantReq, wantDur := map[string]uint64{}, map[string]uint64{}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 400; i++ {
		r := reqs[rng.Intn(len(reqs))]
		hr := httptest.NewRequest(r.method, r.path, nil)
		if r.auth {
			hr.Header.Set("Authorization", "Bearer x")
		}
		if r.status != "" {
			hr.Header.Set("X-Status", r.status)
		}
		if r.fail {
			hr.Header.Set("X-Fail", "1")
		}
		resp, err := app.Test(hr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		route := refMatch(routes, r.method, r.path)
		method := r.method
		switch method {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		default:
			method = "other"
		}
		wantReq["method="+method+",route="+route+",status="+strconv.Itoa(resp.StatusCode)]++
		wantDur["method="+method+",route="+route]++
	}
	gotReq, gotDur := httpSeries(t, m)
	if !reflect.DeepEqual(gotReq, wantReq) {
		t.Errorf("chute_http_requests_total:\n got %v\nwant %v", gotReq, wantReq)
	}
	if !reflect.DeepEqual(gotDur, wantDur) {
		t.Errorf("chute_http_request_duration_seconds counts:\n got %v\nwant %v", gotDur, wantDur)
	}
	for _, k := range []string{
		"method=POST,route=/v1/uploads/:id/part-urls,status=418",
		"method=POST,route=/v1/uploads/:id/part-urls,status=401",
		"method=GET,route=unmatched,status=418", // no route: Fiber's 404 error, rendered
		"method=other,route=/coffee,status=418",
		"method=other,route=unmatched,status=418",
	} {
		if gotReq[k] == 0 {
			t.Errorf("the mix never produced %s", k)
		}
	}
}

// TestMiddlewareConcurrent counts requests from many goroutines at once,
// the series cache filling up while it is read.
func TestMiddlewareConcurrent(t *testing.T) {
	m := New()
	h := statusApp(m).Handler()
	statuses := []string{"200", "201", "204", "400", "403", "404", "409", "429", "500", "503"}
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var ctx fasthttp.RequestCtx
			for i := 0; i < each; i++ {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.SetRequestURI(fmt.Sprintf("/t/tok%d/s3/multipart/up/%d", w, i))
				ctx.Request.Header.Set("X-Status", statuses[(w+i)%len(statuses)])
				h(&ctx)
			}
		}(w)
	}
	wg.Wait()
	gotReq, gotDur := httpSeries(t, m)
	var total uint64
	for k, v := range gotReq {
		if !strings.Contains(k, "route=/t/:token/s3/multipart/:id/:n,") {
			t.Errorf("unexpected series %s", k)
		}
		if v != workers*each/uint64(len(statuses)) {
			t.Errorf("%s = %d, want %d", k, v, workers*each/len(statuses))
		}
		total += v
	}
	if len(gotReq) != len(statuses) || total != workers*each {
		t.Errorf("%d series, %d requests; want %d, %d", len(gotReq), total, len(statuses), workers*each)
	}
	if n := gotDur["method=GET,route=/t/:token/s3/multipart/:id/:n"]; n != workers*each {
		t.Errorf("durations observed = %d, want %d", n, workers*each)
	}
}

// TestRequestSeriesCacheBounded fills the cache past its bound: it stops
// growing, and the series past the bound (and of statuses outside the
// key's range) are still the right ones.
func TestRequestSeriesCacheBounded(t *testing.T) {
	m := New()
	routes := newRouteTable([]fiber.Route{{Method: "GET", Path: "/a"}})
	var c requestSeriesCache
	for st := 0; st < maxRequestSeries+50; st++ {
		c.get(m, routes, 1, 0, st).requests.Inc()
	}
	c.get(m, routes, 0, 7, -1).requests.Inc()
	c.get(m, routes, 0, 7, 70000).requests.Add(2)
	c.get(m, routes, 1, 0, maxRequestSeries+10).requests.Inc()
	if n := len(*c.m.Load()); n != maxRequestSeries {
		t.Errorf("cache holds %d series, want %d", n, maxRequestSeries)
	}
	for _, tc := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/a", "GET", "0", 1},
		{"/a", "GET", strconv.Itoa(maxRequestSeries - 1), 1},
		{"/a", "GET", strconv.Itoa(maxRequestSeries + 10), 2},
		{Unmatched, "other", "-1", 1},
		{Unmatched, "other", "70000", 2},
	} {
		if got := counterValue(m, tc.route, tc.method, tc.status); got != tc.want {
			t.Errorf("requests{%s,%s,%s} = %v, want %v", tc.route, tc.method, tc.status, got, tc.want)
		}
	}
}

func counterValue(m *Metrics, route, method, status string) float64 {
	return testutil.ToFloat64(m.httpRequests.WithLabelValues(route, method, status))
}

// TestHotPathsAllocateNothing checks the target of the fast paths: a
// request through the middleware, and a part signed through the store
// decorator, allocate nothing once their series are known.
func TestHotPathsAllocateNothing(t *testing.T) {
	h := benchApp(New().Middleware()).Handler()
	var ctx fasthttp.RequestCtx
	i := 0
	req := func() {
		r := benchRequests[i%len(benchRequests)]
		i++
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(r.method)
		ctx.Request.SetRequestURI(r.path)
		h(&ctx)
	}
	bare := benchApp(nil).Handler()
	bareReq := func() {
		r := benchRequests[i%len(benchRequests)]
		i++
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(r.method)
		ctx.Request.SetRequestURI(r.path)
		bare(&ctx)
	}
	req()
	req()
	// Fiber's own allocations (none today) are not the middleware's.
	if with, without := testing.AllocsPerRun(200, req), testing.AllocsPerRun(200, bareReq); with > without {
		t.Errorf("a request allocates %v times with the middleware, %v without", with, without)
	}

	tbl := newRouteTable([]fiber.Route{{Method: "GET", Path: "/files/*"}})
	long := "/files" + strings.Repeat("/x", maxInPlaceSegments-1)
	if n := testing.AllocsPerRun(100, func() { tbl.match("GET", long) }); n != 0 {
		t.Errorf("matching a path of %d segments allocates %v times", maxInPlaceSegments, n)
	}

	m := New()
	s := m.Store("main", nopStore{})
	u := m.Capabilities("main", broker.Capabilities{UnsizedParts: nopStore{}}).UnsizedParts
	bg := context.Background()
	if n := testing.AllocsPerRun(200, func() {
		_, _ = s.PresignPart(bg, "k", "u", 1, broker.PartOptions{}, time.Minute)
		_, _ = u.PresignPartUnsized(bg, "k", "u", 1, time.Minute)
	}); n != 0 {
		t.Errorf("presigning through the decorator allocates %v times", n)
	}
}

// fullStore is a store with every optional ability, answering err.
type fullStore struct{ stubStore }

func (s fullStore) ReadHead(context.Context, string, int64) ([]byte, error) { return nil, s.err }
func (s fullStore) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), s.err
}
func (s fullStore) Copy(context.Context, string, string, broker.CopyOptions) (broker.ObjectInfo, error) {
	return broker.ObjectInfo{}, s.err
}
func (s fullStore) PresignPost(context.Context, string, broker.PostOptions, time.Duration) (broker.PresignedPost, error) {
	return broker.PresignedPost{}, s.err
}
func (s fullStore) PresignPartUnsized(context.Context, string, string, int, time.Duration) (broker.PresignedRequest, error) {
	return broker.PresignedRequest{}, s.err
}

// TestStoreRecordsEveryOpAsBefore calls each operation of the decorators
// a different number of times, failing with each kind of error, and
// compares the store series with the expected labels, written out here
// rather than taken from the package's tables: one histogram per
// operation called (none for the others), one error count per kind.
func TestStoreRecordsEveryOpAsBefore(t *testing.T) {
	m := New()
	ctx := context.Background()
	type call func(s broker.ObjectStore, c broker.Capabilities)
	calls := []struct {
		op string
		do call
	}{
		{"create_multipart", func(s broker.ObjectStore, _ broker.Capabilities) {
			_, _ = s.CreateMultipart(ctx, "k", backends.ObjectOptions{})
		}},
		{"presign_part", func(s broker.ObjectStore, _ broker.Capabilities) {
			_, _ = s.PresignPart(ctx, "k", "u", 1, broker.PartOptions{}, time.Minute)
		}},
		{"presign_put", func(s broker.ObjectStore, _ broker.Capabilities) {
			_, _ = s.PresignPut(ctx, "k", 1, backends.ObjectOptions{}, time.Minute)
		}},
		{"presign_get", func(s broker.ObjectStore, _ broker.Capabilities) {
			_, _ = s.PresignGet(ctx, "k", backends.GetOptions{}, time.Minute)
		}},
		{"list_parts", func(s broker.ObjectStore, _ broker.Capabilities) { _, _ = s.ListParts(ctx, "k", "u") }},
		{"complete_multipart", func(s broker.ObjectStore, _ broker.Capabilities) {
			_, _ = s.CompleteMultipart(ctx, "k", "u", nil, broker.CompleteOptions{})
		}},
		{"abort_multipart", func(s broker.ObjectStore, _ broker.Capabilities) { _ = s.AbortMultipart(ctx, "k", "u") }},
		{"stat", func(s broker.ObjectStore, _ broker.Capabilities) { _, _ = s.Stat(ctx, "k") }},
		{"remove", func(s broker.ObjectStore, _ broker.Capabilities) { _ = s.Remove(ctx, "k") }},
		{"ping", func(s broker.ObjectStore, _ broker.Capabilities) { _ = s.Ping(ctx) }},
		{"presign_post", func(_ broker.ObjectStore, c broker.Capabilities) {
			_, _ = c.Post.PresignPost(ctx, "k", broker.PostOptions{}, time.Minute)
		}},
		{"presign_part_unsized", func(_ broker.ObjectStore, c broker.Capabilities) {
			_, _ = c.UnsizedParts.PresignPartUnsized(ctx, "k", "u", 1, time.Minute)
		}},
		{"read_head", func(_ broker.ObjectStore, c broker.Capabilities) { _, _ = c.Heads.ReadHead(ctx, "k", 1) }},
		{"open", func(_ broker.ObjectStore, c broker.Capabilities) { _, _ = c.Reader.Open(ctx, "k") }},
		{"copy", func(_ broker.ObjectStore, c broker.Capabilities) {
			_, _ = c.Copier.Copy(ctx, "a", "b", broker.CopyOptions{})
		}},
	}
	errs := []struct {
		err  error
		kind string
	}{
		{nil, ""},
		{fmt.Errorf("x: %w", backends.ErrNotFound), "not_found"},
		{backends.ErrUnavailable, "unavailable"},
		{context.DeadlineExceeded, "unavailable"},
		{backends.ErrAccessDenied, "access_denied"},
		{backends.ErrInvalidPart, "invalid_part"},
		{errors.New("boom"), "other"},
	}
	wantDur, wantErr := map[string]uint64{}, map[string]uint64{}
	var wantSigned float64
	for _, backend := range []string{"main", "spare"} {
		for _, k := range []string{"not_found", "unavailable", "access_denied", "invalid_part", "other"} {
			for _, c := range calls {
				wantErr["backend="+backend+",kind="+k+",op="+c.op] = 0
			}
		}
	}
	for i, c := range calls {
		if i == 3 {
			continue // presign_get: never called, no histogram
		}
		for j, e := range errs {
			s := m.Store("main", fullStore{stubStore{e.err}})
			caps := m.Capabilities("main", broker.ResolveCapabilities(fullStore{stubStore{e.err}}))
			n := 1 + (i+j)%3
			for range n {
				c.do(s, caps)
			}
			wantDur["backend=main,op="+c.op] += uint64(n)
			if e.err != nil {
				wantErr["backend=main,kind="+e.kind+",op="+c.op] += uint64(n)
			} else if c.op == "presign_part" || c.op == "presign_part_unsized" {
				wantSigned += float64(n)
			}
		}
	}
	_ = m.Store("spare", stubStore{}) // only its error series, at 0
	gotDur := series(t, m, "chute_store_request_duration_seconds_count")
	gotErr := series(t, m, "chute_store_errors_total")
	gotSigned := testutil.ToFloat64(m.partsSigned)
	if !reflect.DeepEqual(gotDur, wantDur) {
		t.Errorf("chute_store_request_duration_seconds counts:\n got %v\nwant %v", gotDur, wantDur)
	}
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Errorf("chute_store_errors_total:\n got %v\nwant %v", gotErr, wantErr)
	}
	if gotSigned != wantSigned {
		t.Errorf("chute_parts_signed_total = %v, want %v", gotSigned, wantSigned)
	}
}

// TestStoreConcurrent signs from many goroutines through decorators
// built at once: every call counts once.
func TestStoreConcurrent(t *testing.T) {
	m := New()
	s := m.Store("main", nopStore{})
	const workers, each = 8, 300
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, _ = s.PresignPart(context.Background(), "k", "u", i+1, broker.PartOptions{}, time.Minute)
			}
		}()
	}
	wg.Wait()
	if n := histCount(t, m, "chute_store_request_duration_seconds", `op="presign_part"`); n != workers*each {
		t.Errorf("presign_part observations = %d, want %d", n, workers*each)
	}
	if n := testutil.ToFloat64(m.partsSigned); n != workers*each {
		t.Errorf("parts signed = %v, want %d", n, workers*each)
	}
	// The series is resolved once and kept; the series of operations
	// not called yet are not (their histograms do not exist).
	ss := s.(*instrumentedStore).series
	if o := ss.duration[opPresignPart].p.Load(); o == nil || *o != m.storeDuration.WithLabelValues("main", "presign_part") {
		t.Error("the presign_part series is not kept")
	}
	if ss.duration[opPresignGet].p.Load() != nil {
		t.Error("a series resolved before its operation's first call")
	}
}

// fullSessions is a session store with every timed ability, answering err.
type fullSessions struct{ stubSessions }

func (s fullSessions) GetSession(context.Context, string) (*sessions.Session, error) {
	return s.sess, s.err
}
func (s fullSessions) SetPlan(context.Context, string, int64, int64, int) (*sessions.Session, error) {
	return s.sess, s.err
}
func (s fullSessions) ReserveOpen(context.Context, string, string, time.Time, int) (bool, error) {
	return true, s.err
}
func (s fullSessions) ReleaseOpen(context.Context, string, string) error { return s.err }

// TestSessionsRecordEveryOpAsBefore calls each operation of the session
// decorator a different number of times, succeeding, failing with an
// answer and failing because Redis did, and compares the Redis series
// with the expected labels, written out here: one histogram per operation
// called, errors counted for Redis failures only, and the get_session
// error series absent until its first failure (New creates the others).
func TestSessionsRecordEveryOpAsBefore(t *testing.T) {
	m := New()
	ctx := context.Background()
	calls := []struct {
		op string
		do func(s sessions.Store)
	}{
		{"create", func(s sessions.Store) { _ = s.Create(ctx, &sessions.Session{Strategy: "single"}) }},
		{"get", func(s sessions.Store) { _, _ = s.Get(ctx, "a") }},
		{"get_session", func(s sessions.Store) {
			_, _ = s.(interface {
				GetSession(context.Context, string) (*sessions.Session, error)
			}).GetSession(ctx, "a")
		}},
		{"put_part", func(s sessions.Store) { _, _ = s.PutPart(ctx, "a", multipart.Part{Number: 1}) }},
		{"transition", func(s sessions.Store) {
			_, _ = s.Transition(ctx, "a", sessions.Change{To: sessions.StateCompleting})
		}},
		{"try_lock", func(s sessions.Store) { _, _, _ = s.TryLock(ctx, "a", time.Second) }},
		{"unlock", func(s sessions.Store) { _ = s.Unlock(ctx, "a", "t") }},
		{"ping", func(s sessions.Store) { _ = s.Ping(ctx) }},
		{"set_plan", func(s sessions.Store) {
			ps, _ := sessions.AsPlanSetter(s)
			_, _ = ps.SetPlan(ctx, "a", 10, 5, 2)
		}},
		{"reserve_open", func(s sessions.Store) {
			ol, _ := sessions.AsOpenLimiter(s)
			_, _ = ol.ReserveOpen(ctx, "sub", "a", time.Now(), 3)
		}},
		{"release_open", func(s sessions.Store) {
			ol, _ := sessions.AsOpenLimiter(s)
			_ = ol.ReleaseOpen(ctx, "sub", "a")
		}},
	}
	wantDur, wantErr := map[string]uint64{}, map[string]uint64{}
	for _, c := range calls {
		if c.op != "get_session" {
			wantErr["op="+c.op] = 0
		}
	}
	for i, c := range calls {
		for j, err := range []error{nil, sessions.ErrNotFound, fmt.Errorf("x: %w", sessions.ErrUnavailable), context.DeadlineExceeded} {
			if c.op == "get_session" && j > 1 {
				continue // its error series stays absent
			}
			s := m.Sessions(fullSessions{stubSessions{err: err, sess: &sessions.Session{ID: "a"}}})
			n := 1 + (i+j)%3
			for range n {
				c.do(s)
			}
			wantDur["op="+c.op] += uint64(n)
			if j > 1 {
				wantErr["op="+c.op] += uint64(n)
			}
		}
	}
	if got := series(t, m, "chute_redis_request_duration_seconds_count"); !reflect.DeepEqual(got, wantDur) {
		t.Errorf("chute_redis_request_duration_seconds counts:\n got %v\nwant %v", got, wantDur)
	}
	if got := series(t, m, "chute_redis_errors_total"); !reflect.DeepEqual(got, wantErr) {
		t.Errorf("chute_redis_errors_total:\n got %v\nwant %v", got, wantErr)
	}
	s := m.Sessions(fullSessions{stubSessions{err: sessions.ErrUnavailable}})
	calls[2].do(s)
	if got := series(t, m, "chute_redis_errors_total")["op=get_session"]; got != 1 {
		t.Errorf("get_session errors = %d, want 1", got)
	}
	if n := testing.AllocsPerRun(100, func() { calls[1].do(s) }); n != 0 {
		t.Errorf("a timed Get allocates %v times", n)
	}
}
