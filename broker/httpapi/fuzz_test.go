package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/chute-dev/chute/api"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// createSeeds are request bodies worth starting from: valid ones, each
// kind of malformed JSON, and the hostile values the validation refuses.
var createSeeds = []string{
	`{"filename":"clip.mp4","content_type":"video/mp4","size":1048576}`,
	`{"filename":"a.png","content_type":"image/png","size":10,"profile":"images","metadata":{"title":"x"}}`,
	`{"filename":"../../etc/passwd","content_type":"text/plain","size":0}`,
	`{"filename":"a","content_type":"text/plain; charset=\"utf-8\"","size":5497558138881}`,
	`{"filename":"a","content_type":"text/plain\r\nX: y","size":1}`,
	`{"filename":"a","content_type":"text/plain","size":1,"metadata":{"k":"v\r\n"}}`,
	`{"filename":"a","content_type":"text/plain","size":"1"}`,
	`{"filename":"a","content_type":"text/plain","size":-1}`,
	`{"filename":"a","content_type":"text/plain","size":1e400}`,
	`[[[[[[[[[[`, `{} {}`, `null`, ``, "{\"filename\":\"\xff\"}",
}

// FuzzDecode feeds arbitrary bodies to the body decoder with a create
// request as the target. A body it accepts is one valid UTF-8 JSON
// value; a body it refuses gets invalid_request with a short message
// that does not echo the input.
func FuzzDecode(f *testing.F) {
	for _, s := range createSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("  "), true)
	app := fiber.New()
	f.Fuzz(func(t *testing.T, body []byte, allowEmpty bool) {
		c := app.AcquireCtx(&fasthttp.RequestCtx{})
		defer app.ReleaseCtx(c)
		c.Request().SetBody(body)
		var req api.CreateRequest
		err := decode(c, &req, allowEmpty)
		if err == nil {
			trimmed := bytes.TrimSpace(body)
			if len(trimmed) == 0 {
				if !allowEmpty {
					t.Fatalf("empty body %q accepted", body)
				}
				return
			}
			if !utf8.Valid(body) || !json.Valid(trimmed) {
				t.Fatalf("accepted %q, which is not one valid UTF-8 JSON value", body)
			}
			return
		}
		var be *broker.Error
		if !errors.As(err, &be) || be.Code != broker.CodeInvalidRequest {
			t.Fatalf("%q: error %v is not invalid_request", body, err)
		}
		if msg := broker.ErrorMessage(err); len(msg) > 120 {
			t.Fatalf("%q: message of %d bytes: %q", body, len(msg), msg)
		}
	})
}

// FuzzCreate sends arbitrary bodies to POST /v1/uploads through the whole
// HTTP stack (auth, decoder, validation, key rendering) of a server whose
// store is down. Every answer is a JSON error with the status its code
// maps to, never a 500; one that got past validation (the store's 503)
// was a well-formed create request within the profile's limits.
func FuzzCreate(f *testing.F) {
	for _, s := range createSeeds {
		f.Add(s)
	}
	s := fuzzServer(f)
	tok, err := auth.SignHS256(secret, "alice", time.Hour, "", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var e apiError
		if err := json.Unmarshal(data, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%q: status %d, not a JSON error: %q", body, resp.StatusCode, data)
		}
		if want := Status(broker.Code(e.Error.Code)); resp.StatusCode != want {
			t.Fatalf("%q: status %d with code %s (maps to %d)", body, resp.StatusCode, e.Error.Code, want)
		}
		switch resp.StatusCode {
		case 400, 403, 413, 415:
		case 503:
			var cr api.CreateRequest
			if err := json.Unmarshal([]byte(body), &cr); err != nil {
				t.Fatalf("%q passed validation but does not decode: %v", body, err)
			}
			p := fuzzProfiles[cr.Profile]
			if cr.Profile == "" {
				p = fuzzProfiles["default"]
			}
			if cr.Filename == "" || cr.Size == nil || *cr.Size < 0 || *cr.Size > p.MaxSize || !p.TypeAllowed(cr.ContentType) {
				t.Fatalf("%q passed validation", body)
			}
			for k, v := range cr.Metadata {
				if strings.ContainsAny(k+v, "\r\n\x00") {
					t.Fatalf("%q: metadata with control characters passed validation", body)
				}
			}
		default:
			t.Fatalf("%q: status %d: %s", body, resp.StatusCode, data)
		}
	})
}

var fuzzProfiles = map[string]broker.Profile{
	"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
		PartSize: 16 * multipart.MiB, SingleMax: 16 * multipart.MiB, AllowedTypes: []string{"*/*"},
		URLTTL: time.Minute, KeyTemplate: "{subject}/{yyyy}/{id}{ext}"},
	"images": {Name: "images", Backend: "main", MaxSize: multipart.MiB,
		PartSize: 16 * multipart.MiB, SingleMax: 16 * multipart.MiB, AllowedTypes: []string{"image/png", "image/jpeg"},
		URLTTL: time.Minute, KeyTemplate: "{subject}/{profile}/{id}{ext}"},
}

// fuzzServer is newTestServer for a fuzz target: the same down store,
// two profiles, logs discarded.
func fuzzServer(f *testing.F) *Server {
	mr := miniredis.RunT(f)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	f.Cleanup(func() { _ = rc.Close() })
	svc, err := broker.New(broker.Config{
		Profiles: fuzzProfiles,
		Backends: map[string]broker.ObjectStore{"main": downStore{}},
		Sessions: sessions.NewRedisStore(rc),
		TTL:      time.Hour,
	})
	if err != nil {
		f.Fatal(err)
	}
	authn, err := auth.NewJWT(auth.JWTConfig{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	return New(svc, authn, Options{BodyLimit: 4096, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}
