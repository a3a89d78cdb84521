package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/internal/jsonlog"
	"github.com/chute-dev/chute/metrics"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// signStore creates multipart uploads without a store and presigns with
// the real S3 adapter (signing needs no network): the broker's whole
// sign-part path minus the network.
type signStore struct {
	downStore
	s3 *backends.S3
}

func (signStore) CreateMultipart(context.Context, string, backends.ObjectOptions) (string, error) {
	return "bench-upload-id", nil
}

func (s signStore) PresignPart(ctx context.Context, key, uploadID string, n int, o broker.PartOptions, ttl time.Duration) (backends.PresignedRequest, error) {
	return s.s3.PresignPart(ctx, key, uploadID, n, o, ttl)
}

// benchServer is a Server wired as chute serve wires it (JWT, JSON access
// log into a buffer, the request metrics, the signing cache), with one open multipart session
// created through each API; requests go straight to the Fiber handler.
type benchServer struct {
	srv             *Server
	h               fasthttp.RequestHandler
	token           string
	id              string // native session
	uppyID, uppyKey string // Companion session
	ctx             fasthttp.RequestCtx
}

func newBenchServer(b testing.TB) *benchServer {
	b.Helper()
	mr := miniredis.RunT(b)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	b.Cleanup(func() { _ = rc.Close() })
	s3, err := backends.NewS3(backends.Config{Name: "main", Endpoint: "http://127.0.0.1:9", Region: "us-east-1",
		Bucket: "bench", AccessKey: "benchaccesskey", SecretKey: "benchsecretkey-0123456789abcdef", PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB,
			PartSize: 16 * multipart.MiB, SingleMax: 16 * multipart.MiB, AllowedTypes: []string{"*/*"},
			URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}"}},
		Backends:     map[string]broker.ObjectStore{"main": signStore{s3: s3}},
		Capabilities: map[string]broker.Capabilities{"main": {UnsizedParts: s3}},
		Sessions:     sessions.NewRedisStore(rc),
		TTL:          24 * time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.NewJWT(auth.JWTConfig{Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(jsonlog.New(bufio.NewWriterSize(io.Discard, 64<<10), nil)) // as chute serve logs
	srv := New(svc, authn, Options{Logger: log, Middleware: []fiber.Handler{metrics.New().Middleware()}})
	bs := &benchServer{srv: srv, h: srv.App().Handler()}
	bs.token, _ = auth.SignHS256(secret, "bench", time.Hour, "", "")

	var created struct {
		ID       string `json:"id"`
		UploadID string `json:"uploadId"`
		Key      string `json:"key"`
	}
	body := bs.do(b, "POST", "/v1/uploads", `{"filename":"a.bin","content_type":"application/octet-stream","size":1073741824}`, true, 201)
	if err := json.Unmarshal(body, &created); err != nil {
		b.Fatal(err)
	}
	bs.id = created.ID
	body = bs.do(b, "POST", "/t/"+bs.token+"/s3/multipart", `{"filename":"a.bin","type":"application/octet-stream"}`, false, 200)
	if err := json.Unmarshal(body, &created); err != nil {
		b.Fatal(err)
	}
	bs.uppyID, bs.uppyKey = created.UploadID, created.Key
	return bs
}

// do sends one request to the handler and checks its status. Like
// fasthttp's server, it reuses one RequestCtx (reset between requests), so
// the allocations counted are the handler's own.
func (bs *benchServer) do(b testing.TB, method, path, body string, bearer bool, want int) []byte {
	ctx := &bs.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if bearer {
		ctx.Request.Header.Set("Authorization", "Bearer "+bs.token)
	}
	if body != "" {
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(body)
	}
	bs.h(ctx)
	if got := ctx.Response.StatusCode(); got != want {
		b.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, ctx.Response.Body())
	}
	return append([]byte(nil), ctx.Response.Body()...)
}

// BenchmarkSignPartHTTP is one native part-urls request of one part
// through the whole HTTP layer (auth, access log, parsing, the signing
// cache, SigV4, JSON), without the network.
func BenchmarkSignPartHTTP(b *testing.B) {
	bs := newBenchServer(b)
	path := "/v1/uploads/" + bs.id + "/part-urls"
	bodies := make([]string, 64)
	for i := range bodies {
		bodies[i] = `{"part_numbers":[` + strconv.Itoa(i+1) + `]}`
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		bs.do(b, "POST", path, bodies[i%64], true, 200)
	}
}

// BenchmarkSignPartUppy is the same on Companion's part route, the token
// in the path.
func BenchmarkSignPartUppy(b *testing.B) {
	bs := newBenchServer(b)
	paths := make([]string, 64)
	for i := range paths {
		paths[i] = "/t/" + bs.token + "/s3/multipart/" + url.PathEscape(bs.uppyID) + "/" + strconv.Itoa(i+1) + "?key=" + url.QueryEscape(bs.uppyKey)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		bs.do(b, "GET", paths[i%64], "", false, 200)
	}
}

// reportCPU reports the process's CPU time (user+system, GC included) per
// operation as cpu-ns/op: on a shared machine wall time per op moves with
// the load, CPU per op much less. Call it as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
