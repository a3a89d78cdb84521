package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// fakeVerifier answers with answer, and records every request.
type fakeVerifier struct {
	mu     sync.Mutex
	asked  []VerifyRequest
	hooks  []VerifyHook
	answer func(ctx context.Context, req VerifyRequest) (Verdict, error)
}

func (f *fakeVerifier) Verify(ctx context.Context, hook VerifyHook, req VerifyRequest) (Verdict, error) {
	f.mu.Lock()
	f.asked = append(f.asked, req)
	f.hooks = append(f.hooks, hook)
	answer := f.answer
	f.mu.Unlock()
	return answer(ctx, req)
}

func (f *fakeVerifier) set(answer func(ctx context.Context, req VerifyRequest) (Verdict, error)) {
	f.mu.Lock()
	f.answer = answer
	f.mu.Unlock()
}

func (f *fakeVerifier) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func accept(context.Context, VerifyRequest) (Verdict, error) { return Verdict{Accept: true}, nil }

func rejectWith(reason string) func(context.Context, VerifyRequest) (Verdict, error) {
	return func(context.Context, VerifyRequest) (Verdict, error) { return Verdict{Reason: reason}, nil }
}

type verifyEnv struct {
	svc   *Service
	store *countingStore
	hook  *fakeVerifier
	sink  *sink
}

