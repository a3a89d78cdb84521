// Package httpapi serves the broker's use cases over HTTP with Fiber v2:
// the native JSON API under /v1, /healthz and /readyz. Handlers parse the
// request, call the broker and return (result, error); one renderer
// writes every response, and one function maps error codes to statuses.
//
// Logs name the route, status, duration and request id, never a query
// string, a token or a presigned URL.
package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/companion"
)

// Options configure the HTTP layer.
type Options struct {
	// BodyLimit is the largest request body accepted (default 1 MiB).
	BodyLimit int
	// RequestTimeout bounds the work of one request (default 30s).
	RequestTimeout time.Duration
	// ReadTimeout and WriteTimeout bound the connection I/O (default 30s).
	ReadTimeout, WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 2m).
	IdleTimeout time.Duration
	// CORSOrigins are the origins allowed to call the API ("*" for any).
	CORSOrigins []string
	// Logger gets one line per request and failure details.
	Logger *slog.Logger
	// Static, when set, is served at / (GET / is its index.html): the
	// demo page (web.FS). Unknown paths still get the JSON not_found.
	Static fs.FS
	// Middleware runs before every route, the first outermost (e.g. the
	// request metrics, metrics.Middleware).
	Middleware []fiber.Handler
	// Metrics, when set, is served at GET /metrics, without
	// authentication: keep it behind the network policy.
	Metrics http.Handler
	// RateLimiter, when set, limits each subject's /v1 and /s3 requests
	// (ratelimit.go).
	RateLimiter RateLimiter
	// SignLimiter, when set, limits the requests that sign part URLs
	// (part-urls and the Uppy part route) instead of RateLimiter: signing
	// needs no Redis round trip, so its limiter should need none either
	// (LocalLimiter, per process).
	SignLimiter RateLimiter
}

// Server is the HTTP face of a broker.Service.
type Server struct {
	svc   *broker.Service
	uppy  *companion.Adapter // the Uppy/Companion routes (s3routes.go)
	authn auth.Authenticator
	opts  Options
	log   *slog.Logger
	app   *fiber.App
	// methods lists each route's methods, for the 405s (methods.go).
	methods []routeMethods
}

// New returns a Server with its routes installed.
func New(svc *broker.Service, authn auth.Authenticator, opts Options) *Server {
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{svc: svc, uppy: companion.New(svc), authn: authn, opts: opts, log: opts.Logger}
	s.app = fiber.New(fiber.Config{
		AppName:               "chute",
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           opts.IdleTimeout,
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		JSONEncoder:           marshal,
		JSONDecoder:           json.Unmarshal,
	})
	s.routes()
	return s
}

// App returns the Fiber app (to Listen, Test or Shutdown).
func (s *Server) App() *fiber.App { return s.app }

func (s *Server) routes() {
	app := s.app
	for _, mw := range s.opts.Middleware {
		app.Use(mw)
	}
	app.Use(s.requestID, s.accessLog, recover.New(recover.Config{EnableStackTrace: false}))
	if len(s.opts.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.opts.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,DELETE,OPTIONS",
			AllowHeaders:  "Authorization,Content-Type,X-Request-Id",
			ExposeHeaders: "X-Request-Id,Retry-After",
			MaxAge:        600,
		}))
	}
	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/readyz", s.readyz)
	s.docRoutes(app)

	v1 := app.Group("/v1", s.authenticate, s.rateLimit)
	v1.Post("/uploads", s.handle(s.create, fiber.StatusCreated))
	v1.Get("/uploads/:id", s.handle(s.status, fiber.StatusOK))
	v1.Post("/uploads/:id/part-urls", s.handleSign(s.partURLs))
	v1.Put("/uploads/:id/parts/:n", s.handle(s.reportPart, fiber.StatusOK))
	v1.Post("/uploads/:id/complete", s.handle(s.complete, fiber.StatusOK))
	v1.Delete("/uploads/:id", s.handle(s.abort, fiber.StatusOK))
	v1.Get("/uploads/:id/download-url", s.handle(s.downloadURL, fiber.StatusOK))
	v1.Use(func(c *fiber.Ctx) error {
		if err := s.methodNotAllowed(c); err != nil {
			return err
		}
		return broker.Errorf(broker.CodeNotFound, "no such route: %s %s", c.Method(), c.Path())
	})
	s.installS3Routes(app) // the Uppy-compatible /s3 routes: s3routes.go
	if s.opts.Static != nil {
		s.staticRoutes(app)
	}
	app.Use(func(c *fiber.Ctx) error {
		if err := s.methodNotAllowed(c); err != nil {
			return err
		}
		return broker.Errorf(broker.CodeNotFound, "no such route")
	})
	s.methods = buildMethodTable(app.GetRoutes(true))
}

