package httpapi

// The Uppy-compatible routes: Companion's /s3 protocol as @uppy/aws-s3
// (v6, companionEndpoint mode) speaks it, with Companion's field names and
// casing. They are served twice: under /s3, authenticated like /v1 (an
// Authorization header, or none in auth mode none), and under
// /t/{token}/s3, where the path segment is the bearer token, because
// Uppy's fetch sends no auth header. The access log names route patterns
// only, so the token in the path is never logged by Chute (a proxy in
// front may log paths: prefer short-lived tokens).

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// s3Routes installs the Companion routes on r (a group that has already
// authenticated the caller).
func (s *Server) s3Routes(r fiber.Router) {
	r.Get("/params", s.handle(s.s3Params, fiber.StatusOK))
	r.Post("/multipart", s.handle(s.s3Create, fiber.StatusOK))
	r.Get("/multipart/:id/:n", s.handle(s.s3SignPart, fiber.StatusOK))
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
	subject, err := s.subjectOf(c, utils.CopyString(c.Params("token")))
	if err != nil {
		s.log.Info("authentication failed", "request_id", c.Locals(requestIDKey), "reason", err.Error())
		return broker.Errorf(broker.CodeUnauthorized, "invalid or expired token")
	}
	c.Locals(subjectKey, subject)
	return c.Next()
}

// companionParams is the answer of GET /s3/params: a POST policy form,
// or a presigned PUT (fields empty, headers to send) for a store without
// POST policy uploads.
type companionParams struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Fields  map[string]string `json:"fields"`
	Headers map[string]string `json:"headers,omitempty"`
	Expires int64             `json:"expires"` // seconds from now
}

// companionUpload is the answer of POST /s3/multipart.
type companionUpload struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	Bucket   string `json:"bucket"`
}

// companionSigned is the answer of GET /s3/multipart/{uploadId}/{n}.
type companionSigned struct {
	URL     string            `json:"url"`
	Expires int64             `json:"expires"`
	Headers map[string]string `json:"headers,omitempty"`
}

// companionPart is one entry of GET /s3/multipart/{uploadId}.
type companionPart struct {
	PartNumber int    `json:"PartNumber"`
	ETag       string `json:"ETag"`
	Size       int64  `json:"Size"`
}

// companionComplete is the answer of POST .../complete.
type companionComplete struct {
	Location string `json:"location"`
	Key      string `json:"key"`
	Bucket   string `json:"bucket"`
}

// companionCreateBody is the body of POST /s3/multipart.
type companionCreateBody struct {
	Filename string         `json:"filename"`
	Type     string         `json:"type"`
	Metadata map[string]any `json:"metadata"`
	Profile  string         `json:"profile"`
}

// companionCompleteBody is the body of POST .../complete.
type companionCompleteBody struct {
	Parts []struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
	} `json:"parts"`
}

// skippedMeta are the metadata fields Uppy adds to every file: Chute has
// the name and type already, and the relative path is the client's
// business.
var skippedMeta = map[string]bool{"name": true, "type": true, "relativepath": true}

