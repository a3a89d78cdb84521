package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxKeyLen is the longest object key S3 accepts, in bytes.
const MaxKeyLen = 1024

// KeyFields are the values a key template may use.
type KeyFields struct {
	Subject  string
	ID       string
	Profile  string
	Filename string
	Now      time.Time
}

// RenderKey expands a key template. Placeholders: {subject}, {id},
// {profile}, {ext} (the filename's extension with its dot, lower-cased,
// only [a-z0-9] and at most 16 characters, else empty), {yyyy}, {mm}, {dd}
// (UTC). The client's filename is never used as a path: only its
// extension, sanitised. Subject and profile are escaped so that they form
// exactly one path segment. The result is checked: no empty, "." or ".."
// segment, no leading "/", no control characters, at most MaxKeyLen bytes.
func RenderKey(tmpl string, f KeyFields) (string, error) {
	now := f.Now.UTC()
	r := strings.NewReplacer(
		"{subject}", escapeSegment(f.Subject),
		"{id}", escapeSegment(f.ID),
		"{profile}", escapeSegment(f.Profile),
		"{ext}", Extension(f.Filename),
		"{yyyy}", fmt.Sprintf("%04d", now.Year()),
		"{mm}", fmt.Sprintf("%02d", int(now.Month())),
		"{dd}", fmt.Sprintf("%02d", now.Day()),
	)
	key := r.Replace(tmpl)
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// Extension returns the sanitised extension of a client's filename: ".mp4"
// for "Clip.MP4", "" for "README", "../../etc/passwd" or "a.t%x".
func Extension(filename string) string {
	base := filename
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	ext := path.Ext(base)
	if len(ext) < 2 || len(ext) > 17 || ext == base {
		return ""
	}
	ext = strings.ToLower(ext[1:])
	for _, c := range ext {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return "." + ext
}

// MaxSegmentInput is how many bytes of a subject (or profile, or id) a
// key segment spells out; a longer value is cut there and followed by a
// hash of the whole value (see escapeSegment).
const MaxSegmentInput = 128

// escapeSegment makes s one safe path segment: bytes outside
// [A-Za-z0-9_.@-] become "~XX" (hex), a segment of only dots is escaped
// too. A value longer than MaxSegmentInput bytes keeps its first
// MaxSegmentInput bytes, escaped, followed by "~~" and 32 hex digits of
// the SHA-256 of the whole value: escaping never writes "~~" (every "~"
// it writes is followed by two hex digits), so a cut value can't equal a
// short one, and two long values sharing their first bytes stay apart.
// Distinct values give distinct segments.
func escapeSegment(s string) string {
	var suffix string
	if len(s) > MaxSegmentInput {
		sum := sha256.Sum256([]byte(s))
		suffix = "~~" + hex.EncodeToString(sum[:16])
		s = s[:MaxSegmentInput]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '-', c == '@', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "~%02x", c)
		}
	}
	out := b.String()
	if strings.Trim(out, ".") == "" {
		out = strings.ReplaceAll(out, ".", "~2e")
	}
	if out == "" {
		out = "~"
	}
	return out + suffix
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("key template gives an empty key")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key is %d bytes, over S3's %d", len(key), MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key is not valid UTF-8")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("key starts with /")
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("key has a control character")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("key has an empty, . or .. segment")
		}
	}
	return nil
}
