package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

const verifySecret = "verify-hook-secret-7"

// verifyBody is a verify request as the application decodes it.
type verifyBody struct {
	Type   string `json:"type"`
	Upload struct {
		ID          string            `json:"id"`
		Subject     string            `json:"subject"`
		Key         string            `json:"key"`
		Size        int64             `json:"size"`
		ContentType string            `json:"content_type"`
		Metadata    map[string]string `json:"metadata"`
		ETag        string            `json:"etag"`
		DownloadURL string            `json:"download_url"`
	} `json:"upload"`
}

// verifyApp is the application's verify hook. It checks each request's
// signature as a receiver would, downloads the object through the
// download_url it was given, and answers as its mode says.
type verifyApp struct {
	srv    *httptest.Server
	mu     sync.Mutex
	mode   string // accept, reject, 500, drop (close the connection), hang
	reason string
	asked  map[string]int        // upload id → requests
	last   map[string]verifyBody // upload id → last request
	got    map[string][]byte     // upload id → bytes read from download_url
	bad    []string
}

func newVerifyApp(t *testing.T) *verifyApp {
	a := &verifyApp{mode: "accept", asked: map[string]int{}, last: map[string]verifyBody{}, got: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *verifyApp) set(mode, reason string) {
	a.mu.Lock()
	a.mode, a.reason = mode, reason
	a.mu.Unlock()
}

func (a *verifyApp) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.asked[id]
}

