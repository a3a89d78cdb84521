package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/sessions"
)

const (
	benchAK     = "benchaccesskey"
	benchSK     = "benchsecretkey-0123456789abcdef"
	benchBucket = "bench"
	jwtSecret   = "bench-secret-bench-secret-bench-secret-0123"
	region      = "us-east-1"
)

// suite holds the running services and the report being written.
type suite struct {
	dir      string
	redis    *proc
	vgw      *proc
	chute    *proc
	empty    *proc
	proxy    *proc
	rc       *redis.Client
	mc       *minio.Client
	core     minio.Core
	api      *api
	token    string
	chuteAd  string
	emptyAd  string
	proxyAd  string
	endpoint string

	conns int
	dur   time.Duration
	size  int64
	out   strings.Builder
	// targets are the summary rows, one per target, in the order checked.
	targets []string

	redisUnix bool // chute serve reaches Redis over a unix socket (-redis-unix)
	rate      int  // chute serve's limits.rate (-rate; 0: no limiter)
}

func (s *suite) printf(format string, args ...any) {
	fmt.Fprintf(&s.out, format, args...)
	fmt.Fprintf(os.Stderr, format, args...)
}

func runSuite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	chuteBin := fs.String("chute", "bin/chute", "chute binary")
	vgwBin := fs.String("versitygw", "", "versitygw binary")
	redisBin := fs.String("redis-server", "redis-server", "redis-server binary")
	outFile := fs.String("out", "", "write the Markdown results here (default stdout)")
	dur := fs.Duration("d", 8*time.Second, "duration of each load run")
	conns := fs.Int("c", 32, "connections of the load runs")
	size := fs.Int64("size", 1<<30, "bytes of the end-to-end upload")
	rounds := fs.Int("rounds", 2, "rounds of each load and end-to-end run (alternating)")
	skipE2E := fs.Bool("skip-e2e", false, "skip the end-to-end upload")
	profile := fs.String("cpuprofile", "", "also profile sign-part in an in-process broker, writing the CPU profile here")
	e2eProfile := fs.String("e2e-cpuprofile", "", "also profile the broker during one end-to-end upload, writing the CPU profile here")
	redisUnix := fs.Bool("redis-unix", false, "connect chute serve to Redis over a unix socket instead of TCP")
	rate := fs.Int("rate", 0, "limits.rate of chute serve (requests per second per subject; 0, the default, runs without the rate limiter)")
	only := fs.String("only", "", "run only these steps, comma-separated (e.g. \"sign-part load,sign-part profile\"); default all")
	_ = fs.Parse(args)
	if *vgwBin == "" {
		return errors.New("-versitygw is required")
	}
	dir, err := os.MkdirTemp("", "chutebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s := &suite{dir: dir, conns: *conns, dur: *dur, size: *size, redisUnix: *redisUnix, rate: *rate}
	defer s.stopAll()
	if err := s.startServices(*chuteBin, *vgwBin, *redisBin); err != nil {
		return err
	}
	s.header()
	hdrEnd := s.out.Len()
	steps := []struct {
		name string
		run  func() error
	}{
		{"sign-part load", func() error { return s.signLoad(*rounds) }},
		{"batch signing", s.batch},
		{"create and complete", s.lifecycle},
		{"small upload", s.smallUpload},
		{"memory", s.memory},
	}
	if !*skipE2E {
		steps = append(steps, struct {
			name string
			run  func() error
		}{"end to end", func() error { return s.endToEnd(*rounds) }})
	}
	if *profile != "" {
		steps = append(steps, struct {
			name string
			run  func() error
		}{"sign-part profile", func() error { return s.profileSign(*profile) }})
	}
	if *e2eProfile != "" && !*skipE2E {
		steps = append(steps, struct {
			name string
			run  func() error
		}{"end-to-end profile", func() error { return s.profileE2E(*e2eProfile) }})
	}
	for _, st := range steps {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), st.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "\n--- %s\n", st.name)
		if err := st.run(); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	// The verdicts go first, under the header: every one is computed from
	// this run's figures, shown in full in the sections below.
	out := s.out.String()
	if len(s.targets) > 0 {
		out = out[:hdrEnd] + "### Targets (issue 15), this run\n\n| target | measured | verdict |\n|---|---|---|\n" +
			strings.Join(s.targets, "") + "\n" + out[hdrEnd:]
	}
	if *outFile == "" {
		_, err = os.Stdout.WriteString(out)
		return err
	}
	return os.WriteFile(*outFile, []byte(out), 0o644)
}

func (s *suite) stopAll() {
	for _, p := range []*proc{s.chute, s.empty, s.proxy, s.vgw, s.redis} {
		p.stop()
	}
}