// handler is a route's work: parse, call the broker, return the result.
type handler func(ctx context.Context, c *fiber.Ctx, subject string) (any, error)

// handle adapts a handler: it builds the request context (with its
// timeout) and renders the result with status ok, or the error.
func (s *Server) handle(h handler, ok int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), s.opts.RequestTimeout)
		defer cancel()
		res, err := h(ctx, c, infoOf(c).subject)
		if err != nil {
			return err
		}
		return render(c, ok, res)
	}
}

// handleSign adapts a handler that signs part URLs. Its context has no
// timer: the broker answers from its signing cache without I/O, and on a
// miss reads the session store under its own timeout (broker.Config
// ReadTimeout), so the common request builds no context and no timer.
func (s *Server) handleSign(h handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		res, err := h(c.UserContext(), c, infoOf(c).subject)
		if err != nil {
			return err
		}
		return render(c, fiber.StatusOK, res)
	}
}

// reqInfo is what the middleware learns about a request: its id and the
// authenticated subject. One pooled reqInfo per request is stored in
// Locals (a pointer: a string stored there would be boxed, an allocation
// per value).
type reqInfo struct {
	id      string
	subject string
}

var reqInfoPool = sync.Pool{New: func() any { return new(reqInfo) }}

// infoOf returns the request's reqInfo; a request that did not pass the
// requestID middleware gets an empty one.
func infoOf(c *fiber.Ctx) *reqInfo {
	if ri, ok := c.Locals(infoKey).(*reqInfo); ok && ri != nil {
		return ri
	}
	return &reqInfo{}
}

type localKey int

const infoKey localKey = 0

func (s *Server) authenticate(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodOptions {
		return c.Next()
	}
	token := ""
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "bearer") {
			return broker.Errorf(broker.CodeUnauthorized, "use Authorization: Bearer <token>")
		}
		token = strings.TrimSpace(rest)
	}
	subject, err := s.subjectOf(c, token) // authcache.go
	if err != nil {
		s.log.Info("authentication failed", "request_id", infoOf(c).id, "reason", err.Error())
		msg := "invalid or expired token"
		if token == "" {
			msg = "missing bearer token"
		}
		return broker.Errorf(broker.CodeUnauthorized, "%s", msg)
	}
	infoOf(c).subject = subject
	return c.Next()
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": shortReason(err)})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// shortReason names the failing dependency without details that might
// carry addresses or credentials.
func shortReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ":"); i > 0 {
		return msg[:i] + " unreachable"
	}
	return "dependency unreachable"
}

// requestID gives every request an id: the client's X-Request-Id when it
// is a short token, else a fresh one (16 hex digits: 64 random bits from
// math/rand/v2, whose generator is seeded from the system; ids name
// requests in logs, they are not secrets). It is echoed in the response.
// It holds the request's reqInfo, returned to its pool when the request
// is done.
func (s *Server) requestID(c *fiber.Ctx) error {
	ri := reqInfoPool.Get().(*reqInfo)
	id := c.Get("X-Request-Id")
	if !validRequestID(id) {
		var b [16]byte
		hex.Encode(b[:], binary.BigEndian.AppendUint64(make([]byte, 0, 8), rand.Uint64()))
		id = string(b[:])
	} else {
		id = utils.CopyString(id)
	}
	ri.id = id
	c.Locals(infoKey, ri)
	c.Set("X-Request-Id", id)
	err := c.Next()
	c.Locals(infoKey, nil)
	*ri = reqInfo{}
	reqInfoPool.Put(ri)
	return err
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if (ch < 'a' || ch > 'z') && (ch < 'A' || ch > 'Z') && (ch < '0' || ch > '9') && ch != '-' && ch != '_' {
			return false
		}
	}
	return true
}

