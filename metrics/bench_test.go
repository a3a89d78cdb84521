package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
)

// benchApp is a Fiber app with chute's routes (the native API under /v1,
// the Companion API under /s3 and /t/:token/s3, the console), each
// answering 200 at once, with mw (if any) in front as chute serve installs
// the request metrics.
func benchApp(mw fiber.Handler) *fiber.App {
	app := fiber.New()
	if mw != nil {
		app.Use(mw)
	}
	ok := func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) }
	app.Get("/healthz", ok)
	app.Get("/readyz", ok)
	v1 := app.Group("/v1")
	v1.Post("/uploads", ok)
	v1.Get("/uploads/:id", ok)
	v1.Post("/uploads/:id/part-urls", ok)
	v1.Put("/uploads/:id/parts/:n", ok)
	v1.Post("/uploads/:id/complete", ok)
	v1.Delete("/uploads/:id", ok)
	v1.Get("/uploads/:id/download-url", ok)
	for _, g := range []fiber.Router{app.Group("/s3"), app.Group("/t/:token/s3")} {
		g.Get("/params", ok)
		g.Post("/multipart", ok)
		g.Get("/multipart/:id/:n", ok)
		g.Get("/multipart/:id", ok)
		g.Post("/multipart/:id/complete", ok)
		g.Delete("/multipart/:id", ok)
	}
	app.Get("/openapi.json", ok)
	app.Get("/metrics", ok)
	app.Get("/", ok)
	app.Get("/:file", ok)
	return app
}

// benchRequests are the two signing requests of chute's load test: a
// native part-urls call and an Uppy part URL whose path carries the JWT.
var benchRequests = []struct{ method, path string }{
	{"POST", "/v1/uploads/upl_01JF3Z8Q6W2V9KX4T7M5N0RBCD/part-urls"},
	{"GET", "/t/" + strings.Repeat("eyJhbGciOiJIUzI1NiJ9", 10) + "/s3/multipart/" +
		strings.Repeat("a", 64) + "/17"},
}

// benchHTTP sends the benchmark requests in turn to app's handler,
// reusing one RequestCtx as fasthttp's server does.
func benchHTTP(b *testing.B, app *fiber.App) {
	h := app.Handler()
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := benchRequests[i%len(benchRequests)]
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod(r.method)
		ctx.Request.SetRequestURI(r.path)
		h(&ctx)
		if ctx.Response.StatusCode() != fiber.StatusOK {
			b.Fatalf("%s %s: %d", r.method, r.path, ctx.Response.StatusCode())
		}
	}
}

// BenchmarkMiddleware is a request through Fiber with the request metrics;
// BenchmarkMiddlewareNone the same without them: the difference is the
// middleware's cost, of which BenchmarkMiddlewarePassThrough (a middleware
// that only calls the next handler) is Fiber's.
func BenchmarkMiddleware(b *testing.B)     { benchHTTP(b, benchApp(New().Middleware())) }
func BenchmarkMiddlewareNone(b *testing.B) { benchHTTP(b, benchApp(nil)) }
func BenchmarkMiddlewarePassThrough(b *testing.B) {
	benchHTTP(b, benchApp(func(c *fiber.Ctx) error { return c.Next() }))
}

// nopStore presigns nothing and fails nothing: what remains is the
// decorator's own cost.
type nopStore struct{ stubStore }

func (nopStore) PresignPart(context.Context, string, string, int, broker.PartOptions, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{}, nil
}

func (nopStore) PresignPartUnsized(context.Context, string, string, int, time.Duration) (broker.PresignedRequest, error) {
	return broker.PresignedRequest{}, nil
}

func BenchmarkStorePresignPart(b *testing.B) {
	s := New().Store("main", nopStore{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.PresignPart(ctx, "k", "u", i%10000+1, broker.PartOptions{}, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStorePresignPartUnsized(b *testing.B) {
	p := New().Capabilities("main", broker.Capabilities{UnsizedParts: nopStore{}}).UnsizedParts
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.PresignPartUnsized(ctx, "k", "u", i%10000+1, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteMatch(b *testing.B) {
	match := RoutePatterns(benchApp(nil).GetRoutes(true))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := benchRequests[i%len(benchRequests)]
		if match(r.method, r.path) == Unmatched {
			b.Fatal("unmatched")
		}
	}
}

func BenchmarkSessionsGet(b *testing.B) {
	s := New().Sessions(stubSessions{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(ctx, "a"); err != nil {
			b.Fatal(err)
		}
	}
}