func (s *suite) startServices(chuteBin, vgwBin, redisBin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error

	rport := freePort()
	sock := filepath.Join(s.dir, "redis.sock")
	s.redis, err = start(s.dir, "redis", nil, redisBin, "--port", strconv.Itoa(rport), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--unixsocket", sock, "--unixsocketperm", "700")
	if err != nil {
		return err
	}
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", rport)); err != nil {
		return err
	}
	s.rc = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rport)})

	vport := freePort()
	data := filepath.Join(s.dir, "s3")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	s.vgw, err = start(s.dir, "versitygw", []string{"ROOT_ACCESS_KEY_ID=" + benchAK, "ROOT_SECRET_ACCESS_KEY=" + benchSK},
		vgwBin, "--port", fmt.Sprintf("127.0.0.1:%d", vport), "--region", region, "posix", data)
	if err != nil {
		return err
	}
	s.endpoint = fmt.Sprintf("127.0.0.1:%d", vport)
	if err := waitTCP(ctx, s.endpoint); err != nil {
		return err
	}
	s.mc, err = minio.New(s.endpoint, &minio.Options{Creds: credentials.NewStaticV4(benchAK, benchSK, ""), Region: region})
	if err != nil {
		return err
	}
	s.core = minio.Core{Client: s.mc}
	if err := s.mc.MakeBucket(ctx, benchBucket, minio.MakeBucketOptions{Region: region}); err != nil {
		return fmt.Errorf("make bucket: %w", err)
	}

	redisURL := fmt.Sprintf("redis://127.0.0.1:%d/0", rport)
	if s.redisUnix {
		redisURL = "unix://" + sock
	}
	cport := freePort()
	s.chuteAd = fmt.Sprintf("127.0.0.1:%d", cport)
	cfg := fmt.Sprintf(`server:
  listen: %q
  public_url: "http://%s"
sessions:
  redis_url: %q
  ttl: 24h
auth:
  mode: jwt
  jwt: { secret: %q }
backends:
  main: { endpoint: "http://%s", region: %q, bucket: %q, access_key: %q, secret_key: %q, path_style: true, timeout: 180s } # a busy disk makes completing 2 GiB slow
profiles:
  default: { backend: main, max_size: 5GiB, part_size: 16MiB, single_max: 16MiB, url_ttl: 15m }
  big: { backend: main, max_size: 100GiB, part_size: 5MiB, single_max: 5MiB, url_ttl: 15m }
  small: { backend: main, max_size: 1GiB, part_size: 5MiB, single_max: 1MiB, url_ttl: 15m }
log: { level: info, format: json }
limits: { rate: %d, burst: %d, max_open_sessions: 0 } # measure the broker, not its limits (-rate to measure the limiter)
`, s.chuteAd, s.chuteAd, redisURL, jwtSecret, s.endpoint, region, benchBucket, benchAK, benchSK, s.rate, max(s.rate, 1))
	cfgFile := filepath.Join(s.dir, "chute.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	s.chute, err = start(s.dir, "chute", nil, chuteBin, "serve", "--config", cfgFile)
	if err != nil {
		return err
	}
	if err := waitTCP(ctx, s.chuteAd); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	s.emptyAd = fmt.Sprintf("127.0.0.1:%d", freePort())
	if s.empty, err = start(s.dir, "empty", nil, self, "empty", "-addr", s.emptyAd); err != nil {
		return err
	}
	s.proxyAd = fmt.Sprintf("127.0.0.1:%d", freePort())
	if s.proxy, err = start(s.dir, "proxy", []string{"BENCH_ACCESS_KEY=" + benchAK, "BENCH_SECRET_KEY=" + benchSK}, self, "proxy",
		"-addr", s.proxyAd, "-endpoint", "http://"+s.endpoint, "-bucket", benchBucket, "-region", region); err != nil {
		return err
	}
	for _, a := range []string{s.emptyAd, s.proxyAd} {
		if err := waitTCP(ctx, a); err != nil {
			return err
		}
	}
	s.token, err = auth.SignHS256(jwtSecret, "bench", 4*time.Hour, "", "")
	if err != nil {
		return err
	}
	s.api = newAPI("http://"+s.chuteAd, s.token)
	return nil
}

func (s *suite) header() {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	s.printf("## Results\n\n")
	s.printf("- date: %s\n", time.Now().UTC().Format(time.RFC3339))
	s.printf("- machine: %d cores (nproc), CPU %q, %s, Go %s; load average at start %s\n", runtime.NumCPU(), cpu, runtime.GOOS+"/"+runtime.GOARCH, runtime.Version(), load)
	s.printf("- services: redis-server, versitygw (posix backend on local disk) and `chute serve` (auth jwt HS256, log level info, JSON access log to a file), all on 127.0.0.1; load generator on the same cores\n")
	s.printf("- load runs: %d keep-alive connections (fasthttp client), closed loop, %v per run, rounds alternate between targets\n\n", s.conns, s.dur)
}

// ---- 1. sign-part load -----------------------------------------------

// Targets of issue 15, checked against each run's own figures.
const (
	signTargetRPS = 25_000
	signTargetP99 = 5 * time.Millisecond
	signTargetCPU = 40 * time.Microsecond // broker CPU per request
	batchTarget   = 100 * time.Millisecond
	smallTarget   = 3.0  // create → PUT → complete of 1 MiB vs one PutObject
	e2eTarget     = 0.95 // end-to-end throughput vs minio-go's
)

// companionCreated is Companion's answer to POST /s3/multipart.
type companionCreated struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
}

