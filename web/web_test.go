package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestFSHoldsThePage(t *testing.T) {
	fsys := FS()
	for _, name := range []string{"index.html", "app.js", "chute.js", "chute-worker.js", "style.css"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	// Every local file the page and its modules load is embedded.
	refs := regexp.MustCompile(`(?:src|href)="([^":#]+)"|from "\./([^"]+)"`)
	for _, name := range []string{"index.html", "app.js"} {
		b, _ := fs.ReadFile(fsys, name)
		for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
			ref := strings.TrimPrefix(m[1]+m[2], "./")
			if _, err := fs.Stat(fsys, ref); err != nil {
				t.Errorf("%s loads %q, which is not embedded", name, ref)
			}
		}
	}
}
