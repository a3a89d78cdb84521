package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/companion"
)

// TestRenderSameAsJSON: render answers exactly what c.JSON with the
// server's encoder answers (status, Content-Type, bytes), for the answers
// it encodes into its pooled buffer and for one it leaves to c.JSON; the
// buffers it reuses never leak one answer into the next.
func TestRenderSameAsJSON(t *testing.T) {
	app := fiber.New(fiber.Config{JSONEncoder: marshal})
	exp := time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)
	values := []any{
		&broker.PartURLsResult{Parts: []broker.PartURL{
			{PartNumber: 1, Method: "PUT", URL: "https://s3.example/b/k?partNumber=1&uploadId=x&X-Amz-Signature=ab", Headers: map[string]string{"Content-Length": "5242880", "x-amz-checksum-sha256": "q83vEjRWeJA="}, ExpiresAt: exp},
			{PartNumber: 2, Method: "PUT", URL: "https://s3.example/b/k?partNumber=2", Headers: map[string]string{"Content-Length": "10"}, ExpiresAt: exp},
		}},
		&broker.PartURLsResult{Parts: []broker.PartURL{{PartNumber: 7, Method: "PUT", URL: "https://s/k?p=7"}}},
		&broker.Status{ID: "upl_x", Key: "a/b.bin", State: "uploading", Size: 10, ExpiresAt: exp},
		&companion.Signed{URL: "https://s3.example/b/k?partNumber=3", Expires: 900, Headers: map[string]string{"Content-Length": "5"}},
		&companion.Signed{URL: "https://s3.example/b/k?partNumber=4", Expires: 1},
		map[string]any{"status": "ok", "n": 1},
		&broker.PartURLsResult{Parts: []broker.PartURL{{PartNumber: 1, URL: "needs \"escaping\" <&>"}}},
	}
	type answer struct {
		i      int
		c      *fiber.Ctx
		status int
		want   []byte
	}
	var answers []answer // checked when all are rendered: a buffer reused too early shows
	for i, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		for _, status := range []int{fiber.StatusOK, fiber.StatusCreated} {
			c := app.AcquireCtx(&fasthttp.RequestCtx{})
			if err := render(c, status, v); err != nil {
				t.Fatal(err)
			}
			answers = append(answers, answer{i, c, status, bytes.TrimSuffix(want.Bytes(), []byte("\n"))})
		}
	}
	for _, a := range answers {
		if got := a.c.Response().StatusCode(); got != a.status {
			t.Fatalf("value %d: status %d, want %d", a.i, got, a.status)
		}
		if ct := string(a.c.Response().Header.ContentType()); ct != fiber.MIMEApplicationJSON {
			t.Fatalf("value %d: Content-Type %q", a.i, ct)
		}
		if got := a.c.Response().Body(); !bytes.Equal(got, a.want) {
			t.Fatalf("value %d:\n got %s\nwant %s", a.i, got, a.want)
		}
		app.ReleaseCtx(a.c)
	}
}
