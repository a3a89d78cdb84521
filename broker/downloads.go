package broker

// Safe downloads: how a presigned GET of a completed upload asks the store
// to serve it. The store's origin is one origin for every user's files,
// so a file a browser would run there — an HTML page, an SVG or XML
// document with script, JavaScript opened as a page — could read or
// forge other users' downloads from that origin. So by default:
//
//   - types a browser shows without running anything (InlineByDefault:
//     images other than SVG, audio, video, text/plain, PDF, JSON) are
//     served inline, as uploaded;
//   - every other type is served as an attachment: the browser saves
//     the file rather than showing it;
//   - active types (ActiveType: HTML, XHTML, SVG, every XML type,
//     JavaScript and its aliases) are also served as
//     application/octet-stream, so that a client which ignores
//     Content-Disposition (some in-app browsers, a page that embeds the
//     URL) still has nothing it would render.
//
// A profile lists in InlineTypes the types it wants shown inline as they
// are anyway (e.g. an app that serves SVG from a domain of its own).

import (
	"mime"
	"strings"

	"github.com/chute-dev/chute/broker/session"
)

// octetStream is the type active content is served as.
const octetStream = "application/octet-stream"

// inlineByDefault are the media types served inline without a profile's
// say: a browser displays them without running anything from them.
var inlineByDefault = []string{"image/*", "audio/*", "video/*", "text/plain", "application/pdf", "application/json"}

// activeTypes are types a browser runs or renders as a document with
// script, apart from every "*+xml" and "*/xml" type (see ActiveType).
var activeTypes = map[string]bool{
	"text/html": true, "application/xhtml+xml": true, "image/svg+xml": true,
	"text/xsl": true, "text/xml": true, "application/xml": true,
	"text/javascript": true, "application/javascript": true, "application/ecmascript": true,
	"text/ecmascript": true, "application/x-javascript": true, "text/x-javascript": true,
	"application/x-ecmascript": true, "text/x-ecmascript": true, "text/jscript": true,
	"text/livescript": true, "application/x-shockwave-flash": true,
	"multipart/x-mixed-replace": true, "text/vnd.wap.wml": true,
}

// ActiveType reports whether a browser runs, or renders as a document
// that may run script, content of media type ct (parameters and case
// ignored): HTML, XHTML, SVG, any XML type (including "*+xml"),
// JavaScript under any of its names (text/javascript1.5 too), and a few
// legacy active types. An unparsable type counts as active.
func ActiveType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	_, sub, _ := strings.Cut(mt, "/")
	switch {
	case activeTypes[mt], strings.HasSuffix(sub, "+xml"), sub == "xml",
		strings.HasPrefix(mt, "text/javascript"), strings.Contains(sub, "javascript"), strings.Contains(sub, "ecmascript"):
		return true
	}
	return false
}

// InlineByDefault reports whether ct is served inline when a profile
// lists no InlineTypes for it.
func InlineByDefault(ct string) bool {
	return !ActiveType(ct) && matchType(inlineByDefault, ct)
}

// DownloadOptions are the response options of a download of a file named
// filename, stored as type ct, under profile p (see the package comment
// above).
func DownloadOptions(p *Profile, filename, ct string) GetOptions {
	o := GetOptions{Filename: filename}
	switch {
	case matchType(p.InlineTypes, ct):
	case ActiveType(ct):
		o.Attachment, o.ContentType = true, octetStream
	case !InlineByDefault(ct):
		o.Attachment = true
	}
	return o
}

// getOptions are the response options of sess's downloads.
func (s *Service) getOptions(sess *session.Session) GetOptions {
	p := s.profiles[sess.Profile]
	return DownloadOptions(&p, sess.Filename, sess.ContentType)
}

// matchType reports whether media type ct (parameters ignored, case
// insensitive) matches one of patterns: "type/subtype", "type/*" or "*/*".
func matchType(patterns []string, ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, a := range patterns {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "*/*" || a == "*":
			return true
		case strings.HasSuffix(a, "/*"):
			if strings.TrimSuffix(a, "/*") == major {
				return true
			}
		case a == mt:
			return true
		}
	}
	return false
}
