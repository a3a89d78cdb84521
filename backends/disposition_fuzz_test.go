package backends

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDisposition checks the Content-Disposition Chute stores with an
// object, for any client filename: it is printable ASCII (no CR, LF or
// other byte that could end or split a header), it parses as an inline
// disposition, and the name a browser reads back from it is the cleaned
// last path element, without separators or control characters.
func FuzzDisposition(f *testing.F) {
	for _, s := range []string{
		"clip.mp4", "résumé.pdf", "../../etc/passwd", `..\..\boot.ini`, "/abs/evil.sh",
		"a\r\nContent-Type: text/html", "a\x00b", "invoice\u202efdp.exe", `say "hi".txt`,
		"100%.txt", "\xff\xfe.bin", "..", " . ", "日本語.txt", "a\u0085b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filename string) {
		v := inlineDisposition(filename)
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("inlineDisposition(%q) = %q: byte %#x is not printable ASCII", filename, v, v[i])
			}
		}
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "inline" {
			t.Fatalf("inlineDisposition(%q) = %q: does not parse as inline (%q, %v)", filename, v, disp, err)
		}
		name := cleanFilename(filename)
		if name == "" {
			if v != "inline" {
				t.Fatalf("inlineDisposition(%q) = %q for an empty name", filename, v)
			}
			return
		}
		if got := params["filename"]; got != name {
			t.Fatalf("inlineDisposition(%q) = %q: reads back as %q, want %q", filename, v, got, name)
		}
		if !utf8.ValidString(name) || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			t.Fatalf("cleanFilename(%q) = %q", filename, name)
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("cleanFilename(%q) = %q keeps control character %U", filename, name, r)
			}
		}
	})
}