func (a *verifyApp) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Chute-Timestamp")
	mac := hmac.New(sha256.New, []byte(verifySecret))
	mac.Write([]byte(ts + "." + string(raw)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var body verifyBody
	err := json.Unmarshal(raw, &body)
	a.mu.Lock()
	switch {
	case !hmac.Equal([]byte(r.Header.Get("X-Chute-Signature")), []byte(want)):
		a.bad = append(a.bad, "bad signature")
	case r.Header.Get("X-Chute-Event") != "upload.verify" || r.URL.Query().Get("token") != "v-token":
		a.bad = append(a.bad, "wrong X-Chute-Event or URL")
	case err != nil || body.Type != "upload.verify" || body.Upload.ID == "":
		a.bad = append(a.bad, fmt.Sprintf("body %s: %v", raw, err))
	}
	a.asked[body.Upload.ID]++
	a.last[body.Upload.ID] = body
	mode, reason := a.mode, a.reason
	a.mu.Unlock()

	// What an application does with download_url: read the object.
	if resp, err := http.Get(body.Upload.DownloadURL); err == nil {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			a.mu.Lock()
			a.got[body.Upload.ID] = data
			a.mu.Unlock()
		}
	}

	switch mode {
	case "accept":
		_, _ = io.WriteString(w, `{"accept": true}`)
	case "reject":
		_ = json.NewEncoder(w).Encode(map[string]any{"accept": false, "reason": reason})
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"accept": true}`)
	case "drop": // the hook's process dies mid-request
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
}

func (a *verifyApp) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bad) > 0 {
		t.Fatalf("the verify hook refused requests: %v", a.bad)
	}
}

// TestVerifyHook runs the verify hook contract against chute serve with
// Redis and the run's store: accept, reject (object gone, state rejected,
// 422, upload.rejected delivered), no verdict (503, session open, a retry
// asks again), and a completed session is never asked again.
func TestVerifyHook(t *testing.T) {
	app := newVerifyApp(t)
	rcv := newHookReceiver(t)
	example := freeAddr(t) // examples/verifyhook, started by its subtest
	env, cfgPath, store := webhookEnv(t, fmt.Sprintf(`profiles:
  default:
    part_size: 5MiB
    single_max: 1MiB
    verify: { url: %q, timeout: 2s }
  videos:
    allowed_types: ["video/*"]
    verify: { url: "http://%s/verify", secret: %q, timeout: 10s }
webhooks:
  - url: %q
    events: ["upload.rejected"]
webhook_delivery: { timeout: 1s, backoff: 100ms, max_backoff: 500ms }
`, app.srv.URL+"/verify?token=v-token", example, verifySecret, rcv.srv.URL+"/hook?token=q-secret"))
	// The hook's secret comes from the environment.
	env = append(env, "CHUTE_PROFILES_DEFAULT_VERIFY_SECRET="+verifySecret)
	p := launchServe(t, env, cfgPath, store)
	tg := p.tg
	tok := tg.token(t, "alice")
	ctx := context.Background()

	// single creates and PUTs a single upload; it returns it and its bytes.
	single := func(t *testing.T) (created, []byte) {
		t.Helper()
		data := randomBytes(t, 64<<10)
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
			"filename": "clip.mp4", "content_type": "video/mp4", "size": len(data), "metadata": map[string]string{"title": "holiday"},
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		var c created
		r.decode(t, &c)
		if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
			t.Fatalf("PUT: %d", st)
		}
		return c, data
	}
	complete := func(t *testing.T, id string) reply {
		t.Helper()
		return tg.call(t, tok, "POST", "/v1/uploads/"+id+"/complete", nil)
	}
	state := func(t *testing.T, id string) map[string]any {
		t.Helper()
		r := tg.call(t, tok, "GET", "/v1/uploads/"+id, nil)
		if r.status != 200 {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		var st map[string]any
		r.decode(t, &st)
		return st
	}
	stored := func(t *testing.T, key string) bool {
		t.Helper()
		_, err := tg.store.StatObject(ctx, tg.bucket, key, minio.StatObjectOptions{})
		if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
			t.Fatalf("stat %s: %v", key, err)
		}
		return err == nil
	}

	t.Run("accept", func(t *testing.T) {
		app.set("accept", "")
		c, data := single(t)
		r := complete(t, c.ID)
		if r.status != 200 {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		var done completed
		r.decode(t, &done)
		app.check(t)
		if done.State != "completed" || app.count(c.ID) != 1 {
			t.Fatalf("complete %+v, hook asked %d times", done, app.count(c.ID))
		}
		app.mu.Lock()
		body, got := app.last[c.ID], app.got[c.ID]
		app.mu.Unlock()
		u := body.Upload
		if u.Subject != "alice" || u.Key != c.Key || u.Size != int64(len(data)) || u.ContentType != "video/mp4" ||
			u.Metadata["title"] != "holiday" || u.ETag == "" || strings.Trim(u.ETag, `"`) != strings.Trim(done.ETag, `"`) {
			t.Fatalf("verify request %+v, completed %+v", u, done)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("the hook read %d bytes through download_url, want the %d uploaded", len(got), len(data))
		}
		// Completing again answers from the session: the hook is not asked.
		for range 2 {
			if r := complete(t, c.ID); r.status != 200 {
				t.Fatalf("complete again: %d %s", r.status, r.body)
			}
		}
		if n := app.count(c.ID); n != 1 {
			t.Fatalf("a completed session asked the hook %d times", n)
		}
		if !stored(t, c.Key) || state(t, c.ID)["state"] != "completed" {
			t.Fatal("accepted upload not completed in the store")
		}
	})

	t.Run("reject", func(t *testing.T) {
		const reason = "video is 12 minutes long; at most 10 allowed"
		app.set("reject", reason)
		c, data := single(t)
		r := complete(t, c.ID)
		if r.status != http.StatusUnprocessableEntity || r.errCode(t) != "rejected" {
			t.Fatalf("complete: %d %s, want 422 rejected", r.status, r.body)
		}
		var e struct{ Error struct{ Message string } }
		r.decode(t, &e)
		if e.Error.Message != reason {
			t.Fatalf("message %q, want the reason %q", e.Error.Message, reason)
		}
		app.check(t)
		if stored(t, c.Key) || len(tg.objects(t, c.Key)) != 0 || len(tg.incomplete(t, c.Key)) != 0 {
			t.Fatal("a rejected upload left something in the store")
		}
		if st := state(t, c.ID); st["state"] != "rejected" || st["reason"] != reason {
			t.Fatalf("status %v", st)
		}
		ev := rcv.wait(t, c.ID+":upload.rejected")
		if ev.Type != "upload.rejected" || ev.Upload.ID != c.ID || ev.Upload.Key != c.Key || ev.Upload.Reason != reason {
			t.Fatalf("event %+v", ev)
		}
		// Complete again: the same answer, without asking the hook.
		if r := complete(t, c.ID); r.status != 422 || r.errCode(t) != "rejected" || !strings.Contains(string(r.body), reason) {
			t.Fatalf("complete again: %d %s", r.status, r.body)
		}
		if n := app.count(c.ID); n != 1 {
			t.Fatalf("hook asked %d times, want 1", n)
		}
		// The session's URL died with it: the old PUT leaves nothing.
		if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st == 200 {
			t.Errorf("the rejected upload's URL still takes a PUT")
		}
		if stored(t, c.Key) {
			t.Fatal("an object is back at a rejected upload's key")
		}
		if r := tg.call(t, tok, "GET", "/v1/uploads/"+c.ID+"/download-url", nil); r.status != 409 {
			t.Fatalf("download-url of a rejected upload: %d %s", r.status, r.body)
		}
	})

	// no verdict: the hook fails in each way, complete answers 503 and the
	// session stays open with its object; once the hook works, a retried
	// complete asks it again and completes.
	for _, mode := range []string{"drop", "500", "hang"} {
		t.Run("no verdict "+mode, func(t *testing.T) {
			app.set(mode, "")
			c, data := single(t)
			start := time.Now()
			r := complete(t, c.ID)
			took := time.Since(start)
			if r.status != http.StatusServiceUnavailable || r.errCode(t) != "storage_unavailable" {
				t.Fatalf("complete: %d %s, want 503", r.status, r.body)
			}
			if !strings.Contains(string(r.body), "verify hook") {
				t.Errorf("the 503 does not say the verify hook failed: %s", r.body)
			}
			if mode == "hang" && (took < 2*time.Second || took > 8*time.Second) {
				t.Errorf("complete with a hanging hook took %v, want about the 2s timeout", took)
			}
			if st := state(t, c.ID); st["state"] != "pending" && st["state"] != "uploading" {
				t.Fatalf("state %v after no verdict, want open", st["state"])
			}
			app.set("accept", "")
			r = complete(t, c.ID)
			if r.status != 200 {
				t.Fatalf("retried complete: %d %s", r.status, r.body)
			}
			if n := app.count(c.ID); n != 2 {
				t.Fatalf("hook asked %d times, want 2", n)
			}
			var done completed
			r.decode(t, &done)
			if !bytes.Equal(download(t, done.Download.URL), data) {
				t.Fatal("completed object differs from the upload")
			}
			app.check(t)
		})
	}

	t.Run("no verdict then abort", func(t *testing.T) {
		app.set("500", "")
		c, _ := single(t)
		if r := complete(t, c.ID); r.status != http.StatusServiceUnavailable {
			t.Fatalf("complete: %d %s, want 503", r.status, r.body)
		}
		if !stored(t, c.Key) {
			t.Fatal("the object is not at the key after the complete")
		}
		if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+c.ID, nil); r.status != 200 {
			t.Fatalf("abort: %d %s", r.status, r.body)
		}
		if stored(t, c.Key) {
			t.Fatal("an aborted upload's unverified object is still at its key")
		}
	})

	t.Run("chute upload", func(t *testing.T) {
		app.set("reject", "no cats allowed")
		path := filepath.Join(t.TempDir(), "cat.mp4")
		if err := os.WriteFile(path, randomBytes(t, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		env := []string{"CHUTE_SERVER=" + tg.base, "CHUTE_TOKEN=" + tok}
		code, out, errOut := runCLI(t, env, "upload", path)
		if code == 0 || !strings.Contains(errOut, "upload rejected: no cats allowed") || strings.Contains(errOut, "resume with") {
			t.Fatalf("chute upload of a rejected file: exit %d\n%s\n%s", code, out, errOut)
		}
		id := regexp.MustCompile(`upl_[a-z0-9]+`).FindString(errOut)
		code, out, errOut = runCLI(t, env, "status", id)
		if code != 0 || !strings.Contains(out, "state:    rejected") || !strings.Contains(out, "reason:   no cats allowed") {
			t.Fatalf("chute status of a rejected upload: exit %d\n%s\n%s", code, out, errOut)
		}
	})

	t.Run("demo page", func(t *testing.T) {
		chromium := demoNeedBrowser(t)
		app.set("reject", "the clip shows a cat; only dogs here")
		path := filepath.Join(t.TempDir(), "pet.mp4")
		if err := os.WriteFile(path, randomBytes(t, 3000), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "reject.mjs")
		cmd.Dir = demoDriverDir
		cmd.Env = append(os.Environ(), "CHUTE_URL="+tg.base, "CHUTE_TOKEN="+tok, "FILE="+path, "CHROMIUM="+chromium)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("driver: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
		var got struct {
			State, Text, Reason        string
			ResumeHidden, CancelHidden bool
		}
		if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
			t.Fatalf("driver output %q: %v", stdout.String(), err)
		}
		if got.State != "rejected" || got.Text != "Rejected: the clip shows a cat; only dogs here" ||
			got.Reason != "the clip shows a cat; only dogs here" || !got.ResumeHidden || !got.CancelHidden {
			t.Fatalf("the page shows %+v", got)
		}
	})

	// The worked example of docs/verify.md, as a user runs it: the
	// examples/verifyhook program, with a stand-in ffprobe that reads the
	// duration the test file declares through the download_url.
	t.Run("worked example", func(t *testing.T) {
		dir := t.TempDir()
		for _, b := range [][2]string{{"verifyhook", "../examples/verifyhook"}, {"ffprobe", "./testdata/fakeffprobe"}} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1]).CombinedOutput(); err != nil {
				t.Fatalf("build %s: %v\n%s", b[1], err, out)
			}
		}
		var logs syncBuffer
		cmd := exec.Command(filepath.Join(dir, "verifyhook"), "-listen", example, "-max-duration", "10m",
			"-ffprobe", filepath.Join(dir, "ffprobe"), "-probe-timeout", "5s")
		cmd.Env = append(os.Environ(), "CHUTE_VERIFY_SECRET="+verifySecret)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if resp, err := http.Get("http://" + example + "/verify"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("verifyhook not listening:\n%s", logs.String())
			}
		}
		upload := func(name, content string) reply {
			r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
				"filename": name, "content_type": "video/mp4", "size": len(content), "profile": "videos",
			})
			if r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			var c created
			r.decode(t, &c)
			if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, []byte(content)); st != 200 {
				t.Fatalf("PUT: %d", st)
			}
			return complete(t, c.ID)
		}
		if r := upload("short.mp4", "DURATION=61.5\nframes…"); r.status != 200 {
			t.Fatalf("a 61 s video: %d %s\n%s", r.status, r.body, logs.String())
		}
		r := upload("long.mp4", "DURATION=723.2\nframes…")
		if r.status != 422 || r.errCode(t) != "rejected" || !strings.Contains(string(r.body), "the video is 12m3s long; at most 10m0s is allowed") {
			t.Fatalf("a 12 min video: %d %s\n%s", r.status, r.body, logs.String())
		}
		if r := upload("junk.mp4", "not a video"); r.status != 422 || !strings.Contains(string(r.body), "not a video ffprobe can read") {
			t.Fatalf("not a video: %d %s", r.status, r.body)
		}
		if strings.Contains(logs.String(), "X-Amz-Signature") {
			t.Errorf("the example logged a download URL:\n%s", logs.String())
		}
	})

	t.Run("uppy route", func(t *testing.T) {
		// The Uppy-compatible complete asks the hook too.
		app.set("reject", "no thanks")
		ep := "/t/" + tok
		c := uppyCreate(t, tg, ep, "clip.bin")
		// One part of 5 MiB: a one-part Uppy upload under 5 MiB fails at
		// complete (500: the plan learned from its part is refused by
		// multipart.Plan), before any hook is asked; not this test's topic.
		etag := uppySignAndPut(t, tg, ep, c, 1, randomBytes(t, 5<<20))
		r := tg.call(t, "", "POST", ep+"/s3/multipart/"+c.UploadID+"/complete?"+url.Values{"key": {c.Key}}.Encode(),
			map[string]any{"parts": []map[string]any{{"PartNumber": 1, "ETag": etag}}})
		if r.status != 422 || r.errCode(t) != "rejected" || !strings.Contains(string(r.body), "no thanks") {
			t.Fatalf("Uppy complete: %d %s", r.status, r.body)
		}
		if stored(t, c.Key) || app.count(c.UploadID) != 1 {
			t.Fatalf("after an Uppy rejection: object %v, hook asked %d times", stored(t, c.Key), app.count(c.UploadID))
		}
	})

	t.Run("multipart reject", func(t *testing.T) {
		app.set("reject", "too long")
		size := int64(7 << 20)
		data := randomBytes(t, size)
		c := create(t, tg, tok, "long.mp4", "video/mp4", size)
		if c.Strategy != "multipart" || c.PartCount != 2 {
			t.Fatalf("plan %+v", c)
		}
		uploadParts(t, tg, tok, c, data, allPartURLs(t, tg, tok, c), 2, true)
		r := complete(t, c.ID)
		if r.status != 422 || r.errCode(t) != "rejected" {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		app.mu.Lock()
		got := app.got[c.ID]
		app.mu.Unlock()
		if !bytes.Equal(got, data) {
			t.Fatalf("the hook read %d bytes of the completed multipart object, want %d", len(got), size)
		}
		if stored(t, c.Key) || len(tg.incomplete(t, c.Key)) != 0 {
			t.Fatal("a rejected multipart upload left something in the store")
		}
		rcv.wait(t, c.ID+":upload.rejected")
	})

	for _, s := range []string{verifySecret, "v-token", "X-Amz-Signature="} {
		if tg.grep(s) {
			t.Errorf("chute's output holds %q", s)
		}
	}
}