func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	// The record goes straight to the handler, as Logger.LogAttrs would
	// pass it but without the caller's PC (a stack walk per request that
	// only a handler with AddSource reads; the source of this line is
	// always here); typed attributes: no boxing per request.
	h := s.log.Handler()
	if !h.Enabled(context.Background(), slog.LevelInfo) {
		return nil
	}
	id := infoOf(c).id
	end := time.Now()
	r := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("request_id", id),
		slog.String("method", c.Method()),
		slog.String("route", c.Route().Path), // the pattern, never the query string
		slog.Int("status", c.Response().StatusCode()),
		slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000),
	)
	_ = h.Handle(context.Background(), r)
	return nil
}

// errorBody is the JSON shape of every error.
type errorBody struct {
	Error struct {
		Code    broker.Code `json:"code"`
		Message string      `json:"message"`
	} `json:"error"`
}

// Status returns the HTTP status of an error code.
func Status(code broker.Code) int {
	switch code {
	case broker.CodeInvalidRequest:
		return fiber.StatusBadRequest
	case broker.CodeUnauthorized:
		return fiber.StatusUnauthorized
	case broker.CodeForbidden:
		return fiber.StatusForbidden
	case broker.CodeNotFound:
		return fiber.StatusNotFound
	case broker.CodeConflict:
		return fiber.StatusConflict
	case broker.CodeTooLarge:
		return fiber.StatusRequestEntityTooLarge
	case broker.CodeUnsupportedType:
		return fiber.StatusUnsupportedMediaType
	case broker.CodeIncomplete, broker.CodeRejected:
		return fiber.StatusUnprocessableEntity
	case broker.CodeRateLimited, broker.CodeQuotaExceeded:
		return fiber.StatusTooManyRequests
	case broker.CodeStorageUnavailable:
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusInternalServerError
}

// errorHandler renders every error as JSON. Fiber's own errors (body too
// large, bad method, ...) get our codes; anything unknown is a generic 500
// whose detail goes only to the log.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var body errorBody
	var fe *fiber.Error
	var me *methodError
	status := 0
	switch {
	case errors.As(err, &me): // methods.go
		body.Error.Code, body.Error.Message = broker.CodeInvalidRequest, me.Error()
		status = fiber.StatusMethodNotAllowed
		c.Set(fiber.HeaderAllow, me.allow)
	case errors.As(err, &fe):
		body.Error.Code, body.Error.Message = fiberCode(fe)
	default:
		body.Error.Code = broker.ErrorCode(err)
		body.Error.Message = broker.ErrorMessage(err)
		if d := broker.RetryAfter(err); d > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(int64(d/time.Second), 10))
		}
	}
	if status == 0 {
		status = Status(body.Error.Code)
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", infoOf(c).id, "route", c.Route().Path,
			"code", body.Error.Code, "err", err.Error())
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).JSON(body)
}

// appendFast appends v's JSON to b without reflection when v is one of
// the answers written most (fastjson.go, fastsigned.go); ok is false for
// any other value, or one the fast encoders leave to encoding/json.
func appendFast(b []byte, v any) (_ []byte, ok bool) {
	switch r := v.(type) {
	case *broker.PartURLsResult:
		if r != nil {
			return appendPartURLs(slices.Grow(b, 64+600*len(r.Parts)), r)
		}
	case *broker.Status:
		if r != nil {
			return appendStatus(slices.Grow(b, 400+80*len(r.Parts)), r)
		}
	case *companion.Signed:
		if r != nil {
			return appendSigned(slices.Grow(b, 128+len(r.URL)), r)
		}
	}
	return b, false
}

