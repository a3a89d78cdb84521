package tracing_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/tracing"
)

// ports is what one request does on the traced seams: a server span
// around authentication and two store calls.
type ports struct {
	app   *fiber.App
	fctx  *fasthttp.RequestCtx
	store broker.ObjectStore
}

// newPorts builds the request's seams, traced by tr; a nil tr means no
// tracing code at all (not even a call of a decorator).
func newPorts(tr *tracing.Tracer) *ports {
	var store broker.ObjectStore = newMemStore()
	var authn auth.Authenticator = auth.None{}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if tr != nil {
		store = tr.Store("main", store)
		authn = tr.Authenticator(authn)
		if mw := tr.Middleware(); mw != nil {
			app.Use(mw)
		}
	}
	app.Get("/v1/uploads/:id", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		if _, err := authn.Authenticate(ctx, "token"); err != nil {
			return err
		}
		if _, err := store.PresignPart(ctx, "k", "u", 1, broker.PartOptions{Size: 5}, time.Minute); err != nil {
			return err
		}
		_, _ = store.Stat(ctx, "k")
		return c.SendStatus(http.StatusOK)
	})
	fctx := &fasthttp.RequestCtx{}
	fctx.Request.Header.SetMethod("GET")
	fctx.Request.SetRequestURI("/v1/uploads/upl_1")
	return &ports{app: app, fctx: fctx, store: store}
}

func (p *ports) request() {
	p.fctx.Response.Reset()
	p.app.Handler()(p.fctx)
}

// bare is the same request with no tracer at all.
func bare() *ports { return newPorts(nil) }

// TestOffAddsNothing: with tracing off every decorator returns what it is
// given, the middleware is absent, and a request allocates exactly as
// much as one with no tracing code at all.
func TestOffAddsNothing(t *testing.T) {
	off, err := tracing.New(tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled() {
		t.Fatal("tracing is on by default")
	}
	store := newMemStore()
	if off.Store("main", store) != broker.ObjectStore(store) {
		t.Error("off: Store wrapped the store")
	}
	caps := broker.Capabilities{Heads: headOnly{}, Bucket: "b"}
	if got := off.Capabilities("main", caps); got.Heads != caps.Heads {
		t.Error("off: Capabilities wrapped an ability")
	}
	if off.Middleware() != nil || off.Client("verify_hook") != nil || off.Propagator() != nil {
		t.Error("off: a middleware, a client or a propagator")
	}
	rt := http.DefaultTransport
	if off.Transport("webhook", rt) != rt {
		t.Error("off: Transport wrapped the transport")
	}
	if a := (auth.None{}); off.Authenticator(a) != auth.Authenticator(a) {
		t.Error("off: Authenticator wrapped")
	}
	if off.RateLimiter(nil) != nil {
		t.Error("off: a nil limiter became one")
	}
	if err := off.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}

	b, o := bare(), newPorts(off)
	b.request()
	o.request()
	base, withOff := allocs(b.request), allocs(o.request)
	if withOff != base {
		t.Errorf("a request allocates %v times with tracing off, %v with no tracing", withOff, base)
	}
	// The check can fail: tracing on does allocate.
	on := newPorts(tracing.NewWithProcessor(tracing.Config{SampleRatio: 1}, sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	on.request()
	if withOn := allocs(on.request); withOn <= base {
		t.Errorf("tracing on allocates %v, no more than off (%v): the measure sees nothing", withOn, base)
	}
}

// allocs is the allocations of one call of f: the least of a few
// measures, as other goroutines of the test binary (servers of earlier
// tests winding down) only ever add to one. Each measure averages many
// calls: under the race detector sync.Pool drops items at random (Fiber
// and fasthttp pool their contexts), so one call's count varies while the
// average of two thousand does not.
func allocs(f func()) float64 {
	least := testing.AllocsPerRun(2000, f)
	for range 4 {
		least = min(least, testing.AllocsPerRun(2000, f))
	}
	return least
}

type headOnly struct{}

func (headOnly) ReadHead(context.Context, string, int64) ([]byte, error) { return nil, nil }

// BenchmarkOff compares one request through the traced seams (server
// span, authentication, two store calls) with no tracing code, with
// tracing off and with tracing on (spans recorded, dropped at export).
func BenchmarkOff(b *testing.B) {
	off, _ := tracing.New(tracing.Config{})
	on := tracing.NewWithProcessor(tracing.Config{SampleRatio: 1}, sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter()))
	for _, c := range []struct {
		name string
		p    *ports
	}{{"bare", bare()}, {"off", newPorts(off)}, {"on", newPorts(on)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.p.request()
			}
		})
	}
}

// TestAuthenticatorKeepsCache: the traced authenticator answers from the
// cache of verified tokens when the one it wraps has one (the HTTP layer
// looks for it), and has none when that one has none.
func TestAuthenticatorKeepsCache(t *testing.T) {
	tr := tracing.NewWithProcessor(tracing.Config{SampleRatio: 1}, sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter()))
	type cached interface {
		Cached(string) (string, bool)
	}
	c, ok := tr.Authenticator(auth.None{Subject: "anon"}).(cached)
	if !ok {
		t.Fatal("the traced auth.None lost its cache")
	}
	if sub, ok := c.Cached("x"); !ok || sub != "anon" {
		t.Errorf("Cached = %q, %v", sub, ok)
	}
	keys, err := auth.NewAPIKeys([]auth.APIKey{{Key: "key-0123456789abcdef", Subject: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Authenticator(keys).(cached); ok {
		t.Error("the traced API keys have a cache they do not have")
	}
}
