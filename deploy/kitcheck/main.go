// Command kitcheck checks a running compose kit (deploy/compose.yaml or
// compose.external.yaml) from the outside, as a client and a browser would.
// scripts/compose-kit.sh starts the kit, runs kitcheck with KIT_PHASE=upload,
// restarts the stack in several ways, and runs it again with KIT_PHASE=check
// and finally KIT_PHASE=finish. It exits 1 on the first failed check, and
// when a variable is missing or the kit does not answer: it never skips.
//
//	KIT_API         the Chute API, e.g. http://127.0.0.1:28080
//	KIT_JWT_SECRET  the kit's JWT_SECRET
//	KIT_STATE       a file that carries what the upload phase made to the
//	                later phases
//	KIT_PHASE       upload: a multipart and a single upload through the
//	                client, read back byte for byte, and a browser-style PUT
//	                (CORS preflight, ETag exposed) whose session is left open;
//	                check: the uploads are still completed and readable, the
//	                open session is still in its state; finish: check, then
//	                complete the open session and read it back
//	KIT_ORIGIN      the Origin of the browser check (default
//	                https://app.example.com; CORS_ORIGINS must allow it)
//
// It is a program rather than a test so that `go build ./...` compiles it
// with everything else.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/client"
)

// file is an upload the phases follow.
type file struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// State is the session's state when the upload phase ended.
	State string `json:"state"`
}

// state is what the upload phase leaves for the later ones.
type state struct {
	// Done are completed uploads: a multipart one and a single one.
	Done []file `json:"done"`
	// Open is a session whose bytes are in the store but which is not
	// completed yet; the finish phase completes it.
	Open file `json:"open"`
}

// fatalf reports a failed check and exits 1.
func fatalf(format string, args ...any) {
	log.Fatalf("FAIL: "+format, args...)
}

func logf(format string, args ...any) {
	log.Printf(format, args...)
}

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fatalf("%s is not set: kitcheck checks a running compose kit (see scripts/compose-kit.sh)", name)
	}
	return v
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("kitcheck: ")
	api := strings.TrimRight(env("KIT_API"), "/")
	secret := env("KIT_JWT_SECRET")
	statePath := env("KIT_STATE")
	phase := env("KIT_PHASE")
	origin := os.Getenv("KIT_ORIGIN")
	if origin == "" {
		origin = "https://app.example.com"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	waitReady(ctx, api)
	token, err := auth.SignHS256(secret, "kit-check", time.Hour, "", "")
	if err != nil {
		fatalf("%v", err)
	}
	c := client.New(api, client.WithToken(token))

	switch phase {
	case "upload":
		var st state
		// 20 MiB: two parts of the default 16 MiB; 100 KiB: one PUT.
		for _, size := range []int64{20 << 20, 100 << 10} {
			data := randomBytes(size)
			res, err := c.Upload(ctx, bytes.NewReader(data), size, client.UploadOptions{Filename: "kit.bin", ContentType: "application/octet-stream"})
			if err != nil {
				fatalf("upload of %d bytes: %v", size, err)
			}
			if got := download(ctx, res.DownloadURL); got != sum(data) {
				fatalf("upload %s: downloaded bytes differ from the uploaded ones", res.ID)
			}
			st.Done = append(st.Done, file{ID: res.ID, Size: size, SHA256: sum(data), State: "completed"})
			logf("uploaded %s (%d bytes) and read it back", res.ID, size)
		}
		st.Open = browserPut(ctx, c, origin)
		b, err := json.Marshal(st)
		if err != nil {
			fatalf("%v", err)
		}
		if err := os.WriteFile(statePath, b, 0o600); err != nil {
			fatalf("%v", err)
		}
	case "check", "finish":
		b, err := os.ReadFile(statePath)
		if err != nil {
			fatalf("the upload phase's state: %v", err)
		}
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			fatalf("%v", err)
		}
		if len(st.Done) == 0 || st.Open.ID == "" {
			fatalf("the state file holds no uploads: %s", b)
		}
		for _, f := range append(st.Done, st.Open) {
			s, err := c.Status(ctx, f.ID, false)
			if err != nil {
				fatalf("status of %s after the restart: %v (sessions lost?)", f.ID, err)
			}
			if s.State != f.State || s.Size != f.Size {
				fatalf("session %s after the restart: state %q, size %d; it was %q, %d", f.ID, s.State, s.Size, f.State, f.Size)
			}
		}
		for _, f := range st.Done {
			d, err := c.DownloadURL(ctx, f.ID)
			if err != nil {
				fatalf("download URL of %s: %v", f.ID, err)
			}
			if got := download(ctx, d.URL); got != f.SHA256 {
				fatalf("%s after the restart: the stored bytes differ from the uploaded ones", f.ID)
			}
		}
		logf("after the restart: %d completed uploads read back, session %s still %q", len(st.Done), st.Open.ID, st.Open.State)
		if phase == "finish" {
			// The open session's upload id and bytes survived in the store.
			done, err := c.Complete(ctx, st.Open.ID, nil)
			if err != nil {
				fatalf("complete %s after the restarts: %v", st.Open.ID, err)
			}
			if done.State != "completed" || done.Size != st.Open.Size {
				fatalf("complete %s: state %q, size %d", st.Open.ID, done.State, done.Size)
			}
			if got := download(ctx, done.Download.URL); got != st.Open.SHA256 {
				fatalf("%s completed after the restarts: the bytes differ", st.Open.ID)
			}
			logf("completed %s, created before the restarts, and read it back", st.Open.ID)
		}
	default:
		fatalf("KIT_PHASE=%q: want upload, check or finish", phase)
	}
	logf("phase %s: ok", phase)
}

