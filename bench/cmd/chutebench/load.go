package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// loadSpec is one closed-loop load run: conns workers, each with its own
// keep-alive connection, sending requests back to back until n requests
// were sent or d has passed, whichever comes first.
type loadSpec struct {
	addr   string // host:port, loopback
	method string
	path   string
	pathFn func(i int) string // path of the i-th request, instead of path
	token  string
	body   func(i int) []byte // request body of the i-th request; nil for none
	want   int                // expected status
	// period: the i-th request is the (i % period)-th (path and body
	// depend on i % period only); runLoad builds the period's requests
	// before the clock starts, so that the load generator, which shares
	// the cores with the server, spends as little as it can per request.
	// 0 means 1.
	period int
	conns  int
	n      int
	d      time.Duration
}

// loadResult summarises a load run.
type loadResult struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50      time.Duration
	P99      time.Duration
	P999     time.Duration
	Max      time.Duration
	FirstErr string
}

// RPS is the completed requests per second.
func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r loadResult) String() string {
	return fmt.Sprintf("%d req in %v: %.0f req/s, p50 %v, p99 %v, p99.9 %v, max %v, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS(), r.P50, r.P99, r.P999, r.Max, r.Errors)
}

// runLoad runs spec and returns its latency distribution.
func runLoad(spec loadSpec) loadResult {
	client := &fasthttp.HostClient{
		Addr:                          spec.addr,
		MaxConns:                      spec.conns,
		MaxIdleConnDuration:           time.Minute,
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		DisableHeaderNamesNormalizing: true,
	}
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	period := max(spec.period, 1)
	type prepared struct{ uri, body []byte }
	reqs := make([]prepared, period)
	for k := range reqs {
		path := spec.path
		if spec.pathFn != nil {
			path = spec.pathFn(k)
		}
		reqs[k].uri = []byte("http://" + spec.addr + path)
		if spec.body != nil {
			reqs[k].body = spec.body(k)
		}
	}
	deadline := time.Now().Add(spec.d)
	lats := make([][]time.Duration, spec.conns)
	begin := time.Now()
	for w := range spec.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			// The same headers on every request: set once.
			req.Header.SetMethod(spec.method)
			if spec.token != "" {
				req.Header.Set("Authorization", "Bearer "+spec.token)
			}
			if spec.body != nil {
				req.Header.SetContentType("application/json")
			}
			mine := make([]time.Duration, 0, spec.n/spec.conns+1)
			for {
				i := int(next.Add(1)) - 1
				t0 := time.Now()
				if i >= spec.n || t0.After(deadline) {
					break
				}
				r := &reqs[i%period]
				req.SetRequestURIBytes(r.uri)
				if r.body != nil {
					req.SetBodyRaw(r.body)
				}
				err := client.Do(req, resp)
				lat := time.Since(t0)
				if err == nil && resp.StatusCode() != spec.want {
					err = fmt.Errorf("status %d: %.200s", resp.StatusCode(), resp.Body())
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, lat)
			}
			lats[w] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	all := slices.Concat(lats...)
	slices.Sort(all)
	r := loadResult{Requests: len(all), Errors: int(errs.Load()), Elapsed: elapsed}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstErr = s
	}
	if len(all) > 0 {
		q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		r.P50, r.P99, r.P999, r.Max = q(0.50), q(0.99), q(0.999), all[len(all)-1]
	}
	return r
}

// quantiles returns p50, p99 and max of ds (sorted in place).
func quantiles(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return q(0.5), q(0.99), ds[len(ds)-1]
}
