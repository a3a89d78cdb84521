package test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// uppyDir holds the Uppy test page, its driver and their locked npm
// packages (npm ci there first; scripts/test.sh does).
const uppyDir = "../web/uppytest"

// uppyNeedBrowser returns the Chromium binary. Missing tooling fails the
// test when CHUTE_REQUIRE_DOCKER=1 (CI must run it) and skips it
// otherwise.
func uppyNeedBrowser(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install -y chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	for _, p := range []string{"playwright-core", "@uppy/aws-s3", "@uppy/core", ".bin/esbuild"} {
		if _, err := os.Stat(filepath.Join(uppyDir, "node_modules", p)); err != nil {
			missing = append(missing, p+" (npm ci in web/uppytest)")
		}
	}
	if len(missing) > 0 {
		msg := "Uppy browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("CHUTE_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromium
}

// TestBrowserUppy runs real Uppy (@uppy/core and @uppy/aws-s3 6.x in
// companionEndpoint mode) in headless Chromium against `chute serve`: the
// page comes from another origin (an httptest server), so every call to
// Chute and to the store crosses CORS. A small file goes as a POST policy
// upload, a 64 MiB file as multipart; the bytes are then checked in the
// store.
func TestBrowserUppy(t *testing.T) {
	tg := startServe(t)
	chromium := uppyNeedBrowser(t)
	started := time.Now()

	// Bundle the page.
	site := t.TempDir()
	absUppy, err := filepath.Abs(uppyDir)
	if err != nil {
		t.Fatal(err)
	}
	bundle := exec.Command(filepath.Join(absUppy, "node_modules", ".bin", "esbuild"), "src/page.js",
		"--bundle", "--format=iife", "--target=chrome120", "--log-level=warning", "--outfile="+filepath.Join(site, "bundle.js"))
	bundle.Dir = absUppy
	if out, err := bundle.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	html, err := os.ReadFile(filepath.Join(uppyDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "index.html"), html, 0o600); err != nil {
		t.Fatal(err)
	}
	pages := httptest.NewServer(http.FileServer(http.Dir(site))) // 127.0.0.1, another origin than Chute
	t.Cleanup(pages.Close)

	// The files, made here so that their bytes are known.
	files := t.TempDir()
	want := map[string][32]byte{}
	sizes := map[string]int64{"note.txt": 3000, "big.bin": 64 * mib}
	var paths []string
	for name, size := range sizes {
		data := randomBytes(t, size)
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want[name] = sha256.Sum256(data)
		paths = append(paths, p)
	}

	pathTok := tg.token(t, "alice")
	endpoint := tg.base + "/t/" + pathTok
	pageURL := pages.URL + "/index.html?" + url.Values{"endpoint": {endpoint}}.Encode()
	// A deadline so that a hung browser cannot hang the suite; not a
	// timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	drive := exec.CommandContext(ctx, "node", "drive.mjs")
	drive.Dir = uppyDir
	drive.Env = append(os.Environ(), "PAGE_URL="+pageURL, "FILES="+strings.Join(paths, ":"), "CHROMIUM="+chromium)
	var stderr syncBuffer
	drive.Stderr = &stderr
	out, err := drive.Output()
	if err != nil {
		t.Fatalf("drive.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Successes []struct {
			Name      string `json:"name"`
			Size      int64  `json:"size"`
			Key       string `json:"key"`
			Multipart bool   `json:"multipart"`
		} `json:"successes"`
		Failures []struct {
			Name  string `json:"name"`
			Error string `json:"error"`
		} `json:"failures"`
		Successful int `json:"successful"`
		Failed     int `json:"failed"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("drive.mjs printed %q: %v\n%s", out, err, stderr.String())
	}
	if res.Successful != 2 || res.Failed != 0 || len(res.Successes) != 2 {
		t.Fatalf("Uppy: %+v\n%s", res, stderr.String())
	}

	tok := tg.token(t, "alice")
	for _, s := range res.Successes {
		if !strings.HasPrefix(s.Key, "alice/") {
			t.Errorf("%s: key %q was not chosen by Chute's template", s.Name, s.Key)
		}
		// Each file took the path it should, as a session of its own.
		// Uppy never reports a POST upload: the form wrote a staged
		// object, which the promoter checks and copies into place.
		var st struct {
			Key       string `json:"key"`
			Strategy  string `json:"strategy"`
			State     string `json:"state"`
			PartCount int    `json:"part_count"`
		}
		id := sessionIDOf(t, s.Key)
		var r reply
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			r = tg.call(t, tok, "GET", "/v1/uploads/"+id, nil)
			r.decode(t, &st)
			if st.State != "pending" || time.Now().After(deadline) {
				break
			}
		}
		sum, info := tg.storedSHA256(t, st.Key)
		if sum != want[s.Name] || info.Size != sizes[s.Name] {
			t.Errorf("%s: stored %d bytes under %s, sha256 match %v", s.Name, info.Size, st.Key, sum == want[s.Name])
		}
		switch s.Name {
		case "big.bin":
			if !s.Multipart || st.Strategy != "multipart" || st.State != "completed" || st.PartCount != 8 {
				t.Errorf("big.bin: session %s", r.body)
			}
		case "note.txt":
			if s.Multipart || st.Strategy != "single" || st.State != "completed" || strings.Contains(st.Key, ".chute-staging") {
				t.Errorf("note.txt: session %s", r.body)
			}
			if info.ContentType != "text/plain" {
				t.Errorf("note.txt: stored type %q", info.ContentType)
			}
		}
	}
	for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", tok, pathTok} {
		if tg.grep(s) {
			t.Errorf("chute's output contains %q", s)
		}
	}
	t.Logf("Uppy uploaded %d files (64 MiB multipart + POST policy) in %v, browser start included", res.Successful, time.Since(started).Round(time.Millisecond))
}
