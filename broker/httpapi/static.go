package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// staticFile is one file of Options.Static, read once at start.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// staticTypes are the content types of the files a static site holds.
var staticTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

// staticCSP keeps the page to its own scripts and styles while letting it
// reach the store (another origin) for uploads and previews.
const staticCSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src * data: blob:; media-src * blob:; connect-src *; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// loadStatic reads the regular files at the root of fsys (subfolders are
// not served). Unknown extensions are served as application/octet-stream.
func loadStatic(fsys fs.FS) (map[string]staticFile, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	out := make(map[string]staticFile, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		ct, ok := staticTypes[path.Ext(e.Name())]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		out[e.Name()] = staticFile{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out, nil
}

// staticRoutes serves Options.Static at /: GET / is index.html and GET
// /NAME a file at the root. The files carry no version in their names, so
// browsers revalidate every time (no-cache) against a strong ETag and get
// 304 while a file is unchanged. Any other path falls through to the
// JSON not_found answer.
func (s *Server) staticRoutes(app *fiber.App) {
	files, err := loadStatic(s.opts.Static)
	if err != nil {
		s.log.Error("static files not served", "err", err)
		return
	}
	serve := func(c *fiber.Ctx) error {
		name := c.Params("file")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			return c.Next()
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, f.etag)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		if strings.HasPrefix(f.contentType, "text/html") {
			c.Set(fiber.HeaderContentSecurityPolicy, staticCSP)
			c.Set(fiber.HeaderXFrameOptions, "DENY")
		}
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagListHas(inm, f.etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.contentType)
		return c.Send(f.body)
	}
	app.Get("/", serve)
	app.Get("/:file", serve)
}

// etagListHas reports whether an If-None-Match value names etag.
func etagListHas(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.TrimPrefix(v, "W/") == etag {
			return true
		}
	}
	return false
}
