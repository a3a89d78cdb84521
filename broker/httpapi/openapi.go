package httpapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// openAPI is the OpenAPI 3.1 description of every route of the server:
// /v1, the Uppy-compatible /s3 routes, health, metrics and itself. Tests
// hold it to the handlers (openapi_test.go, and every response of the
// end-to-end suite).
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the server's OpenAPI 3.1 document (JSON). The caller
// must not modify it.
func OpenAPI() []byte { return openAPI }

// docRoutes serves GET /openapi.json and, when Options.Metrics is set,
// GET /metrics. Neither needs a token.
func (s *Server) docRoutes(app *fiber.App) {
	app.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(openAPI)
	})
	if s.opts.Metrics != nil {
		app.Get("/metrics", adaptor.HTTPHandler(s.opts.Metrics))
	}
}