// newVerifyEnv returns a Service whose default profile has a verify hook
// (timeout 200ms) answered by a fakeVerifier.
func newVerifyEnv(t *testing.T, answer func(context.Context, VerifyRequest) (Verdict, error)) *verifyEnv {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	e := &verifyEnv{
		store: &countingStore{fakeStore: newFakeStore(), aborts: map[string]int{}, removes: map[string]int{}},
		hook:  &fakeVerifier{answer: answer},
		sink:  &sink{},
	}
	svc, err := New(Config{
		Profiles: map[string]Profile{
			"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB, PartSize: 5 * multipart.MiB,
				SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"video/*"}, URLTTL: 15 * time.Minute,
				KeyTemplate: "{subject}/{id}{ext}",
				Verify:      &VerifyHook{URL: "http://app.test/verify", Secret: "s3cret", Timeout: 200 * time.Millisecond}},
		},
		Backends: map[string]ObjectStore{"main": e.store},
		Sessions: sessions.NewRedisStore(rc),
		TTL:      time.Hour,
		Events:   e.sink,
		Verifier: e.hook,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// single creates a single upload of n bytes and stores its object.
func (e *verifyEnv) single(t *testing.T, n int64) *CreateResult {
	t.Helper()
	res, err := e.svc.Create(context.Background(), "alice", CreateRequest{
		Filename: "clip.mp4", ContentType: "video/mp4", Size: size(n), Metadata: map[string]string{"title": "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.store.putObject(res.Key, n, "video/mp4")
	return res
}

func (e *verifyEnv) state(t *testing.T, id string) *Status {
	t.Helper()
	st, err := e.svc.Status(context.Background(), "alice", id, false)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *verifyEnv) hasObject(key string) bool {
	e.store.fakeStore.mu.Lock()
	defer e.store.fakeStore.mu.Unlock()
	_, ok := e.store.objects[key]
	return ok
}

func TestVerifyAccept(t *testing.T) {
	e := newVerifyEnv(t, accept)
	ctx := context.Background()
	res := e.single(t, 1000)
	done, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != "completed" || e.hook.count() != 1 {
		t.Fatalf("complete %+v, hook asked %d times", done, e.hook.count())
	}
	req, hook := e.hook.asked[0], e.hook.hooks[0]
	u := req.Upload
	if req.Type != "upload.verify" || u.ID != res.ID || u.Subject != "alice" || u.Key != res.Key || u.Size != 1000 ||
		u.ContentType != "video/mp4" || u.Metadata["title"] != "t" || u.ETag == "" || u.ETag != done.ETag || u.Checksum != nil {
		t.Fatalf("request %+v", req)
	}
	if !strings.Contains(u.DownloadURL, res.Key) || !strings.HasPrefix(u.DownloadURL, "http://store.test/") {
		t.Fatalf("download_url %q", u.DownloadURL)
	}
	if hook.URL != "http://app.test/verify" || hook.Secret != "s3cret" {
		t.Fatalf("hook %+v", hook)
	}
	// A completed session is answered from the session: no second question.
	again, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	if err != nil || again.State != "completed" || again.ETag != done.ETag {
		t.Fatalf("second complete %+v %v", again, err)
	}
	if n := e.hook.count(); n != 1 {
		t.Fatalf("a completed session's complete asked the hook again (%d questions)", n)
	}
	if len(e.sink.ofType(EventCompleted)) != 1 || len(e.sink.ofType(EventRejected)) != 0 {
		t.Fatalf("events %+v", e.sink.events)
	}
}

func TestVerifyReject(t *testing.T) {
	const reason = "video is 12 minutes long; at most 10 allowed"
	e := newVerifyEnv(t, rejectWith(reason))
	ctx := context.Background()
	res := e.single(t, 1000)
	_, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeRejected)
	if ErrorMessage(err) != reason {
		t.Fatalf("message %q, want the reason %q", ErrorMessage(err), reason)
	}
	if e.hasObject(res.Key) {
		t.Fatal("a rejected upload's object is still in the store")
	}
	st := e.state(t, res.ID)
	if st.State != "rejected" || st.Reason != reason {
		t.Fatalf("status %+v", st)
	}
	evs := e.sink.ofType(EventRejected)
	if len(evs) != 1 || evs[0].Upload.ID != res.ID || evs[0].Upload.Reason != reason || evs[0].ID != res.ID+":upload.rejected" {
		t.Fatalf("events %+v", e.sink.events)
	}
	if len(e.sink.ofType(EventCompleted)) != 0 {
		t.Fatal("a rejected upload was announced as completed")
	}

	// Complete again: 422 rejected with the reason, and the hook is not asked.
	_, err = e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeRejected)
	if ErrorMessage(err) != reason || e.hook.count() != 1 {
		t.Fatalf("second complete: %v (hook asked %d times)", err, e.hook.count())
	}
	// The session is over: no download, no abort, no parts.
	_, err = e.svc.DownloadURL(ctx, "alice", res.ID)
	wantCode(t, err, CodeConflict)
	_, err = e.svc.Abort(ctx, "alice", res.ID)
	wantCode(t, err, CodeConflict)
}

func TestVerifyRejectWithoutReason(t *testing.T) {
	e := newVerifyEnv(t, rejectWith(" \t"))
	res := e.single(t, 10)
	_, err := e.svc.Complete(context.Background(), "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeRejected)
	if ErrorMessage(err) != "the application rejected the upload" {
		t.Fatalf("message %q", ErrorMessage(err))
	}
}

// TestVerifyNoVerdict: an error, a timeout or a hook that answers after
// its timeout leaves the session open with its object; a retried complete
// asks again.
func TestVerifyNoVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(context.Context, VerifyRequest) (Verdict, error)
		msg    string
	}{
		{"error", func(context.Context, VerifyRequest) (Verdict, error) {
			return Verdict{}, errors.New("verify hook http://app.test/verify: answered status 500, not 200")
		}, "did not give a verdict"},
		{"timeout", func(ctx context.Context, _ VerifyRequest) (Verdict, error) {
			<-ctx.Done()
			return Verdict{}, ctx.Err()
		}, "did not answer within 200ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newVerifyEnv(t, tc.answer)
			ctx := context.Background()
			res := e.single(t, 1000)
			start := time.Now()
			_, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
			wantCode(t, err, CodeStorageUnavailable)
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("complete took %v with a 200ms hook timeout", took)
			}
			if msg := ErrorMessage(err); !strings.Contains(msg, tc.msg) || !strings.Contains(msg, "retry") {
				t.Fatalf("message %q, want %q", msg, tc.msg)
			}
			if st := e.state(t, res.ID); st.State != "pending" {
				t.Fatalf("state %q after no verdict, want pending (open)", st.State)
			}
			if !e.hasObject(res.Key) {
				t.Fatal("the object went away without a verdict")
			}
			if len(e.sink.events) != 0 {
				t.Fatalf("events after no verdict: %+v", e.sink.events)
			}
			e.hook.set(accept)
			done, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
			if err != nil || done.State != "completed" {
				t.Fatalf("retried complete: %+v %v", done, err)
			}
			if n := e.hook.count(); n != 2 {
				t.Fatalf("hook asked %d times, want 2", n)
			}
		})
	}
}

