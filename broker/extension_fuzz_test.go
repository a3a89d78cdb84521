package broker

import (
	"strings"
	"testing"
)

// FuzzExtension checks that whatever the client calls its file, the
// extension Chute keeps is empty or a dot and 1 to 16 of [a-z0-9]: it
// can never carry a path separator, a "..", a control or a bidi
// character into a key, and it is the end of the (lower-cased) name.
func FuzzExtension(f *testing.F) {
	for _, s := range []string{
		"clip.MP4", "README", "../../etc/passwd", `..\..\x.exe`, "/abs/a.sh", "a.t%x",
		"invoice\u202efdp.exe", "a.txt\x00.exe", ".bashrc", "a.", "a..b", "a.\u212a",
		"a." + strings.Repeat("x", 16), "a." + strings.Repeat("x", 17), "dir.d/file",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ext := Extension(name)
		if ext == "" {
			return
		}
		if len(ext) < 2 || len(ext) > 17 || ext[0] != '.' {
			t.Fatalf("Extension(%q) = %q: not a dot and 1 to 16 characters", name, ext)
		}
		for i := 1; i < len(ext); i++ {
			if c := ext[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				t.Fatalf("Extension(%q) = %q: byte %q outside [a-z0-9]", name, ext, c)
			}
		}
		if !strings.HasSuffix(strings.ToLower(name), ext) {
			t.Fatalf("Extension(%q) = %q: not the end of the name", name, ext)
		}
		if again := Extension("x" + ext); again != ext {
			t.Fatalf("Extension(%q) = %q, but Extension(%q) = %q", name, ext, "x"+ext, again)
		}
	})
}