func (s *suite) signLoad(rounds int) error {
	c, err := s.api.create(1<<30, "")
	if err != nil {
		return err
	}
	// The Uppy route: a Companion multipart upload created as @uppy/aws-s3
	// creates it, the token in the path (/t/{token}/s3), as Uppy sends it.
	var cc companionCreated
	if err := s.api.call(http.MethodPost, "/t/"+s.token+"/s3/multipart",
		map[string]any{"filename": "bench.bin", "type": "application/octet-stream"}, &cc, http.StatusOK); err != nil {
		return err
	}
	body := func(i int) []byte {
		return []byte(`{"part_numbers":[` + strconv.Itoa(i%c.PartCount+1) + `]}`)
	}
	uppyPath := "/t/" + s.token + "/s3/multipart/" + url.PathEscape(cc.UploadID) + "/"
	uppyQuery := "?key=" + url.QueryEscape(cc.Key)
	sign := loadSpec{addr: s.chuteAd, method: "POST", path: "/v1/uploads/" + c.ID + "/part-urls", token: s.token,
		body: body, period: c.PartCount, want: 200, conns: s.conns, n: 10_000_000, d: s.dur}
	uppy := loadSpec{addr: s.chuteAd, method: "GET", pathFn: func(i int) string {
		return uppyPath + strconv.Itoa(i%64+1) + uppyQuery
	}, period: 64, want: 200, conns: s.conns, n: 10_000_000, d: s.dur}
	empty := loadSpec{addr: s.emptyAd, method: "POST", path: "/empty", token: s.token,
		body: body, period: c.PartCount, want: 200, conns: s.conns, n: 10_000_000, d: s.dur}
	// Warm up all three (connections, caches and pools).
	for _, w := range []loadSpec{sign, uppy, empty} {
		w.d = time.Second
		if res := runLoad(w); res.Errors > 0 {
			return fmt.Errorf("warm-up of %s: %d errors, first: %s", w.path+w.method, res.Errors, res.FirstErr)
		}
	}

	s.printf("### 1. Sign one part over HTTP\n\n")
	s.printf("Native route: `POST /v1/uploads/{id}/part-urls` with `{\"part_numbers\":[n]}` (n cycling over the 64 parts of a 1 GiB session). Uppy route: `GET /t/{token}/s3/multipart/{uploadId}/{n}?key=...` (Companion's part route as Chute serves it, the token in the path as @uppy/aws-s3 sends it; n cycling over 1..64). Both: JWT checked, session facts from the signing cache, one URL signed, JSON access log written. Baseline: an empty Fiber v2 route (`POST /empty`, same body and headers) in its own process. Server CPU per request is the server process's utime+stime over the run divided by the requests answered.\n\n")
	s.printf("| round | target | req/s | p50 | p99 | p99.9 | errors | server CPU per request |\n|---|---|---|---|---|---|---|---|\n")
	type best struct {
		res loadResult
		cpu time.Duration
	}
	bests := map[string]*best{}
	for r := 1; r <= rounds; r++ {
		for _, t := range []struct {
			name string
			spec loadSpec
			p    *proc
		}{{"empty Fiber route", empty, s.empty}, {"chute sign-part (native)", sign, s.chute}, {"chute sign-part (Uppy route)", uppy, s.chute}} {
			u0 := readUsage(t.p.pid())
			res := runLoad(t.spec)
			u1 := readUsage(t.p.pid())
			cpu := (u1.CPU - u0.CPU) / time.Duration(max(1, res.Requests))
			s.printf("| %d | %s | %.0f | %v | %v | %v | %d | %.1f µs |\n", r, t.name, res.RPS(), res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.P999.Round(time.Microsecond), res.Errors, float64(cpu.Nanoseconds())/1000)
			if res.FirstErr != "" {
				fmt.Fprintln(os.Stderr, "first error:", res.FirstErr)
			}
			if b := bests[t.name]; b == nil || res.RPS() > b.res.RPS() {
				bests[t.name] = &best{res, cpu}
			}
		}
	}
	e := bests["empty Fiber route"]
	s.printf("\nBest round of each (by req/s), with the ratio to the empty route's best (%.0f req/s, %.1f µs CPU per request) in the same run:\n\n", e.res.RPS(), float64(e.cpu.Nanoseconds())/1000)
	for _, name := range []string{"chute sign-part (native)", "chute sign-part (Uppy route)"} {
		b := bests[name]
		ok := b.res.RPS() >= signTargetRPS && b.res.P99 <= signTargetP99 && b.cpu <= signTargetCPU && b.res.Errors == 0
		s.printf("- %s: **%.0f req/s** (p99 %v, %.1f µs CPU per request) = **%.0f%%** of the empty route. Target ≥ %d req/s with p99 ≤ %v and ≤ %v of broker CPU per request: **%s**.\n",
			name, b.res.RPS(), b.res.P99.Round(time.Microsecond), float64(b.cpu.Nanoseconds())/1000, 100*b.res.RPS()/e.res.RPS(),
			signTargetRPS, signTargetP99, signTargetCPU, metIf(ok))
		s.target(fmt.Sprintf("%s ≥ %d req/s, p99 ≤ %v, ≤ %v CPU/request", strings.TrimPrefix(name, "chute "), signTargetRPS, signTargetP99, signTargetCPU), ok,
			fmt.Sprintf("%.0f req/s, p99 %v, %.1f µs (empty route %.0f req/s)", b.res.RPS(), b.res.P99.Round(time.Microsecond), float64(b.cpu.Nanoseconds())/1000, e.res.RPS()))
	}
	s.printf("\n")
	return nil
}

