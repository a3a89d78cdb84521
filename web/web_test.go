package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"regexp"
	"slices"
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

// The root listing (what broker/httpapi serves) has the page's and the
// client's files, each once, sorted.
func TestFSListsThePageAndTheClient(t *testing.T) {
	entries, err := fs.ReadDir(FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			t.Errorf("%s: mode %v, want a regular file", e.Name(), e.Type())
		}
		names = append(names, e.Name())
	}
	want := []string{"app.js", "chute-worker.js", "chute.js", "index.html", "style.css"}
	if !slices.Equal(names, want) {
		t.Errorf("root lists %v, want %v", names, want)
	}
	for _, name := range clientFiles {
		if _, err := fs.Stat(sub(static, "static"), name); err == nil {
			t.Errorf("static/%s shadows client/%s: keep one copy, in client/", name, name)
		}
	}
}

// web/client is the npm package @chute-dev/client: its package.json
// publishes what the page serves, with types, as an ES module without
// dependencies, and its LICENSE is the repository's.
func TestClientPackage(t *testing.T) {
	var pkg struct {
		Name, Version, Type, License, Types string
		Files                               []string
		Exports                             map[string]json.RawMessage
		Dependencies, PeerDependencies      map[string]string
	}
	b, err := os.ReadFile("client/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "@chute-dev/client" || pkg.Type != "module" || pkg.License != "Apache-2.0" || pkg.Types != "./index.d.ts" {
		t.Errorf("package.json: name %q, type %q, license %q, types %q", pkg.Name, pkg.Type, pkg.License, pkg.Types)
	}
	// Chute's release tags are vX.Y.Z; the package's version is X.Y.Z.
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(pkg.Version) {
		t.Errorf("version %q is not X.Y.Z", pkg.Version)
	}
	if len(pkg.Dependencies)+len(pkg.PeerDependencies) != 0 {
		t.Errorf("runtime dependencies %v %v, want none", pkg.Dependencies, pkg.PeerDependencies)
	}
	for _, f := range append(slices.Clone(clientFiles), "index.d.ts") {
		if !slices.Contains(pkg.Files, f) {
			t.Errorf(`"files" %v lacks %s`, pkg.Files, f)
		}
	}
	var root struct{ Types, Default string }
	if err := json.Unmarshal(pkg.Exports["."], &root); err != nil || root.Types != "./index.d.ts" || root.Default != "./chute.js" {
		t.Errorf(`exports["."] = %s, want types ./index.d.ts and default ./chute.js`, pkg.Exports["."])
	}
	if string(pkg.Exports["./chute-worker.js"]) != `"./chute-worker.js"` {
		t.Errorf(`exports["./chute-worker.js"] = %s`, pkg.Exports["./chute-worker.js"])
	}
	mine, err := os.ReadFile("client/LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if repo, err := os.ReadFile("../LICENSE"); err != nil || !bytes.Equal(mine, repo) {
		t.Errorf("client/LICENSE differs from the repository's LICENSE (%v)", err)
	}
}