// TestVerifyMultipart: the hook is asked after CompleteMultipartUpload;
// a retry after no verdict finds the object completed by the first try
// and asks again; a rejection removes the object.
func TestVerifyMultipart(t *testing.T) {
	e := newVerifyEnv(t, func(context.Context, VerifyRequest) (Verdict, error) {
		return Verdict{}, errors.New("connection refused")
	})
	ctx := context.Background()
	res, err := e.svc.Create(ctx, "alice", CreateRequest{Filename: "long.mp4", ContentType: "video/mp4", Size: size(12 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}
	uploadID := func() string {
		e.store.fakeStore.mu.Lock()
		defer e.store.fakeStore.mu.Unlock()
		for id := range e.store.uploads {
			return id
		}
		return ""
	}()
	plan, _ := multipart.NewPlan(12*multipart.MiB, 5*multipart.MiB)
	for n := 1; n <= plan.PartCount; n++ {
		etag := e.store.putPart(uploadID, n, plan.PartSizeOf(n))
		if _, err := e.svc.ReportPart(ctx, "alice", res.ID, n, ReportRequest{ETag: etag, Size: size(plan.PartSizeOf(n))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeStorageUnavailable)
	if st := e.state(t, res.ID); st.State != "uploading" || !e.hasObject(res.Key) {
		t.Fatalf("after no verdict: state %q, object %v", st.State, e.hasObject(res.Key))
	}
	e.hook.set(rejectWith("too long"))
	_, err = e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeRejected)
	if e.hasObject(res.Key) || e.hook.count() != 2 || e.hook.asked[1].Upload.Size != 12*multipart.MiB {
		t.Fatalf("after reject: object %v, asked %d, request %+v", e.hasObject(res.Key), e.hook.count(), e.hook.asked)
	}
	if st := e.state(t, res.ID); st.State != "rejected" || st.Reason != "too long" {
		t.Fatalf("status %+v", st)
	}
	if e.store.completes.Load() != 1 {
		t.Fatalf("CompleteMultipartUpload ran %d times, want 1", e.store.completes.Load())
	}
}

// TestVerifyRejectStoreDown: when the rejected object cannot be removed,
// the session stays open (503) and a retry asks again.
func TestVerifyRejectStoreDown(t *testing.T) {
	e := newVerifyEnv(t, nil)
	res := e.single(t, 10)
	// The store fails from the removal on: the hook is asked first.
	e.hook.set(func(context.Context, VerifyRequest) (Verdict, error) {
		e.store.setFail(ErrUnavailable)
		return Verdict{Reason: "no"}, nil
	})
	_, err := e.svc.Complete(context.Background(), "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeStorageUnavailable)
	if st := e.state(t, res.ID); st.State != "pending" {
		t.Fatalf("state %q, want pending", st.State)
	}
	if len(e.sink.events) != 0 {
		t.Fatalf("events %+v", e.sink.events)
	}
	e.store.setFail(nil)
	e.hook.set(rejectWith("no"))
	_, err = e.svc.Complete(context.Background(), "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeRejected)
	if e.hasObject(res.Key) {
		t.Fatal("object still there")
	}
}

func TestVerifyWiring(t *testing.T) {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	cfg := func(h *VerifyHook, v Verifier) Config {
		return Config{
			Profiles: map[string]Profile{"default": {Name: "default", Backend: "main", MaxSize: 1, PartSize: 1,
				URLTTL: time.Minute, Verify: h}},
			Backends: map[string]ObjectStore{"main": newFakeStore()},
			Sessions: sessions.NewRedisStore(rc), TTL: time.Hour, Verifier: v,
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no verifier", cfg(&VerifyHook{URL: "http://a.test"}, nil), "no Verifier"},
		{"no url", cfg(&VerifyHook{}, &fakeVerifier{}), "without a URL"},
		{"too slow", cfg(&VerifyHook{URL: "http://a.test", Timeout: 2 * time.Minute}, &fakeVerifier{}), "shorter than the complete timeout"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(cfg(&VerifyHook{URL: "http://a.test"}, &fakeVerifier{})); err != nil {
		t.Errorf("default timeout: %v", err)
	}
}

func TestCleanReason(t *testing.T) {
	long := strings.Repeat("é", MaxReasonBytes) // 2 bytes each
	for _, tc := range []struct{ in, want string }{
		{"  too long\n", "too long"},
		{"a\x00b\x1bc", "a b c"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"", ""},
	} {
		if got := cleanReason(tc.in); got != tc.want {
			t.Errorf("cleanReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := cleanReason(long)
	if len(got) > MaxReasonBytes || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("cleanReason(long) = %d bytes, %q…", len(got), got[:8])
	}
}

// TestVerifyNoVerdictThenEnd: an upload whose hook gave no verdict and
// that then ends without completing (abort, expiry) leaves no object:
// the object its complete made was never accepted.
func TestVerifyNoVerdictThenEnd(t *testing.T) {
	down := func(context.Context, VerifyRequest) (Verdict, error) {
		return Verdict{}, errors.New("connection refused")
	}
	ctx := context.Background()

	t.Run("abort", func(t *testing.T) {
		e := newVerifyEnv(t, down)
		res := e.single(t, 100)
		_, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
		wantCode(t, err, CodeStorageUnavailable)
		if !e.hasObject(res.Key) {
			t.Fatal("no object after the complete")
		}
		if _, err := e.svc.Abort(ctx, "alice", res.ID); err != nil {
			t.Fatal(err)
		}
		if e.hasObject(res.Key) {
			t.Fatal("an aborted upload's unverified object is still in the store")
		}
	})

	t.Run("expiry", func(t *testing.T) {
		e := newVerifyEnv(t, down)
		res := e.single(t, 100)
		_, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
		wantCode(t, err, CodeStorageUnavailable)
		sess, err := e.svc.sessions.Get(ctx, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.discardUpload(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if e.hasObject(res.Key) {
			t.Fatal("an expired upload's unverified object is still in the store")
		}
	})

	t.Run("another object at the key", func(t *testing.T) {
		e := newVerifyEnv(t, down)
		res := e.single(t, 100)
		_, err := e.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
		wantCode(t, err, CodeStorageUnavailable)
		// Someone else's object replaces it (a profile that allows it).
		e.store.fakeStore.mu.Lock()
		e.store.objects[res.Key] = ObjectInfo{Size: 5, ETag: "other"}
		e.store.fakeStore.mu.Unlock()
		if _, err := e.svc.Abort(ctx, "alice", res.ID); err != nil {
			t.Fatal(err)
		}
		if !e.hasObject(res.Key) {
			t.Fatal("abort removed an object its upload did not make")
		}
	})

	t.Run("no verify, no removal", func(t *testing.T) {
		// Without an ETag recorded (no complete ran), abort removes nothing
		// at the key.
		e := newVerifyEnv(t, down)
		res := e.single(t, 100)
		e.store.fakeStore.mu.Lock()
		e.store.objects[res.Key] = ObjectInfo{Size: 100, ETag: "someone-elses"}
		e.store.fakeStore.mu.Unlock()
		if _, err := e.svc.Abort(ctx, "alice", res.ID); err != nil {
			t.Fatal(err)
		}
		if !e.hasObject(res.Key) || e.store.removes[res.Key] != 0 {
			t.Fatalf("abort without a complete touched the key (%d removes)", e.store.removes[res.Key])
		}
	})
}