// browserPut creates a single upload and sends its bytes as a browser on
// origin would: a CORS preflight, then the PUT with an Origin header,
// whose ETag must be readable. The session is left open.
func browserPut(ctx context.Context, c *client.Client, origin string) file {
	const size = 256 << 10
	data := randomBytes(size)
	n := int64(size)
	up, err := c.Create(ctx, client.CreateRequest{Filename: "browser.bin", ContentType: "application/octet-stream", Size: &n})
	if err != nil {
		fatalf("create: %v", err)
	}
	if up.Upload == nil {
		fatalf("create of %d bytes: strategy %q, want one presigned PUT", size, up.Strategy)
	}
	var names []string
	for k := range up.Upload.Headers {
		if !strings.EqualFold(k, "Content-Length") && !strings.EqualFold(k, "Host") {
			names = append(names, strings.ToLower(k))
		}
	}
	pre, err := http.NewRequestWithContext(ctx, http.MethodOptions, up.Upload.URL, nil)
	if err != nil {
		fatalf("%v", err)
	}
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", up.Upload.Method)
	pre.Header.Set("Access-Control-Request-Headers", strings.Join(names, ","))
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		fatalf("preflight: %v", scrub(err))
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !allowsOrigin(resp.Header, origin) {
		fatalf("the store refused the browser's preflight from %s: %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	put, err := http.NewRequestWithContext(ctx, up.Upload.Method, up.Upload.URL, bytes.NewReader(data))
	if err != nil {
		fatalf("%v", err)
	}
	for k, v := range up.Upload.Headers {
		put.Header.Set(k, v)
	}
	put.ContentLength = size
	put.Header.Set("Origin", origin)
	resp, err = http.DefaultClient.Do(put)
	if err != nil {
		fatalf("PUT: %v", scrub(err))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fatalf("PUT to the presigned URL: %d", resp.StatusCode)
	}
	exposed := false
	for _, v := range resp.Header.Values("Access-Control-Expose-Headers") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); strings.EqualFold(h, "ETag") || h == "*" {
				exposed = true
			}
		}
	}
	if !allowsOrigin(resp.Header, origin) || !exposed || resp.Header.Get("ETag") == "" {
		fatalf("a browser can't read the PUT's ETag: Access-Control-Allow-Origin %q, Access-Control-Expose-Headers %q, ETag %q",
			resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Values("Access-Control-Expose-Headers"), resp.Header.Get("ETag"))
	}
	s, err := c.Status(ctx, up.ID, false)
	if err != nil {
		fatalf("status: %v", err)
	}
	logf("browser-style PUT of %s from %s: preflight and PUT allowed, ETag exposed; session left %q", up.ID, origin, s.State)
	return file{ID: up.ID, Size: size, SHA256: sum(data), State: s.State}
}

func allowsOrigin(h http.Header, origin string) bool {
	v := h.Get("Access-Control-Allow-Origin")
	return v == "*" || v == origin
}

// waitReady waits for /readyz (Redis and the store reachable).
func waitReady(ctx context.Context, api string) {
	deadline := time.Now().Add(90 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/readyz", nil)
		if err != nil {
			fatalf("%v", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	fatalf("%s/readyz not ready within 90s: %s", api, last)
}

// download GETs a presigned URL and returns the body's SHA-256.
func download(ctx context.Context, target string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fatalf("%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatalf("download: %v", scrub(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fatalf("download: %d", resp.StatusCode)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		fatalf("download: %v", scrub(err))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scrub drops the URL (a presigned URL is a credential) from a transport
// error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func randomBytes(n int64) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		fatalf("%v", err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
