package backends

import "strings"

// inlineDisposition returns a Content-Disposition value that shows the
// file inline under filename (RFC 6266): a quoted ASCII fallback, where
// every character outside printable ASCII and every quote or backslash
// becomes '_', plus a filename* parameter holding the exact name as
// percent-encoded UTF-8 (RFC 8187, formerly RFC 5987) when the fallback
// differs from it.
//
// Only the last path element of filename counts, control characters are
// dropped, and invalid UTF-8 is replaced. A name left empty gives just
// "inline".
func inlineDisposition(filename string) string { return disposition(false, filename) }

// disposition is inlineDisposition, or its "attachment" form (the
// browser saves the file under that name instead of showing it).
func disposition(attachment bool, filename string) string {
	typ := "inline"
	if attachment {
		typ = "attachment"
	}
	name := cleanFilename(filename)
	if name == "" {
		return typ
	}
	fallback := asciiFallback(name)
	v := typ + `; filename="` + fallback + `"`
	if fallback != name {
		v += "; filename*=UTF-8''" + encodeExtValue(name)
	}
	return v
}

// cleanFilename keeps the last path element of s, without control
// characters, invalid UTF-8 or surrounding white space.
func cleanFilename(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	return s
}

// asciiFallback replaces every rune of s that cannot stand inside a
// quoted-string in plain ASCII with '_'.
func asciiFallback(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// encodeExtValue percent-encodes s as the value-chars of an RFC 8187
// ext-value: attr-char stays, every other byte becomes %XX.
func encodeExtValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// isAttrChar reports whether c is an RFC 8187 attr-char.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
