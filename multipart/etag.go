package multipart

import "strings"

// NormalizeETag returns the comparable form of an ETag: lower case, with
// surrounding white space, a weak-validator prefix ("W/") and surrounding
// double quotes (plain or HTML-escaped as &quot;) removed. Layers are
// peeled until none is left, so `"abc"`, `W/"ABC"`, ` &quot;abc&quot; `
// and `abc` all give "abc", and NormalizeETag(NormalizeETag(s)) equals
// NormalizeETag(s).
//
// Multipart ETags keep their "-N" suffix; NormalizeETag does not interpret
// the value, it only removes the wrapping clients and proxies add.
func NormalizeETag(s string) string {
	// Lower-case first: peeling only cuts at ASCII or white-space
	// boundaries, so what is left stays lower case, and "W/" and
	// "&QUOT;" are caught as "w/" and "&quot;".
	s = strings.ToLower(s)
	for {
		prev := s
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(s, "w/")
		s = trimPair(s, `"`)
		s = trimPair(s, "&quot;")
		if s == prev {
			return s
		}
	}
}

// SameETag reports whether a and b are the same ETag once normalised. An
// ETag that normalises to the empty string matches nothing, not even
// another empty one.
func SameETag(a, b string) bool {
	na := NormalizeETag(a)
	return na != "" && na == NormalizeETag(b)
}

// trimPair removes q from both ends of s when s starts and ends with it
// (as two separate occurrences).
func trimPair(s, q string) string {
	if len(s) >= 2*len(q) && strings.HasPrefix(s, q) && strings.HasSuffix(s, q) {
		return s[len(q) : len(s)-len(q)]
	}
	return s
}
