package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const secret = "example-secret"

// fakeFFprobe writes a shell script standing in for ffprobe: it records
// its last argument (the URL) and answers as script says.
func fakeFFprobe(t *testing.T, script string) (bin, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	bin = filepath.Join(dir, "ffprobe")
	body := "#!/bin/sh\nfor a; do last=\"$a\"; done\nprintf '%s' \"$last\" > " + argsFile + "\n" + script + "\n"
	if err := os.WriteFile(bin, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, argsFile
}

func newHook(bin string) *hook {
	return &hook{secret: []byte(secret), max: 10 * time.Minute, probe: ffprobe(bin), probeFor: 5 * time.Second,
		now: time.Now, log: log.New(io.Discard, "", 0)}
}

// post sends a signed verify request for an upload of type ct.
func post(t *testing.T, h http.Handler, ct string, sign func(ts string, body []byte) string) (int, verdict) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "upload.verify", "upload": map[string]any{
		"id": "upl_x", "subject": "alice", "key": "alice/upl_x.mp4", "size": 1, "content_type": ct,
		"metadata": map[string]string{}, "etag": "e", "download_url": "http://store.test/b/k?X-Amz-Signature=s3cr3t",
	}})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req := httptest.NewRequest("POST", "/verify", strings.NewReader(string(body)))
	req.Header.Set("X-Chute-Timestamp", ts)
	req.Header.Set("X-Chute-Signature", sign(ts, body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var v verdict
	if w.Code == 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("answer %q: %v", w.Body.String(), err)
		}
	}
	return w.Code, v
}

func goodSig(ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name, script, ct string
		status           int
		accept           bool
		reason           string
	}{
		{"short video", "echo 61.5", "video/mp4", 200, true, ""},
		{"long video", "echo 721.2", "video/mp4", 200, false, "the video is 12m1s long; at most 10m0s is allowed"},
		{"not a video", "echo 'Invalid data found when processing input' >&2; exit 1", "video/mp4", 200, false, "the file is not a video ffprobe can read"},
		{"no duration", "echo N/A", "video/mp4", 200, false, "the file is not a video ffprobe can read"},
		{"store refused", "echo 'Server returned 403 Forbidden (access denied)' >&2; exit 1", "video/mp4", 503, false, ""},
		{"not judged", "exit 7", "image/png", 200, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, args := fakeFFprobe(t, tc.script)
			status, v := post(t, newHook(bin), tc.ct, goodSig)
			if status != tc.status || (status == 200 && (v.Accept != tc.accept || v.Reason != tc.reason)) {
				t.Fatalf("answer %d %+v, want %d accept=%v reason %q", status, v, tc.status, tc.accept, tc.reason)
			}
			got, _ := os.ReadFile(args)
			if tc.ct == "video/mp4" && string(got) != "http://store.test/b/k?X-Amz-Signature=s3cr3t" {
				t.Fatalf("ffprobe was given %q, want the download_url", got)
			}
			if tc.ct != "video/mp4" && len(got) != 0 {
				t.Fatal("ffprobe ran for a type this hook does not judge")
			}
		})
	}
}

func TestFFprobeMissing(t *testing.T) {
	status, _ := post(t, newHook(filepath.Join(t.TempDir(), "no-ffprobe")), "video/mp4", goodSig)
	if status != 503 {
		t.Fatalf("status %d, want 503 (no verdict) when ffprobe cannot run", status)
	}
}

func TestProbeTimeout(t *testing.T) {
	bin, _ := fakeFFprobe(t, "sleep 5; echo 1")
	h := newHook(bin)
	h.probeFor = 200 * time.Millisecond
	start := time.Now()
	status, _ := post(t, h, "video/mp4", goodSig)
	if status != 503 || time.Since(start) > 3*time.Second {
		t.Fatalf("status %d after %v, want 503 soon after the probe timeout", status, time.Since(start))
	}
}

func TestSignature(t *testing.T) {
	bin, _ := fakeFFprobe(t, "echo 1")
	h := newHook(bin)
	for name, sign := range map[string]func(string, []byte) string{
		"wrong secret": func(ts string, body []byte) string {
			mac := hmac.New(sha256.New, []byte("other"))
			mac.Write([]byte(ts + "." + string(body)))
			return "sha256=" + hex.EncodeToString(mac.Sum(nil))
		},
		"body only": func(_ string, body []byte) string {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			return "sha256=" + hex.EncodeToString(mac.Sum(nil))
		},
		"none": func(string, []byte) string { return "" },
	} {
		if status, _ := post(t, h, "video/mp4", sign); status != 401 {
			t.Errorf("%s: status %d, want 401", name, status)
		}
	}
	h.now = func() time.Time { return time.Now().Add(10 * time.Minute) } // a replayed old request
	if status, _ := post(t, h, "video/mp4", goodSig); status != 401 {
		t.Errorf("old timestamp: status %d, want 401", status)
	}
}

func TestFirstLineHidesURL(t *testing.T) {
	got := firstLine("http://store.test/b/k?X-Amz-Signature=s3cr3t: Server returned 403 Forbidden\nmore")
	if strings.Contains(got, "s3cr3t") {
		t.Fatalf("firstLine kept the URL: %q", got)
	}
}