// target records a target's verdict for the summary at the top.
func (s *suite) target(name string, ok bool, detail string) {
	s.targets = append(s.targets, fmt.Sprintf("| %s | %s | **%s** |\n", name, detail, metIf(ok)))
}

func metIf(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// ---- 2. batch signing ------------------------------------------------

func (s *suite) batch() error {
	const parts = 10000
	c, err := s.api.create(parts*5<<20, "big")
	if err != nil {
		return err
	}
	if c.PartCount != parts {
		return fmt.Errorf("session has %d parts, want %d", c.PartCount, parts)
	}
	batch := func(lo int) []int {
		nums := make([]int, 1000)
		for i := range nums {
			nums[i] = lo + i
		}
		return nums
	}
	// One request of 1000 URLs, 20 times.
	var lats []time.Duration
	var bytesOut int
	for i := range 21 {
		t0 := time.Now()
		req, _ := http.NewRequest("POST", s.api.base+"/v1/uploads/"+c.ID+"/part-urls",
			strings.NewReader(fmt.Sprintf(`{"part_numbers":%s}`, jsonInts(batch(1+(i%10)*1000)))))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.api.hc.Do(req)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if i > 0 { // the first is a warm-up
			lats = append(lats, time.Since(t0))
			bytesOut = int(n)
		}
	}
	p50, p99, mx := quantiles(lats)

	// 10 × 1000 = all 10,000 parts, sequentially and 10 at once.
	t0 := time.Now()
	for i := range 10 {
		if _, err := s.api.partURLs(c.ID, batch(1+i*1000)); err != nil {
			return err
		}
	}
	seq := time.Since(t0)
	// The same, the answers read but not decoded: the share of the Go
	// client's JSON decoding (538 KiB per call) in the figure above.
	t0 = time.Now()
	for i := range 10 {
		req, _ := http.NewRequest("POST", s.api.base+"/v1/uploads/"+c.ID+"/part-urls",
			strings.NewReader(fmt.Sprintf(`{"part_numbers":%s}`, jsonInts(batch(1+i*1000)))))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.api.hc.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	rawSeq := time.Since(t0)
	t0 = time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.api.partURLs(c.ID, batch(1+i*1000)); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	par := time.Since(t0)
	select {
	case err := <-errc:
		return err
	default:
	}
	s.printf("### 2. Batch signing\n\n")
	s.printf("The API signs at most 1,000 part URLs per call (API.md), so 10,000 URLs take 10 calls. Session of 10,000 parts of 5 MiB. The 10 × 1,000 runs decode every answer with encoding/json (as a Go client does), and the target is judged on them; one row repeats the sequential run reading the answers without decoding them, to show the client's share.\n\n")
	s.printf("| what | time |\n|---|---|\n")
	s.printf("| 1 request, 1,000 URLs (20 runs) | p50 %v, p99 %v, max %v (%d KiB response, %.1f µs per URL at p50) |\n",
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), mx.Round(time.Microsecond), bytesOut>>10, float64(p50.Microseconds())/1000)
	s.printf("| 10,000 URLs as 10 × 1,000, one after another | %v |\n", seq.Round(time.Microsecond))
	s.printf("| the same, answers read but not decoded by the client | %v |\n", rawSeq.Round(time.Microsecond))
	s.printf("| 10,000 URLs as 10 × 1,000, 10 requests at once | %v |\n\n", par.Round(time.Microsecond))
	ok := min(seq, par) <= batchTarget
	s.printf("Target 10,000 part URLs ≤ %v (measured as 10 × 1,000): **%s** (sequential %v, parallel %v).\n\n",
		batchTarget, metIf(ok), seq.Round(time.Millisecond), par.Round(time.Millisecond))
	s.target(fmt.Sprintf("10,000 part URLs (10 × 1,000) ≤ %v", batchTarget), ok,
		fmt.Sprintf("sequential %v, 10 at once %v (decoded by the client; read only: %v)", seq.Round(time.Millisecond), par.Round(time.Millisecond), rawSeq.Round(time.Millisecond)))
	return nil
}

func jsonInts(ns []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(n))
	}
	b.WriteByte(']')
	return b.String()
}

// ---- 3. create and complete -------------------------------------------

