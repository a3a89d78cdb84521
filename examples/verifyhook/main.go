// Command verifyhook is an example verify hook for Chute (docs/verify.md):
// it accepts a finished upload, or rejects a video longer than
// -max-duration, by running ffprobe on the presigned download_url Chute
// sends. ffprobe reads only what it needs (the container's header, a few
// range requests), not the whole file.
//
//	CHUTE_VERIFY_SECRET=... verifyhook -listen 127.0.0.1:9090 -max-duration 10m
//
// and in Chute's configuration:
//
//	profiles:
//	  videos:
//	    allowed_types: ["video/*"]
//	    verify: { url: "http://127.0.0.1:9090/verify", secret: "...", timeout: 30s }
//
// Each request's signature is checked (as for webhooks: HMAC-SHA256 of
// "<X-Chute-Timestamp>.<body>") and must be at most five minutes old.
// Answers: {"accept": true}; {"accept": false, "reason": "..."} for a
// video that is too long or that ffprobe cannot read; a 5xx when the hook
// itself cannot decide (ffprobe missing, a timeout): Chute then answers
// the client 503 and a retried complete asks again. The download URL is a
// bearer credential: it is never logged.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// request is the part of Chute's verify request this hook reads.
type request struct {
	Type   string `json:"type"`
	Upload struct {
		ID          string `json:"id"`
		Subject     string `json:"subject"`
		Key         string `json:"key"`
		Size        int64  `json:"size"`
		ContentType string `json:"content_type"`
		DownloadURL string `json:"download_url"`
	} `json:"upload"`
}

// verdict is the answer Chute reads.
type verdict struct {
	Accept bool   `json:"accept"`
	Reason string `json:"reason,omitempty"`
}

// errUnreadable means the prober could read the file but found no media
// duration in it: a verdict (reject), not a failure of the hook.
var errUnreadable = errors.New("not a readable video")

// prober returns the duration of the media at url.
type prober func(ctx context.Context, url string) (time.Duration, error)

// ffprobe returns a prober that runs the ffprobe binary at path.
func ffprobe(path string) prober {
	return func(ctx context.Context, url string) (time.Duration, error) {
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, path, "-v", "error",
			"-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1", url)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		cmd.WaitDelay = time.Second // once killed, don't wait on pipes a child may hold
		err := cmd.Run()
		if ctx.Err() != nil {
			return 0, fmt.Errorf("ffprobe: %w", ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if msg := stderr.String(); unreachable(msg) {
				// The store did not serve the file: no verdict yet.
				return 0, fmt.Errorf("ffprobe could not fetch the file: %s", firstLine(msg))
			}
			// ffprobe read the file and could not make sense of it.
			return 0, errUnreadable
		}
		if err != nil {
			return 0, fmt.Errorf("ffprobe: %v", err) // not installed, not executable
		}
		secs, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
		if err != nil || secs < 0 {
			return 0, errUnreadable // "N/A": a file without a duration
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
}

// unreachable reports whether ffprobe's error output says the file could
// not be fetched (the store refused or failed), as opposed to fetched and
// found not to be a video. ffprobe's exit status does not tell them apart.
func unreachable(stderr string) bool {
	for _, s := range []string{"Server returned", "Connection refused", "Connection timed out", "timed out", "Failed to resolve"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// firstLine is s's first line without the URL ffprobe may echo (a
// presigned URL is a credential).
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if i := strings.Index(line, "http"); i >= 0 {
		line = line[:i] + "<url>"
	}
	return line
}

// hook is the HTTP handler.
type hook struct {
	secret   []byte
	max      time.Duration
	probe    prober
	probeFor time.Duration // bound of one probe: below Chute's verify timeout
	now      func() time.Time
	log      *log.Logger
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if h.secret != nil && !h.signed(r, body) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil || req.Type != "upload.verify" || req.Upload.DownloadURL == "" {
		http.Error(w, "not a verify request", http.StatusBadRequest)
		return
	}
	u := req.Upload
	if !strings.HasPrefix(u.ContentType, "video/") {
		h.answer(w, u.ID, verdict{Accept: true}) // this hook only judges videos
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.probeFor)
	defer cancel()
	d, err := h.probe(ctx, u.DownloadURL)
	switch {
	case errors.Is(err, errUnreadable):
		h.answer(w, u.ID, verdict{Reason: "the file is not a video ffprobe can read"})
	case err != nil:
		// No verdict: Chute answers 503 and the client retries later.
		h.log.Printf("upload %s: cannot decide: %v", u.ID, err)
		http.Error(w, "cannot decide now", http.StatusServiceUnavailable)
	case d > h.max:
		h.answer(w, u.ID, verdict{Reason: fmt.Sprintf("the video is %s long; at most %s is allowed", d.Round(time.Second), h.max)})
	default:
		h.answer(w, u.ID, verdict{Accept: true})
	}
}

// signed checks X-Chute-Signature over "<timestamp>.<body>" in constant
// time, and that the timestamp is at most five minutes off.
func (h *hook) signed(r *http.Request, body []byte) bool {
	ts := r.Header.Get("X-Chute-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || h.now().Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(r.Header.Get("X-Chute-Signature")), []byte(want))
}

func (h *hook) answer(w http.ResponseWriter, id string, v verdict) {
	if v.Accept {
		h.log.Printf("upload %s: accepted", id)
	} else {
		h.log.Printf("upload %s: rejected: %s", id, v.Reason)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9090", "address to listen on")
	maxDur := flag.Duration("max-duration", 10*time.Minute, "longest video accepted")
	bin := flag.String("ffprobe", "ffprobe", "the ffprobe binary")
	probeFor := flag.Duration("probe-timeout", 20*time.Second, "bound of one ffprobe run; keep it below the profile's verify.timeout")
	flag.Parse()
	secret := os.Getenv("CHUTE_VERIFY_SECRET")
	if secret == "" {
		log.Print("CHUTE_VERIFY_SECRET is not set: requests are not authenticated")
	}
	h := &hook{max: *maxDur, probe: ffprobe(*bin), probeFor: *probeFor, now: time.Now, log: log.Default()}
	if secret != "" {
		h.secret = []byte(secret)
	}
	mux := http.NewServeMux()
	mux.Handle("/verify", h)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("verify hook on http://%s/verify (videos up to %s)", *listen, *maxDur)
	log.Fatal(srv.ListenAndServe())
}
