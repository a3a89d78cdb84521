package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/test/containers"
)

// quotaYAML gives profile "default" an open quota of 50 MiB and profile
// "daily" a daily quota of 25 MiB; both are per subject.
const quotaYAML = `profiles:
  default:
    max_size: 1GiB
    quotas:
      open_bytes: 50MiB
  daily:
    max_size: 1GiB
    quotas:
      daily_bytes: 25MiB
limits:
  rate: 1000
  burst: 1000
`

// startReplicas runs n `chute serve` processes on one Redis and one store,
// all with yaml.
func startReplicas(t *testing.T, n int, yaml string) []*target {
	t.Helper()
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out []*target
	for range n {
		addr := freeAddr(t)
		env := append([]string{"CHUTE_SERVER_LISTEN=" + addr, "CHUTE_SERVER_PUBLIC_URL=http://" + addr}, serveEnv(redisURL, s3)...)
		logs := startChute(t, addr, env, "serve", "--config", path)
		out = append(out, &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs})
	}
	return out
}

// rawAnswer is an API answer with its headers, read without failing the
// test (safe in any goroutine).
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (tg *target) rawJSON(t testing.TB, token, method, path string, body any) rawAnswer {
	js, _ := json.Marshal(body)
	req, err := http.NewRequest(method, tg.base+path, bytes.NewReader(js))
	if err != nil {
		return rawAnswer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawAnswer{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if validateResponse != nil {
		validateResponse(t, method, path, resp.StatusCode, resp.Header, data)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: data, err: err}
}

// apiError decodes Chute's error body ("" code when it is not one).
func apiError(body []byte) (code, msg string) {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code, e.Error.Message
}

type quotaCreate struct {
	ID     string `json:"id"`
	Upload *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"upload"`
}

func createBody(profile string, size int64) map[string]any {
	return map[string]any{"filename": "q.bin", "content_type": "application/octet-stream", "size": size, "profile": profile}
}

// mustCreate creates a single upload of size bytes and returns it.
func mustCreate(t *testing.T, tg *target, token, profile string, size int64) quotaCreate {
	t.Helper()
	r := tg.call(t, token, "POST", "/v1/uploads", createBody(profile, size))
	if r.status != 201 {
		t.Fatalf("create %d bytes (%s): %d %s", size, profile, r.status, r.body)
	}
	var c quotaCreate
	r.decode(t, &c)
	return c
}

// uploadAndComplete sends size bytes to c's single-PUT URL and completes it.
func uploadAndComplete(t *testing.T, tg *target, token string, c quotaCreate, size int64) {
	t.Helper()
	if c.Upload == nil {
		t.Fatalf("create %s: not a single upload", c.ID)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, bytes.Repeat([]byte{'q'}, int(size))); st != 200 {
		t.Fatalf("PUT of %s: %d", c.ID, st)
	}
	if r := tg.call(t, token, "POST", "/v1/uploads/"+c.ID+"/complete", nil); r.status != 200 {
		t.Fatalf("complete %s: %d %s", c.ID, r.status, r.body)
	}
}

// wantQuotaRefusal checks a create answer is 429 quota_exceeded naming
// the quota and the numbers.
func wantQuotaRefusal(t *testing.T, a rawAnswer, parts ...string) {
	t.Helper()
	code, msg := apiError(a.body)
	if a.status != 429 || code != "quota_exceeded" {
		t.Fatalf("answer %d %s, want 429 quota_exceeded", a.status, a.body)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q lacks %q", msg, p)
		}
	}
}

// TestQuotasAcrossReplicas runs two `chute serve` on one Redis: creates
// for one subject race on both, and the open quota holds exactly; a
// complete and an abort give bytes back; the daily quota counts completed
// bytes (not aborted ones) and says when to retry.
func TestQuotasAcrossReplicas(t *testing.T) {
	reps := startReplicas(t, 2, quotaYAML)
	alice := reps[0].token(t, "alice")

	// 20 concurrent creates of 10 MiB, half on each replica, against an
	// open quota of 50 MiB: exactly 5 pass.
	var mu sync.Mutex
	var created []quotaCreate
	refused := 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			a := reps[i%2].rawJSON(t, alice, "POST", "/v1/uploads", createBody("default", 10*mib))
			mu.Lock()
			defer mu.Unlock()
			switch code, _ := apiError(a.body); {
			case a.err != nil:
				t.Errorf("create %d: %v", i, a.err)
			case a.status == 201:
				var c quotaCreate
				if err := json.Unmarshal(a.body, &c); err != nil {
					t.Errorf("create %d: %v", i, err)
				}
				created = append(created, c)
			case a.status == 429 && code == "quota_exceeded":
				refused++
			default:
				t.Errorf("create %d: %d %s", i, a.status, a.body)
			}
		})
	}
	wg.Wait()
	if len(created) != 5 || refused != 15 {
		t.Fatalf("%d creates passed and %d were refused, want 5 and 15 (open quota 50 MiB, 10 MiB each)", len(created), refused)
	}
	over := reps[1].rawJSON(t, alice, "POST", "/v1/uploads", createBody("default", 10*mib))
	wantQuotaRefusal(t, over, `profile "default" open_bytes quota is 52428800 bytes (50 MiB)`,
		"52428800 bytes (50 MiB) reserved by open uploads", "this upload needs 10485760 bytes (10 MiB)")
	if over.header.Get("Retry-After") != "" {
		t.Errorf("an open-bytes refusal says Retry-After %q: only finishing uploads frees it", over.header.Get("Retry-After"))
	}
	// Another subject's budget is its own, and alice's refusal said
	// nothing of it.
	bob := reps[0].token(t, "bob")
	mustCreate(t, reps[1], bob, "default", 40*mib)

	// An Uppy multipart create (size unknown) reserves max_size, 1 GiB.
	up := reps[0].rawJSON(t, bob, "POST", "/s3/multipart", map[string]any{"filename": "u.bin", "type": "application/octet-stream"})
	wantQuotaRefusal(t, up, "an upload of unknown size reserves the profile's max_size, 1073741824 bytes (1 GiB)")

	// A complete (on the other replica) and an abort give their bytes back.
	uploadAndComplete(t, reps[1], alice, created[0], 10*mib)
	if r := reps[0].call(t, alice, "DELETE", "/v1/uploads/"+created[1].ID, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	mustCreate(t, reps[0], alice, "default", 10*mib)
	mustCreate(t, reps[1], alice, "default", 10*mib)
	wantQuotaRefusal(t, reps[0].rawJSON(t, alice, "POST", "/v1/uploads", createBody("default", 1)), "open_bytes")

	// The daily quota of profile "daily": 25 MiB in a rolling day.
	carol := reps[0].token(t, "carol")
	uploadAndComplete(t, reps[0], carol, mustCreate(t, reps[0], carol, "daily", 10*mib), 10*mib)
	uploadAndComplete(t, reps[1], carol, mustCreate(t, reps[1], carol, "daily", 10*mib), 10*mib)
	// An aborted upload counts nothing once aborted.
	ab := mustCreate(t, reps[0], carol, "daily", 5*mib)
	wantQuotaRefusal(t, reps[1].rawJSON(t, carol, "POST", "/v1/uploads", createBody("daily", 1)),
		`profile "daily" daily_bytes quota is 26214400 bytes (25 MiB) per rolling day`,
		"26214400 bytes (25 MiB) completed in the last 24 h or reserved by open uploads")
	if r := reps[1].call(t, carol, "DELETE", "/v1/uploads/"+ab.ID, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	last := mustCreate(t, reps[1], carol, "daily", 5*mib)
	uploadAndComplete(t, reps[0], carol, last, 5*mib)
	day := reps[0].rawJSON(t, carol, "POST", "/v1/uploads", createBody("daily", 1))
	wantQuotaRefusal(t, day, "daily_bytes", "26214400 bytes (25 MiB) completed in the last 24 h", "retry after")
	// The completed bytes leave the window 24 to 25 hours after their hour.
	secs, err := strconv.Atoi(day.header.Get("Retry-After"))
	if err != nil || secs < 23*3600 || secs > 25*3600 {
		t.Errorf("Retry-After %q, want 23 to 25 hours in seconds", day.header.Get("Retry-After"))
	}
	// The global scope has no limit here: another profile is open to carol.
	mustCreate(t, reps[0], carol, "default", 1)
}

// TestQuotaStoreOnRedisCluster runs quota reservations with a global and a
// profile scope on a real Redis Cluster: each script touches one slot, or
// Redis answers CROSSSLOT.
func TestQuotaStoreOnRedisCluster(t *testing.T) {
	cl := containers.StartRedisCluster(t, 3)
	q := sessions.NewQuotaStore(cl.Client(t), "")
	ctx := t.Context()
	lim := []sessions.QuotaLimit{{OpenBytes: 30}, {Scope: "video", DailyBytes: 50}}
	until := time.Now().Add(time.Hour)
	for _, subject := range []string{"alice", "bob", "carol", "a}b", ""} {
		for i := range 3 {
			ref, err := q.Reserve(ctx, subject, fmt.Sprintf("upl_%d", i), 10, until, lim)
			if err != nil || ref != nil {
				t.Fatalf("%q reserve %d: %+v %v", subject, i, ref, err)
			}
		}
		if ref, err := q.Reserve(ctx, subject, "upl_3", 1, until, lim); err != nil || ref == nil || ref.Used != 30 {
			t.Fatalf("%q reserve over the open quota: %+v %v", subject, ref, err)
		}
		if _, err := q.Settle(ctx, subject, "upl_0", 10, []string{"", "video"}); err != nil {
			t.Fatal(err)
		}
		if err := q.Release(ctx, subject, "upl_1", []string{"", "video"}); err != nil {
			t.Fatal(err)
		}
		u, err := q.Usage(ctx, subject, "video")
		if err != nil || u.OpenBytes != 10 || u.DailyBytes != 10 {
			t.Fatalf("%q usage %+v %v, want open 10 daily 10", subject, u, err)
		}
	}
}