func (s *suite) lifecycle() error {
	ctx := context.Background()
	const n = 100
	const complete = 30
	var createLat, completeLat []time.Duration
	var todo []*created
	for i := range n {
		t0 := time.Now()
		c, err := s.api.create(2<<20, "small")
		if err != nil {
			return err
		}
		createLat = append(createLat, time.Since(t0))
		if c.Strategy != "multipart" || c.PartCount != 1 {
			return fmt.Errorf("small profile gave %s with %d parts", c.Strategy, c.PartCount)
		}
		if i < complete {
			todo = append(todo, c)
		}
	}
	data := make([]byte, 2<<20)
	_, _ = rand.Read(data)
	for _, c := range todo {
		etag, err := putPart(c.Parts[0], strings.NewReader(string(data)))
		if err != nil {
			return err
		}
		if err := s.api.report(c.ID, 1, etag, int64(len(data))); err != nil {
			return err
		}
		t0 := time.Now()
		if err := s.api.complete(c.ID); err != nil {
			return err
		}
		completeLat = append(completeLat, time.Since(t0))
	}

	// The store's own round trips, with minio-go directly.
	var newMP, listP, compMP, stat, redisPing, sessGet []time.Duration
	for i := range n {
		key := fmt.Sprintf("direct/%d.bin", i)
		t0 := time.Now()
		id, err := s.core.NewMultipartUpload(ctx, benchBucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
		if err != nil {
			return err
		}
		newMP = append(newMP, time.Since(t0))
		if i >= complete {
			_ = s.core.AbortMultipartUpload(ctx, benchBucket, key, id)
			continue
		}
		p, err := s.core.PutObjectPart(ctx, benchBucket, key, id, 1, strings.NewReader(string(data)), int64(len(data)), minio.PutObjectPartOptions{})
		if err != nil {
			return err
		}
		t0 = time.Now()
		if _, err := s.core.ListObjectParts(ctx, benchBucket, key, id, 0, 1000); err != nil {
			return err
		}
		listP = append(listP, time.Since(t0))
		t0 = time.Now()
		if _, err := s.core.CompleteMultipartUpload(ctx, benchBucket, key, id, []minio.CompletePart{{PartNumber: 1, ETag: p.ETag}}, minio.PutObjectOptions{}); err != nil {
			return err
		}
		compMP = append(compMP, time.Since(t0))
		t0 = time.Now()
		if _, err := s.core.StatObject(ctx, benchBucket, key, minio.StatObjectOptions{}); err != nil {
			return err
		}
		stat = append(stat, time.Since(t0))
	}
	store := sessions.NewRedisStore(s.rc, sessions.WithKeyPrefix("chute"))
	for range n {
		t0 := time.Now()
		if err := s.rc.Ping(ctx).Err(); err != nil {
			return err
		}
		redisPing = append(redisPing, time.Since(t0))
		t0 = time.Now()
		if _, err := store.Get(ctx, todo[0].ID); err != nil {
			return err
		}
		sessGet = append(sessGet, time.Since(t0))
	}
	row := func(name string, ds []time.Duration) {
		p50, p99, mx := quantiles(ds)
		s.printf("| %s | %d | %v | %v | %v |\n", name, len(ds), p50.Round(time.Microsecond), p99.Round(time.Microsecond), mx.Round(time.Microsecond))
	}
	s.printf("### 3. Create and complete latency\n\n")
	s.printf("Sequential calls, one at a time. Create: a 2 MiB multipart session (profile with 5 MiB parts, so one part; the answer carries its URL). Complete: after the part was PUT to the store and reported. The rows below Chute's are the same store and Redis operations timed directly with minio-go / go-redis, so the broker's own share is the difference.\n\n")
	s.printf("| operation | n | p50 | p99 | max |\n|---|---|---|---|---|\n")
	row("Chute `POST /v1/uploads` (create)", createLat)
	row("Chute `POST /v1/uploads/{id}/complete`", completeLat)
	row("store: CreateMultipartUpload (minio-go)", newMP)
	row("store: ListParts (minio-go)", listP)
	row("store: CompleteMultipartUpload (minio-go)", compMP)
	row("store: HEAD object (minio-go)", stat)
	row("Redis: PING round trip", redisPing)
	row("Redis: session Get (sessions.RedisStore, HGETALL×2)", sessGet)
	p := func(ds []time.Duration) time.Duration { a, _, _ := quantiles(ds); return a }
	s.printf("\nCreate = one CreateMultipartUpload + one session write: p50 %v vs %v for the store call alone. Complete = ListParts + CompleteMultipartUpload + HEAD + session reads/writes: p50 %v vs %v for the three store calls alone.\n\n",
		p(createLat).Round(time.Microsecond), p(newMP).Round(time.Microsecond), p(completeLat).Round(time.Microsecond), (p(listP) + p(compMP) + p(stat)).Round(time.Microsecond))
	return nil
}

// ---- 5. memory -------------------------------------------------------

func usedMemory(ctx context.Context, rc *redis.Client) (int64, error) {
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO")
}

func (s *suite) memory() error {
	ctx := context.Background()
	store := sessions.NewRedisStore(s.rc, sessions.WithKeyPrefix("memtest"))
	const nSess, nPartSess, mParts = 10000, 100, 100
	before, err := usedMemory(ctx, s.rc)
	if err != nil {
		return err
	}
	now := time.Now()
	ids := make([]string, nSess)
	work := make(chan int)
	errc := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := fmt.Sprintf("upl_%026d", i)
				ids[i] = id
				err := store.Create(ctx, &sessions.Session{
					ID: id, Subject: "alice", Profile: "default", Backend: "main",
					Key:      "alice/2026/12/03/" + id + ".mp4",
					UploadID: "NjA0YjQ5ZjAtYjY2Ny00ODc4LWE0ZWQtZjQ3NjE0NTU4NzBhLjE3MzMyMzA0MDA" + strconv.Itoa(i),
					Strategy: sessions.StrategyMultipart, State: sessions.StatePending,
					Filename: "holiday-video.mp4", ContentType: "video/mp4",
					Size: 1 << 30, PartSize: 16 << 20, PartCount: 64,
					CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
				})
				if err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := range nSess {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	afterSess, _ := usedMemory(ctx, s.rc)
	work = make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := ids[i/mParts]
				n := i%mParts + 1
				_, err := store.PutPart(ctx, id, sessionsPart(n))
				if err != nil {
					errc <- err
				}
			}
		}()
	}
	for i := range nPartSess * mParts {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	afterParts, _ := usedMemory(ctx, s.rc)
	s.printf("### 5. Memory\n\n")
	s.printf("Redis `INFO memory` used_memory around writes through `sessions.RedisStore` (the store Chute uses): %d multipart sessions (1 GiB, 64 parts, typical key and upload id), then %d reported parts (%d sessions × %d parts).\n\n", nSess, nPartSess*mParts, nPartSess, mParts)
	s.printf("| | bytes |\n|---|---|\n")
	s.printf("| Redis per session | %d |\n", (afterSess-before)/nSess)
	s.printf("| Redis per reported part | %d |\n", (afterParts-afterSess)/(nPartSess*mParts))
	s.printf("| Redis for %d sessions | %.1f MiB |\n\n", nSess, float64(afterSess-before)/(1<<20))

	// Chute's RSS with 10,000 open sessions, created over HTTP.
	u0 := readUsage(s.chute.pid())
	spec := loadSpec{addr: s.chuteAd, method: "POST", path: "/v1/uploads", token: s.token, want: 201, conns: s.conns, n: 10000, d: 2 * time.Minute,
		body: func(int) []byte {
			return []byte(`{"filename":"clip.mp4","content_type":"video/mp4","size":1073741824}`)
		}}
	res := runLoad(spec)
	u1 := readUsage(s.chute.pid())
	if res.Errors > 0 {
		return fmt.Errorf("creating sessions: %d errors, first: %s", res.Errors, res.FirstErr)
	}
	s.printf("Chute (`chute serve`) RSS before and after creating %d more open multipart sessions over HTTP (each also a CreateMultipartUpload on versitygw; %d connections): RSS %.1f MiB → %.1f MiB, peak RSS since start %.1f MiB. Chute keeps no per-session state in memory; the sessions live in Redis. The creates ran at %.0f req/s (p50 %v, p99 %v).\n\n",
		res.Requests, s.conns, float64(u0.RSS)/(1<<20), float64(u1.RSS)/(1<<20), float64(u1.HWM)/(1<<20), res.RPS(), res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond))
	return nil
}