// renderBufs are the scratch buffers of render; one above maxRenderBuf
// bytes is not kept.
var renderBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxRenderBuf = 64 << 10

// render writes v as the JSON answer with status, as c.JSON does (same
// bytes, same Content-Type), encoding the common answers into a pooled
// buffer that the response copies: no allocation per answer.
func render(c *fiber.Ctx, status int, v any) error {
	bp := renderBufs.Get().(*[]byte)
	b, ok := appendFast((*bp)[:0], v)
	if ok {
		c.Status(status)
		c.Response().SetBody(b)
		c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	}
	if cap(b) <= maxRenderBuf {
		*bp = b[:0]
		renderBufs.Put(bp)
	}
	if ok {
		return nil
	}
	return c.Status(status).JSON(v)
}

func fiberCode(fe *fiber.Error) (broker.Code, string) {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return broker.CodeTooLarge, "request body too large"
	case fiber.StatusNotFound:
		return broker.CodeNotFound, "no such route"
	case fiber.StatusMethodNotAllowed:
		return broker.CodeNotFound, "no such route"
	case fiber.StatusRequestTimeout:
		return broker.CodeInvalidRequest, "request timed out"
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return broker.CodeInvalidRequest, "bad request"
	}
	return broker.CodeInternal, "Internal error."
}

// marshal is json.Marshal without HTML escaping: presigned URLs keep
// their "&" readable.
func marshal(v any) ([]byte, error) {
	if b, ok := appendFast(nil, v); ok {
		return b, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decode parses a JSON body into v: valid UTF-8, one JSON value, no
// trailing data. An empty body is allowed only if allowEmpty. Unknown
// fields are ignored: the lenient decoding of the Uppy routes.
func decode(c *fiber.Ctx, v any, allowEmpty bool) error {
	return decodeBody(c.Body(), v, allowEmpty, false)
}

// decodeStrict is decode for /v1 bodies: an unknown field, at any depth,
// is refused with a message naming it (strict.go).
func decodeStrict(c *fiber.Ctx, v any, allowEmpty bool) error {
	return decodeBody(c.Body(), v, allowEmpty, true)
}

func decodeBody(body []byte, v any, allowEmpty, strict bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return broker.Errorf(broker.CodeInvalidRequest, "a JSON body is required")
	}
	if !utf8.Valid(body) {
		return broker.Errorf(broker.CodeInvalidRequest, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if msg, ok := unknownFieldError(err, body, reflect.TypeOf(v)); ok {
			return broker.Errorf(broker.CodeInvalidRequest, "%s", msg)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return broker.Errorf(broker.CodeInvalidRequest, "%s", typeProblem(te))
		}
		return broker.Errorf(broker.CodeInvalidRequest, "malformed JSON: %s", jsonProblem(err))
	}
	// dec.More is false before a stray '}' or ']': look at the rest.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return broker.Errorf(broker.CodeInvalidRequest, "malformed JSON: data after the object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te): // with a Field, decodeBody says typeProblem
		return "the body must be a JSON object"
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	msg := err.Error()
	if strings.Contains(msg, "unexpected EOF") {
		return "unexpected end of input"
	}
	if strings.Contains(msg, "exceeded max depth") {
		return "nested too deeply"
	}
	return "cannot parse"
}

// typeProblem says what a field of the wrong JSON type must be, e.g.
// "size: must be a whole number of bytes ..." for 5.5, 1e20 or "5".
func typeProblem(te *json.UnmarshalTypeError) string {
	field := te.Field
	if len(field) > maxFieldInMessage {
		field = field[:maxFieldInMessage] + "..."
	}
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		unit := ""
		if field == "size" || strings.HasSuffix(field, ".size") {
			unit = " of bytes"
		}
		return fmt.Sprintf("%s: must be a whole number%s, in digits (no fraction or exponent) up to %d",
			field, unit, uint64(1)<<(te.Type.Bits()-1)-1)
	}
	return fmt.Sprintf("%s: must be %s", field, typeName(te.Type.Kind().String()))
}

func typeName(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return kind
}
