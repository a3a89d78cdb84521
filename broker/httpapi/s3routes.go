package httpapi

// The Uppy-compatible routes: Companion's /s3 protocol, translated by
// package broker/companion; this file parses the requests and renders the
// answers like any other route. They are served twice: under /s3, authenticated like /v1 (an
// Authorization header, or none in auth mode none), and under
// /t/{token}/s3, where the path segment is the bearer token, because
// Uppy's fetch sends no auth header. The access log names route patterns
// only, so the token in the path is never logged by Chute (a proxy in
// front may log paths: prefer short-lived tokens).

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/companion"
)

// s3Routes installs the Companion routes on r (a group that has already
// authenticated the caller).
func (s *Server) s3Routes(r fiber.Router) {
	r.Get("/params", s.handle(s.s3Params, fiber.StatusOK))
	r.Post("/multipart", s.handle(s.s3Create, fiber.StatusOK))
	r.Get("/multipart/:id/:n", s.handleSign(s.s3SignPart))
	r.Get("/multipart/:id", s.handle(s.s3ListParts, fiber.StatusOK))
	r.Post("/multipart/:id/complete", s.handle(s.s3Complete, fiber.StatusOK))
	r.Delete("/multipart/:id", s.handle(s.s3Abort, fiber.StatusOK))
	r.Use(func(c *fiber.Ctx) error {
		if err := s.methodNotAllowed(c); err != nil {
			return err
		}
		return broker.Errorf(broker.CodeNotFound, "no such route: %s %s", c.Method(), c.Route().Path)
	})
}

// installS3Routes registers the Companion routes at /s3 and /t/:token/s3.
func (s *Server) installS3Routes(app *fiber.App) {
	s.s3Routes(app.Group("/s3", s.authenticate, s.rateLimit))
	s.s3Routes(app.Group("/t/:token/s3", s.authenticatePathToken, s.rateLimit))
}

// authenticatePathToken authenticates with the :token path segment as the
// bearer token.
func (s *Server) authenticatePathToken(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodOptions {
		return c.Next()
	}
	// Not copied: subjectOf copies the token when it must keep it.
	subject, err := s.subjectOf(c, c.Params("token"))
	if err != nil {
		s.log.Info("authentication failed", "request_id", infoOf(c).id, "reason", err.Error())
		return broker.Errorf(broker.CodeUnauthorized, "invalid or expired token")
	}
	infoOf(c).subject = subject
	return c.Next()
}

// keyParam returns a copy of the required ?key= query parameter.
func keyParam(c *fiber.Ctx) (string, error) {
	key := utils.CopyString(c.Query("key"))
	if key == "" {
		return "", broker.Errorf(broker.CodeInvalidRequest, "key: required")
	}
	return key, nil
}

func (s *Server) s3Params(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	q := companion.ParamsQuery{
		Filename: utils.CopyString(c.Query("filename")),
		Type:     utils.CopyString(c.Query("type")),
		Profile:  utils.CopyString(c.Query("profile")),
		Size:     utils.CopyString(c.Query("size")),
		Metadata: map[string]any{},
	}
	for k, v := range c.Context().QueryArgs().All() {
		name := string(k)
		if strings.HasPrefix(name, "metadata[") && strings.HasSuffix(name, "]") {
			q.Metadata[name[len("metadata["):len(name)-1]] = string(v)
		}
	}
	return s.uppy.Params(ctx, subject, q, clientHeaders(c, s.svc.ClientHeaderNames()))
}

func (s *Server) s3Create(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	var body companion.CreateBody
	if err := decode(c, &body, false); err != nil {
		return nil, err
	}
	return s.uppy.Create(ctx, subject, body, clientHeaders(c, s.svc.ClientHeaderNames()))
}

func (s *Server) s3SignPart(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	return s.uppy.SignPart(ctx, subject, id(c), utils.CopyString(c.Query("key")), utils.CopyString(c.Params("n")))
}

func (s *Server) s3ListParts(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	return s.uppy.ListParts(ctx, subject, id(c), utils.CopyString(c.Query("key")))
}

func (s *Server) s3Complete(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	key, err := keyParam(c) // before the body, as Companion checks it
	if err != nil {
		return nil, err
	}
	var body companion.CompleteBody
	if err := decode(c, &body, false); err != nil {
		return nil, err
	}
	return s.uppy.Complete(ctx, subject, id(c), key, body)
}

func (s *Server) s3Abort(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	if err := s.uppy.Abort(ctx, subject, id(c), utils.CopyString(c.Query("key"))); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