// ---- 4. end to end ---------------------------------------------------

func (s *suite) endToEnd(rounds int) error {
	path := filepath.Join(s.dir, "payload.bin")
	if err := writeRandom(path, s.size); err != nil {
		return err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx := context.Background()

	type row struct {
		name           string
		wall           time.Duration
		srvCPU, vgwCPU time.Duration
		clientCPU      time.Duration
		srvHWM         int64
		calls          int
	}
	var rows []row
	best := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	for r := 1; r <= rounds; r++ {
		for _, v := range []string{"chute", "direct", "proxy", "chute-lean"} {
			key := fmt.Sprintf("e2e/%s-%d.bin", v, r)
			var srv *proc
			switch v {
			case "chute", "chute-lean":
				srv = s.chute
			case "proxy":
				srv = s.proxy
			}
			if srv != nil {
				resetPeak(srv.pid())
			}
			var s0, s1 usage
			if srv != nil {
				s0 = readUsage(srv.pid())
			}
			v0, c0 := readUsage(s.vgw.pid()), readUsage(os.Getpid())
			t0 := time.Now()
			calls := 0
			switch v {
			case "chute":
				calls, err = chuteUpload(s.api, f, s.size, 4, true)
			case "chute-lean":
				calls, err = chuteUpload(s.api, f, s.size, 4, false)
			case "direct":
				err = directUpload(s.mc, benchBucket, key, f, s.size)
			case "proxy":
				err = proxyUpload(s.proxyAd, key, f, s.size)
			}
			wall := time.Since(t0)
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			if srv != nil {
				s1 = readUsage(srv.pid())
			}
			v1, c1 := readUsage(s.vgw.pid()), readUsage(os.Getpid())
			rw := row{name: v, wall: wall, vgwCPU: v1.CPU - v0.CPU, clientCPU: c1.CPU - c0.CPU, calls: calls}
			if srv != nil {
				rw.srvCPU, rw.srvHWM = s1.CPU-s0.CPU, s1.HWM
			}
			rows = append(rows, rw)
			if b, ok := best[v]; !ok || wall < b {
				best[v] = wall
			}
			cpu[v] += rw.srvCPU
			fmt.Fprintf(os.Stderr, "%s round %d: %v\n", v, r, wall)
			// Keep the disk use down: drop every uploaded object.
			s.removePrefix(ctx, "e2e/")
			s.removePrefix(ctx, "bench/")
		}
	}
	names := map[string]string{
		"chute":      "Chute: create, part URLs, 4 parallel presigned PUTs to the store, report, complete",
		"direct":     "minio-go PutObject straight to the store (16 MiB parts, 4 threads)",
		"proxy":      "naive proxy: one PUT to a Go server that PutObjects it (16 MiB parts, 4 threads)",
		"chute-lean": "Chute without per-part reports: the part list goes in the complete call",
	}
	mb := float64(s.size) / (1 << 20)
	s.printf("### 4. End to end: a %.0f MiB upload, three designs\n\n", mb)
	s.printf("Random bytes from a file in the page cache. The \"server\" is Chute or the proxy; the direct upload has none. Server CPU is utime+stime from /proc/PID/stat around the upload; peak RSS is VmHWM after resetting it (clear_refs 5) just before. versitygw's and the client's CPU are shown for scale. The client is this benchmark process.\n\n")
	s.printf("| round | design | wall | MiB/s | server CPU | server peak RSS | versitygw CPU | client CPU | API calls |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, rw := range rows {
		srvCPU, hwm := "–", "–"
		if rw.name != "direct" {
			srvCPU = rw.srvCPU.Round(time.Millisecond).String()
			hwm = fmt.Sprintf("%.1f MiB", float64(rw.srvHWM)/(1<<20))
		}
		calls := "–"
		if rw.name == "chute" || rw.name == "chute-lean" {
			calls = strconv.Itoa(rw.calls)
		}
		s.printf("| %d | %s | %v | %.0f | %s | %s | %v | %v | %s |\n", i/4+1, names[rw.name], rw.wall.Round(time.Millisecond), mb/rw.wall.Seconds(), srvCPU, hwm, rw.vgwCPU.Round(time.Millisecond), rw.clientCPU.Round(time.Millisecond), calls)
	}
	ratio := best["direct"].Seconds() / best["chute"].Seconds()
	cpuRatio := cpu["chute"].Seconds() / max(cpu["proxy"].Seconds(), 1e-9)
	leanRatio := cpu["chute-lean"].Seconds() / max(cpu["proxy"].Seconds(), 1e-9)
	s.printf("\nBest of %d rounds: Chute %v, direct %v, proxy %v. Chute's throughput is **%.0f%%** of minio-go's direct multipart upload (target ≥ %.0f%%: **%s**). Chute's CPU, summed over rounds, is **%.2f%%** of the proxy's (%v vs %v; target ≤ 1%%: **%s**).\n\n",
		rounds, best["chute"].Round(time.Millisecond), best["direct"].Round(time.Millisecond), best["proxy"].Round(time.Millisecond),
		100*ratio, 100*e2eTarget, metIf(ratio >= e2eTarget), 100*cpuRatio, cpu["chute"].Round(time.Millisecond), cpu["proxy"].Round(time.Millisecond), metIf(cpuRatio <= 0.01))
	s.printf("Without per-part reports (the client lists the parts in complete; Chute still checks them against ListParts) Chute's CPU is **%.2f%%** of the proxy's (%v; target ≤ 1%%: **%s**), best wall %v.\n\n",
		100*leanRatio, cpu["chute-lean"].Round(time.Millisecond), metIf(leanRatio <= 0.01), best["chute-lean"].Round(time.Millisecond))
	s.target(fmt.Sprintf("%.0f MiB end to end ≥ %.0f%% of minio-go's throughput", mb, 100*e2eTarget), ratio >= e2eTarget,
		fmt.Sprintf("%.0f%% (best of %d: Chute %v, minio-go %v)", 100*ratio, rounds, best["chute"].Round(time.Millisecond), best["direct"].Round(time.Millisecond)))
	s.printf("CPU time is sampled by the kernel in 10 ms ticks, so Chute's figure (a few hundred API calls) is only accurate to about ±10 ms per round.\n\n")
	return nil
}

func (s *suite) removePrefix(ctx context.Context, prefix string) {
	for obj := range s.mc.ListObjects(ctx, benchBucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err == nil {
			_ = s.mc.RemoveObject(ctx, benchBucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}
}

// writeRandom writes size random bytes to path.
func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	_, _ = rand.Read(buf)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		// Vary each block cheaply so no two parts are alike.
		buf[0], buf[1] = byte(left>>22), byte(left>>30)
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

// profileSign runs one sign-part load against `chutebench serve-profile`
// and leaves its CPU profile in file; with a payload file of size bytes
// it then profiles the API side of one end-to-end upload into e2eFile.
func (s *suite) profileSign(file string) error {
	addr, p, err := s.startProfiled(file)
	if err != nil {
		return err
	}
	defer p.stop()
	c, err := newAPI("http://"+addr, s.token).create(1<<30, "")
	if err != nil {
		return err
	}
	res := runLoad(loadSpec{addr: addr, method: "POST", path: "/v1/uploads/" + c.ID + "/part-urls", token: s.token,
		body:   func(i int) []byte { return []byte(`{"part_numbers":[` + strconv.Itoa(i%c.PartCount+1) + `]}`) },
		period: c.PartCount, want: 200, conns: s.conns, n: 10_000_000, d: s.dur})
	fmt.Fprintf(os.Stderr, "profiled sign-part: %v\n", res)
	s.printf("A CPU profile of sign-part under the same load (broker wired in process as `chute serve` wires it, %.0f req/s while profiled) is summarised below.\n\n", res.RPS())
	return nil
}

// profileE2E profiles the broker's side of one end-to-end upload.
func (s *suite) profileE2E(file string) error {
	addr, p, err := s.startProfiled(file)
	if err != nil {
		return err
	}
	defer p.stop()
	path := filepath.Join(s.dir, "payload-profile.bin")
	if err := writeRandom(path, s.size); err != nil {
		return err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	u0 := readUsage(p.pid())
	t0 := time.Now()
	calls, err := chuteUpload(newAPI("http://"+addr, s.token), f, s.size, 4, true)
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	u1 := readUsage(p.pid())
	s.removePrefix(context.Background(), "bench/")
	s.printf("A CPU profile of the broker during one more end-to-end upload through Chute (in process, %d API calls, %v wall, %v broker CPU) is summarised below.\n\n", calls, wall.Round(time.Millisecond), (u1.CPU - u0.CPU).Round(time.Millisecond))
	return nil
}

// startProfiled starts `chutebench serve-profile` writing its CPU
// profile to file.
func (s *suite) startProfiled(file string) (string, *proc, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", nil, err
	}
	p, err := start(s.dir, "serve-profile-"+filepath.Base(file), nil, self, "serve-profile", "-addr", addr,
		"-redis", s.rc.Options().Addr, "-endpoint", "http://"+s.endpoint, "-cpuprofile", abs, "-log", filepath.Join(s.dir, "profile-access.log"))
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitTCP(ctx, addr); err != nil {
		p.stop()
		return "", nil, err
	}
	return addr, p, nil
}

// ---- 3b. a small upload end to end ------------------------------------

// smallUpload times a 1 MiB upload through Chute (create, which gives a
// single presigned PUT; the PUT straight to the store; complete, which
// checks the object) against minio-go's PutObject of the same bytes,
// alternating, one at a time.
func (s *suite) smallUpload() error {
	const size = 1 << 20
	const n = 40
	ctx := context.Background()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	var chute, direct, create, put, complete []time.Duration
	for i := range n + 1 { // the first of each is a warm-up
		t0 := time.Now()
		var c struct {
			ID       string `json:"id"`
			Strategy string `json:"strategy"`
			Upload   *struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"upload"`
		}
		err := s.api.call(http.MethodPost, "/v1/uploads", createReq{Filename: "small.bin", ContentType: "application/octet-stream", Size: size}, &c, http.StatusCreated)
		if err != nil {
			return err
		}
		if c.Strategy != "single" || c.Upload == nil {
			return fmt.Errorf("a 1 MiB upload got strategy %q, want single", c.Strategy)
		}
		t1 := time.Now()
		if _, err := putPart(partURL{URL: c.Upload.URL, Headers: c.Upload.Headers, Size: size, PartNumber: 1}, bytes.NewReader(data)); err != nil {
			return err
		}
		t2 := time.Now()
		if err := s.api.complete(c.ID); err != nil {
			return err
		}
		t3 := time.Now()
		if _, err := s.mc.PutObject(ctx, benchBucket, fmt.Sprintf("small/%d.bin", i), bytes.NewReader(data), size,
			minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			return err
		}
		t4 := time.Now()
		if i == 0 {
			continue
		}
		chute, create, put, complete = append(chute, t3.Sub(t0)), append(create, t1.Sub(t0)), append(put, t2.Sub(t1)), append(complete, t3.Sub(t2))
		direct = append(direct, t4.Sub(t3))
	}
	s.removePrefix(ctx, "small/")
	s.removePrefix(ctx, "bench/")
	s.printf("### 3b. A 1 MiB upload end to end\n\n")
	s.printf("One at a time, %d of each, alternating: through Chute (`POST /v1/uploads` of 1 MiB, which gives one presigned PUT; the PUT straight to the store; `POST .../complete`, which checks the object), and minio-go's `PutObject` of the same bytes straight to the store.\n\n", n)
	s.printf("| what | p50 | p99 | max |\n|---|---|---|---|\n")
	row := func(name string, ds []time.Duration) time.Duration {
		p50, p99, mx := quantiles(ds)
		s.printf("| %s | %v | %v | %v |\n", name, p50.Round(time.Microsecond), p99.Round(time.Microsecond), mx.Round(time.Microsecond))
		return p50
	}
	cp := row("Chute: create → PUT → complete", chute)
	row("… create", create)
	row("… PUT to the store", put)
	row("… complete", complete)
	dp := row("minio-go PutObject", direct)
	ratio := cp.Seconds() / max(dp.Seconds(), 1e-9)
	ok := ratio <= smallTarget
	s.printf("\nAt p50 Chute's upload takes **%.2f×** minio-go's PutObject (target ≤ %.0f×: **%s**).\n\n", ratio, smallTarget, metIf(ok))
	s.target(fmt.Sprintf("1 MiB create → PUT → complete ≤ %.0f× a PutObject", smallTarget), ok,
		fmt.Sprintf("%.2f× (p50 %v vs %v)", ratio, cp.Round(time.Microsecond), dp.Round(time.Microsecond)))
	return nil
}
