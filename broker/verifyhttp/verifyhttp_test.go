package verifyhttp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/checksum"
)

const secret = "verify-secret-0123"

// received is one request as the hook saw it.
type received struct {
	header http.Header
	body   []byte
	query  string
}

// hookServer answers every request with handle and records it.
type hookServer struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newHook(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, received{header: r.Header.Clone(), body: body, query: r.URL.RawQuery})
		h.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func answer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func request() broker.VerifyRequest {
	return broker.VerifyRequest{Type: broker.EventVerify, Upload: broker.VerifyUpload{
		ID: "upl_x", Subject: "alice", Key: "alice/upl_x.mp4", Size: 42, ContentType: "video/mp4",
		Metadata: map[string]string{"title": "<hi>"}, ETag: "9b2cf5",
		Checksum:    &checksum.Value{Algorithm: checksum.SHA256, Value: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
		DownloadURL: "http://store.test/b/alice/upl_x.mp4?X-Amz-Signature=presigned-secret&X-Amz-Expires=90",
	}}
}

func hookOf(h *hookServer, timeout time.Duration) broker.VerifyHook {
	return broker.VerifyHook{URL: h.URL + "/verify?token=app-token", Secret: secret, Timeout: timeout}
}

func call(t *testing.T, h *hookServer, timeout time.Duration) (broker.Verdict, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return New(nil).Verify(ctx, hookOf(h, timeout), request())
}

// TestVerifyRequest: the receiver can check the signature exactly as it
// checks a webhook's, and the body has the contract's fields.
func TestVerifyRequest(t *testing.T) {
	h := newHook(t, answer(200, `{"accept": true}`))
	before := time.Now().Unix()
	v, err := call(t, h, time.Second)
	if err != nil || !v.Accept {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	if len(h.got) != 1 {
		t.Fatalf("%d requests", len(h.got))
	}
	r := h.got[0]
	ts := r.header.Get("X-Chute-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < before || sec > time.Now().Unix() {
		t.Fatalf("X-Chute-Timestamp %q", ts)
	}
	// The receiver's own check, written from the documentation.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.header.Get("X-Chute-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Fatalf("X-Chute-Signature %q, want %q", got, want)
	}
	if r.header.Get("X-Chute-Event") != "upload.verify" || r.header.Get("Content-Type") != "application/json" || r.query != "token=app-token" {
		t.Fatalf("headers %v, query %q", r.header, r.query)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	up, _ := body["upload"].(map[string]any)
	if body["type"] != "upload.verify" || up == nil {
		t.Fatalf("body %s", r.body)
	}
	for _, k := range []string{"id", "subject", "key", "size", "content_type", "metadata", "etag", "checksum", "download_url"} {
		if _, ok := up[k]; !ok {
			t.Errorf("body lacks upload.%s: %s", k, r.body)
		}
	}
	if up["download_url"] != request().Upload.DownloadURL || up["size"] != float64(42) {
		t.Errorf("body %s", r.body)
	}
	if sum, _ := up["checksum"].(map[string]any); sum["algorithm"] != "SHA256" || sum["value"] == "" {
		t.Errorf("checksum %v", up["checksum"])
	}
	if want, _ := Body(request()); string(want) != string(r.body) {
		t.Errorf("Body() differs from what was sent:\n%s\n%s", want, r.body)
	}
}

func TestVerifyUnsigned(t *testing.T) {
	h := newHook(t, answer(200, `{"accept": true}`))
	hook := hookOf(h, time.Second)
	hook.Secret = ""
	if _, err := New(nil).Verify(context.Background(), hook, request()); err != nil {
		t.Fatal(err)
	}
	if sig := h.got[0].header.Get("X-Chute-Signature"); sig != "" {
		t.Fatalf("signed without a secret: %q", sig)
	}
}

func TestVerifyReject(t *testing.T) {
	h := newHook(t, answer(200, `{"accept": false, "reason": "video is 12 minutes long", "extra": 1}`))
	v, err := call(t, h, time.Second)
	if err != nil || v.Accept || v.Reason != "video is 12 minutes long" {
		t.Fatalf("verdict %+v, %v", v, err)
	}
}

// TestVerifyNoVerdict: everything but a 200 with a boolean accept is an
// error, and no error names the secret, the hook's query or the
// download URL.
func TestVerifyNoVerdict(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		answer(200, `{"accept": true}`)(w, r)
	}
	redirect := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}
	for _, tc := range []struct {
		name   string
		handle func(http.ResponseWriter, *http.Request)
		want   string
	}{
		{"500", answer(500, `{"accept": true}`), "status 500"},
		{"201", answer(201, `{"accept": true}`), "status 201"},
		{"redirect", redirect, "status 302"},
		{"bad JSON", answer(200, `{"accept": tru`), "not the expected JSON"},
		{"accept not a boolean", answer(200, `{"accept": "yes"}`), "not the expected JSON"},
		{"no accept", answer(200, `{"reason": "fine"}`), `no boolean "accept"`},
		{"empty", answer(200, ``), "not the expected JSON"},
		{"huge", answer(200, `{"accept": true, "pad": "`+strings.Repeat("x", maxAnswer)+`"}`), "answer over"},
		{"timeout", slow, "no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHook(t, tc.handle)
			start := time.Now()
			v, err := call(t, h, 300*time.Millisecond)
			if err == nil {
				t.Fatalf("verdict %+v, want an error", v)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("took %v with a 300ms timeout", took)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			if tc.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a timeout is not DeadlineExceeded: %v", err)
			}
			for _, s := range []string{secret, "app-token", "presigned-secret"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q holds %q", err, s)
				}
			}
		})
	}
}

func TestVerifyRefused(t *testing.T) {
	h := newHook(t, answer(200, `{"accept": true}`))
	hook := hookOf(h, time.Second)
	h.Close() // nothing listens any more
	_, err := New(nil).Verify(context.Background(), hook, request())
	if err == nil || !strings.Contains(err.Error(), "request failed") || strings.Contains(err.Error(), "app-token") {
		t.Fatalf("error %v", err)
	}
}
