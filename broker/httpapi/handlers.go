package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/chute-dev/chute/api"
	"github.com/chute-dev/chute/broker"
)

// id returns a copy of the :id path parameter (Fiber reuses its buffers).
func id(c *fiber.Ctx) string { return utils.CopyString(c.Params("id")) }

func (s *Server) create(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	var body api.CreateRequest
	if err := decodeStrict(c, &body, false); err != nil {
		return nil, err
	}
	return s.svc.Create(ctx, subject, broker.NewCreateRequest(body, clientHeaders(c, s.svc.ClientHeaderNames())))
}

func (s *Server) status(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	sync := false
	switch c.Query("sync") {
	case "", "false", "0":
	case "true", "1":
		sync = true
	default:
		return nil, broker.Errorf(broker.CodeInvalidRequest, "sync: use true or false")
	}
	return s.svc.Status(ctx, subject, id(c), sync)
}

func (s *Server) partURLs(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	req, ok := parsePartNumbers(c.Body()) // the common body, without encoding/json: fastdecode.go
	if !ok {
		if err := decodeStrict(c, &req, false); err != nil {
			return nil, err
		}
	}
	return s.svc.PartURLs(ctx, subject, id(c), req)
}

func (s *Server) reportPart(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	n, err := broker.ParsePartNumber(c.Params("n"))
	if err != nil {
		return nil, broker.Errorf(broker.CodeInvalidRequest, "part number must be a whole number from 1 to 10000")
	}
	var req broker.ReportRequest
	if err := decodeStrict(c, &req, false); err != nil {
		return nil, err
	}
	return s.svc.ReportPart(ctx, subject, id(c), n, req)
}

func (s *Server) complete(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	var req broker.CompleteRequest
	if err := decodeStrict(c, &req, true); err != nil {
		return nil, err
	}
	return s.svc.Complete(ctx, subject, id(c), req)
}

func (s *Server) abort(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	return s.svc.Abort(ctx, subject, id(c))
}

func (s *Server) downloadURL(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	return s.svc.DownloadURL(ctx, subject, id(c))
}
