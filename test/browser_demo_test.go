package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/web"
)

// demoDriverDir holds the node script that drives the demo page and its
// locked playwright-core (npm ci there first).
const demoDriverDir = "../web/e2e"

// demoNeedBrowser returns the Chromium binary, failing the test when the
// browser tooling is missing and CHUTE_REQUIRE_DOCKER=1 (CI must run it),
// skipping otherwise.
func demoNeedBrowser(t *testing.T) string {
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
	if _, err := os.Stat(filepath.Join(demoDriverDir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "playwright-core (npm ci in web/e2e)")
	}
	if _, err := os.Stat(filepath.Join(demoDriverDir, "node_modules", "@chute-dev", "client", "package.json")); err != nil {
		missing = append(missing, "the packed npm client @chute-dev/client (scripts/pack-client.sh, after npm ci in web/e2e)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("CHUTE_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromium
}

// demoFile writes size random bytes to dir/name and returns their sha256.
func demoFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// demoPNG writes a w×h gradient PNG and returns its sha256.
func demoPNG(t *testing.T, path string, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(255 * x / w), G: uint8(255 * y / h), B: 160, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// TestBrowserDemo drives the demo page of `chute dev` in headless
// Chromium: an image and a 40 MiB file uploaded through the page, pause
// and resume, cancel, and resume after a page reload; then it checks the
// bytes in the store and the sessions through the API.
func TestBrowserDemo(t *testing.T) {
	chromium := demoNeedBrowser(t)
	tg := startDev(t)
	tok := tg.token(t, "alice")

	t.Run("static files", func(t *testing.T) {
		for _, c := range []struct{ path, ctype string }{
			{"/", "text/html"}, {"/chute.js", "text/javascript"}, {"/chute-worker.js", "text/javascript"}, {"/app.js", "text/javascript"}, {"/style.css", "text/css"},
		} {
			resp, err := http.Get(tg.base + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || len(body) == 0 {
				t.Errorf("GET %s: %d %q (%d bytes)", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
			}
			if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
				t.Errorf("GET %s: Cache-Control %q, ETag %q", c.path, resp.Header.Get("Cache-Control"), resp.Header.Get("ETag"))
			}
		}
		if r := tg.call(t, "", "GET", "/no-such-file.js", nil); r.status != 404 || r.errCode(t) != "not_found" {
			t.Errorf("unknown path: %d %s", r.status, r.body)
		}
		if !strings.Contains(tg.logs.String(), "demo page  "+tg.base+"/") {
			t.Errorf("the dev banner does not name the demo page:\n%s", tg.logs.String())
		}
	})

	dir := t.TempDir()
	sums := map[string]string{
		"image.png": demoPNG(t, filepath.Join(dir, "image.png"), 64, 48),
		"big.bin":   demoFile(t, dir, "big.bin", 40<<20),
		// Two parts each (16 MiB + 1 MiB): part 2 is the one held.
		"pause.bin":  demoFile(t, dir, "pause.bin", 17<<20),
		"cancel.bin": demoFile(t, dir, "cancel.bin", 17<<20),
		"reload.bin": demoFile(t, dir, "reload.bin", 17<<20),
	}
	shots := os.Getenv("CHUTE_SHOT_DIR") // set it to look at the page
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "demo.mjs")
	cmd.Dir = demoDriverDir
	cmd.Env = append(os.Environ(), "CHUTE_URL="+tg.base, "CHUTE_TOKEN="+tok, "FILES_DIR="+dir,
		"SHOT_DIR="+shots, "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("driver (%s):\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	if err != nil {
		t.Fatalf("driver failed: %v\n%s", err, stdout.String())
	}
	var got struct {
		Image struct {
			ID    string
			Width int
		}
		Big struct {
			ID          string
			Link, Syncs int
		}
		Pause struct {
			ID     string
			Resent []int
			Signs  int
		}
		Cancel struct{ ID string }
		Sums   struct {
			Image, Big string
			Puts       []struct {
				Part int // 0: a plain PUT
				Sum  string
			}
			Signed    []map[string]string
			Workers   []string
			Mbps      int
			Combined  []bool
			OffThread bool
		}
		Reload struct {
			Before, ID string
			Resent     []int
			Signs      int
			Listed     []string
			TokenKept  bool
		}
		Packed struct {
			Name, Version string
			Sha256        map[string]string
			Served        map[string]int
		}
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("driver output %q: %v", stdout.String(), err)
	}

	t.Run("packed client", func(t *testing.T) {
		// The page ran chute.js and its worker from the npm package that
		// scripts/pack-client.sh packed and installed, and those are the
		// files this Chute embeds (web/client): the package is what was
		// tested, and it is not stale.
		p := got.Packed
		t.Logf("the page loaded %s@%s from web/e2e/node_modules: %v", p.Name, p.Version, p.Served)
		if p.Name != "@chute-dev/client" || p.Version == "" {
			t.Errorf("packed package %q %q, want @chute-dev/client", p.Name, p.Version)
		}
		for _, name := range []string{"chute.js", "chute-worker.js"} {
			if n := p.Served["/"+name]; n < 1 {
				t.Errorf("the page loaded the packed %s %d times, want at least once", name, n)
			}
			b, err := fs.ReadFile(web.FS(), name)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); p.Sha256["/"+name] != hex.EncodeToString(sum[:]) {
				t.Errorf("the packed %s differs from web/client/%s (run scripts/pack-client.sh again)", name, name)
			}
		}
	})

	// Completed uploads hold exactly the file's bytes.
	for name, id := range map[string]string{"image.png": got.Image.ID, "big.bin": got.Big.ID, "pause.bin": got.Pause.ID, "reload.bin": got.Reload.ID} {
		var st struct{ State, Key string }
		r := tg.call(t, tok, "GET", "/v1/uploads/"+id, nil)
		r.decode(t, &st)
		if r.status != 200 || st.State != "completed" {
			t.Errorf("%s (%s): %d %s", name, id, r.status, r.body)
			continue
		}
		obj, err := tg.store.GetObject(ctx, tg.bucket, st.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, obj)
		obj.Close()
		if err != nil {
			t.Fatalf("%s: reading %s: %v", name, st.Key, err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != sums[name] {
			t.Errorf("%s: stored sha256 %s, want %s", name, sum, sums[name])
		}
		if !strings.HasPrefix(st.Key, "alice/") {
			t.Errorf("%s: key %q is not alice's", name, st.Key)
		}
	}
	t.Run("checksums", func(t *testing.T) {
		// chute.js checks CRC32C by default: the image (a single upload)
		// and big.bin (3 parts, under the 64 MiB read-ahead) declared
		// their whole value, which the page shows as verified; the single
		// PUT and every part PUT carried the header Chute signed.
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		img, big := read("image.png"), read("big.bin")
		s := got.Sums
		if want := "CRC32C:" + checksum.CRC32C.Sum(img); s.Image != want {
			t.Errorf("image.png: page shows checksum %q, want %q", s.Image, want)
		}
		if want := "CRC32C:" + checksum.CRC32C.Sum(big); s.Big != want {
			t.Errorf("big.bin: page shows checksum %q, want %q", s.Big, want)
		}
		// The first scenario's PUTs: the image's one (a plain PUT or part 1
		// of a one-part upload) and big.bin's three parts, each with the
		// CRC32C of exactly its bytes.
		const ps = 16 << 20
		want := map[string]int{checksum.CRC32C.Sum(img): -1}
		for n := 1; n <= 3; n++ {
			want[checksum.CRC32C.Sum(big[(n-1)*ps:min(n*ps, len(big))])] = n
		}
		for _, p := range s.Puts {
			n, ok := want[p.Sum]
			if !ok || (n > 0 && p.Part != n) || (n < 0 && p.Part > 1) {
				t.Errorf("PUT of part %d sent x-amz-checksum-crc32c %q: not the checksum of that part of image.png or big.bin", p.Part, p.Sum)
			}
			delete(want, p.Sum)
		}
		if len(s.Puts) != 4 || len(want) != 0 {
			t.Errorf("PUTs %+v; checksums never sent: %v", s.Puts, want)
		}
		signed := map[string]string{}
		for _, m := range s.Signed {
			maps.Copy(signed, m)
		}
		for n := 1; n <= 3; n++ {
			if want := checksum.CRC32C.Sum(big[(n-1)*ps : min(n*ps, len(big))]); signed[strconv.Itoa(n)] != want {
				t.Errorf("part-urls for part %d asked to sign %q, want %q", n, signed[strconv.Itoa(n)], want)
			}
		}
		// Chute kept the declared value: the session says so.
		for id, data := range map[string][]byte{got.Image.ID: img, got.Big.ID: big} {
			var st struct {
				Checksum struct{ Algorithm, Value string }
			}
			tg.call(t, tok, "GET", "/v1/uploads/"+id, nil).decode(t, &st)
			if st.Checksum.Algorithm != "CRC32C" || st.Checksum.Value != checksum.CRC32C.Sum(data) {
				t.Errorf("%s: status checksum %+v, want CRC32C %s", id, st.Checksum, checksum.CRC32C.Sum(data))
			}
		}
		// Chute's page has a CSP of script-src 'self': the worker comes
		// from /chute-worker.js, not a Blob URL.
		if len(s.Workers) == 0 || slices.ContainsFunc(s.Workers, func(w string) bool { return w != "/chute-worker.js" }) || !s.OffThread {
			t.Errorf("checksum workers started %v (off thread %v), want /chute-worker.js only", s.Workers, s.OffThread)
		}
		if len(s.Combined) != 10 || slices.Contains(s.Combined, false) {
			t.Errorf("part CRCs combined on the page: %v, want all equal to the whole", s.Combined)
		}
		t.Logf("CRC32C in chute.js's worker in Chromium: %d MB/s", s.Mbps)
	})

	if got.Image.Width != 64 {
		t.Errorf("image preview: naturalWidth %d, want 64", got.Image.Width)
	}
	if got.Big.Link != 1 {
		t.Errorf("big.bin: %d download links shown, want 1", got.Big.Link)
	}
	// The page read every part's ETag (the store exposes it) and reported
	// it: it never needed Chute to sync with the store.
	if got.Big.Syncs != 0 {
		t.Errorf("first uploads asked for %d sync statuses, want 0 (ETag not readable?)", got.Big.Syncs)
	}
	// After the pause only the held part went again: refused once with 403,
	// signed again, sent again.
	if !slices.Equal(got.Pause.Resent, []int{2, 2}) || got.Pause.Signs != 2 {
		t.Errorf("resume after pause sent parts %v with %d part-url calls, want [2 2] and 2", got.Pause.Resent, got.Pause.Signs)
	}
	// After the reload the same session went on with only the missing
	// part, retried once after a 503 with the same URL.
	if got.Reload.ID != got.Reload.Before || !slices.Equal(got.Reload.Resent, []int{2, 2}) || got.Reload.Signs != 1 {
		t.Errorf("reload: session %s then %s, parts sent after reload %v with %d part-url calls; want the same session, [2 2] and 1",
			got.Reload.Before, got.Reload.ID, got.Reload.Resent, got.Reload.Signs)
	}
	if !slices.Contains(got.Reload.Listed, "reload.bin") || !got.Reload.TokenKept {
		t.Errorf("after reload: unfinished list %v, token kept %v", got.Reload.Listed, got.Reload.TokenKept)
	}

	// The cancelled session is aborted and left nothing behind.
	var st struct{ State string }
	r := tg.call(t, tok, "GET", "/v1/uploads/"+got.Cancel.ID, nil)
	r.decode(t, &st)
	if r.status != 200 || st.State != "aborted" {
		t.Errorf("cancelled upload: %d %s", r.status, r.body)
	}
	if left := tg.incomplete(t, ""); len(left) != 0 {
		t.Errorf("incomplete multipart uploads left in the store: %v", left)
	}
}