// companionMetadata turns Uppy's metadata (any JSON values) into object
// metadata: keys lower-cased, null values and Uppy's own name, type and
// relativePath dropped, numbers and booleans written as text. Objects and
// arrays are refused. The broker then validates what is left like any
// /v1 metadata.
func companionMetadata(in map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		lk := strings.ToLower(k)
		if skippedMeta[lk] || v == nil {
			continue
		}
		switch t := v.(type) {
		case string:
			out[lk] = t
		case bool, float64, json.Number:
			out[lk] = fmt.Sprint(t)
		default:
			return nil, broker.Errorf(broker.CodeInvalidRequest, "metadata: %q must be a string, number or boolean", truncate(k, 32))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secondsUntil is Companion's "expires": whole seconds left, never negative.
func secondsUntil(t time.Time, now time.Time) int64 {
	return max(0, int64(math.Floor(t.Sub(now).Seconds())))
}

// toCompanionParts renders stored parts as Companion lists them, ETags
// quoted as S3 gives them.
func toCompanionParts(parts []multipart.Part) []companionPart {
	out := make([]companionPart, 0, len(parts))
	for _, p := range parts {
		out = append(out, companionPart{PartNumber: p.Number, ETag: `"` + multipart.NormalizeETag(p.ETag) + `"`, Size: p.Size})
	}
	return out
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
	req := broker.OpenRequest{
		Filename:    utils.CopyString(c.Query("filename")),
		ContentType: utils.CopyString(c.Query("type")),
		Profile:     utils.CopyString(c.Query("profile")),
	}
	meta := map[string]any{}
	for k, v := range c.Context().QueryArgs().All() {
		name := string(k)
		if strings.HasPrefix(name, "metadata[") && strings.HasSuffix(name, "]") {
			meta[name[len("metadata["):len(name)-1]] = string(v)
		}
	}
	md, err := companionMetadata(meta)
	if err != nil {
		return nil, err
	}
	req.Metadata = md
	req.ClientHeaders = clientHeaders(c, s.svc.ClientHeaderNames())
	if v := c.Query("size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, broker.Errorf(broker.CodeInvalidRequest, "size: must be a whole number of bytes")
		}
		req.Size = &n
	}
	post, err := s.svc.SignPost(ctx, subject, req)
	if err != nil {
		return nil, err
	}
	method := post.Method
	if method == "" {
		method = fiber.MethodPost
	}
	return companionParams{Method: method, URL: post.URL, Fields: post.Fields, Headers: post.Headers, Expires: secondsUntil(post.ExpiresAt, time.Now())}, nil
}

func (s *Server) s3Create(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	var body companionCreateBody
	if err := decode(c, &body, false); err != nil {
		return nil, err
	}
	md, err := companionMetadata(body.Metadata)
	if err != nil {
		return nil, err
	}
	up, err := s.svc.CreateOpen(ctx, subject, broker.OpenRequest{Filename: body.Filename, ContentType: body.Type, Profile: body.Profile, Metadata: md,
		ClientHeaders: clientHeaders(c, s.svc.ClientHeaderNames())})
	if err != nil {
		return nil, err
	}
	return companionUpload{Key: up.Key, UploadID: up.ID, Bucket: up.Bucket}, nil
}

func (s *Server) s3SignPart(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	n, err := broker.ParsePartNumber(c.Params("n"))
	if err != nil {
		return nil, broker.Errorf(broker.CodeInvalidRequest, "part number must be a whole number from 1 to 10000")
	}
	key, err := keyParam(c)
	if err != nil {
		return nil, err
	}
	p, err := s.svc.SignPart(ctx, subject, id(c), key, n)
	if err != nil {
		return nil, err
	}
	return companionSigned{URL: p.URL, Expires: secondsUntil(p.ExpiresAt, time.Now()), Headers: p.Headers}, nil
}

func (s *Server) s3ListParts(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	key, err := keyParam(c)
	if err != nil {
		return nil, err
	}
	parts, err := s.svc.StoredParts(ctx, subject, id(c), key)
	if err != nil {
		return nil, err
	}
	return toCompanionParts(parts), nil
}

func (s *Server) s3Complete(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	key, err := keyParam(c)
	if err != nil {
		return nil, err
	}
	var body companionCompleteBody
	if err := decode(c, &body, false); err != nil {
		return nil, err
	}
	parts := make([]broker.CompletePart, 0, len(body.Parts))
	for _, p := range body.Parts {
		parts = append(parts, broker.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
	}
	res, err := s.svc.CompleteKeyed(ctx, subject, id(c), key, parts)
	if err != nil {
		return nil, err
	}
	loc := ""
	if res.Download != nil {
		loc = res.Download.URL
	}
	return companionComplete{Location: loc, Key: res.Key, Bucket: res.Bucket}, nil
}

func (s *Server) s3Abort(ctx context.Context, c *fiber.Ctx, subject string) (any, error) {
	key, err := keyParam(c)
	if err != nil {
		return nil, err
	}
	if err := s.svc.AbortKeyed(ctx, subject, id(c), key); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
