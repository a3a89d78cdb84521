package multipart

import (
	"strings"
	"testing"
)

func TestNormalizeETag(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{`""`, ""},
		{`W/""`, ""},
		{"9b2cf535f27731c974343645a3985328", "9b2cf535f27731c974343645a3985328"},
		{`"9b2cf535f27731c974343645a3985328"`, "9b2cf535f27731c974343645a3985328"},
		{`"9B2CF535F27731C974343645A3985328"`, "9b2cf535f27731c974343645a3985328"},
		{`W/"9b2cf535"`, "9b2cf535"},
		{`w/"9b2cf535"`, "9b2cf535"},
		{"  \"9b2cf535\"\t\n", "9b2cf535"},
		{`&quot;9b2cf535&quot;`, "9b2cf535"},
		{`&QUOT;9b2cf535&QUOT;`, "9b2cf535"},
		{` W/&quot;9B2CF535&quot; `, "9b2cf535"},
		{`"d41d8cd98f00b204e9800998ecf8427e-12"`, "d41d8cd98f00b204e9800998ecf8427e-12"},
		{`""9b2cf535""`, "9b2cf535"},
		{`" 9b2cf535 "`, "9b2cf535"},
		{`"W/"9b2cf535""`, "9b2cf535"},
		// Unbalanced quotes are not "surrounding": left alone.
		{`"9b2cf535`, `"9b2cf535`},
		{`9b2cf535"`, `9b2cf535"`},
		{`"`, `"`},
		{`&quot;9b2cf535"`, `&quot;9b2cf535"`},
		// Quotes and W/ inside the value are kept.
		{`ab"cd`, `ab"cd`},
		{`abW/cd`, `abw/cd`},
	}
	for _, tt := range tests {
		if got := NormalizeETag(tt.in); got != tt.want {
			t.Errorf("NormalizeETag(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSameETag(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`"abc"`, "abc", true},
		{`"ABC"`, `W/"abc"`, true},
		{`&quot;abc&quot;`, ` "abc" `, true},
		{`"abc-3"`, `abc-3`, true},
		{"abc", "abd", false},
		{"abc-3", "abc", false},
		{"", "", false},
		{`""`, "", false},
		{`""`, `W/""`, false},
		{"abc", "", false},
		{"", "abc", false},
	}
	for _, tt := range tests {
		if got := SameETag(tt.a, tt.b); got != tt.want {
			t.Errorf("SameETag(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := SameETag(tt.b, tt.a); got != tt.want {
			t.Errorf("SameETag(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func FuzzNormalizeETag(f *testing.F) {
	for _, s := range []string{
		"", `"abc"`, `W/"ABC"`, `&quot;abc&quot;`, ` "" `, `""""`, `"W/"x""`,
		"d41d8cd98f00b204e9800998ecf8427e-12", "\xff\"a\"", "İ", `&quot;"&quot;`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeETag(s)
		if again := NormalizeETag(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		if strings.ToLower(n) != n {
			t.Fatalf("NormalizeETag(%q) = %q, not lower case", s, n)
		}
		if strings.TrimSpace(n) != n {
			t.Fatalf("NormalizeETag(%q) = %q, has surrounding space", s, n)
		}
		if strings.HasPrefix(n, "w/") {
			t.Fatalf("NormalizeETag(%q) = %q, kept the weak prefix", s, n)
		}
		if SameETag(s, s) != (n != "") {
			t.Fatalf("SameETag(%q, itself) = %v with normal form %q", s, SameETag(s, s), n)
		}
		// Quoting, escaping or marking weak changes nothing.
		for _, wrapped := range []string{`"` + s + `"`, "&quot;" + s + "&quot;", `W/"` + s + `"`, " " + s + " "} {
			if got := NormalizeETag(wrapped); got != n {
				t.Fatalf("NormalizeETag(%q) = %q, but NormalizeETag(%q) = %q", wrapped, got, s, n)
			}
		}
	})
}
