package test

// Issue 15: uploads in flight survive a Redis outage. Redis is stopped
// with SIGSTOP (its process hangs: connections are accepted, nothing is
// answered, every read waits for the client's 3 s timeout) while two
// replicas serve a native and an Uppy multipart upload. Signing part URLs
// needs no Redis (shared/API.md "Signing survives a Redis outage"), so it
// keeps answering 200 within 2 s and the parts reach the store; report
// and complete need Redis and answer 503 (create too: TestSessionStoreDown). After SIGCONT both
// uploads complete with the right bytes, and a part URL for an ended
// upload is refused on both replicas.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/test/containers"
)

// signBound is the contract's bound on signing while Redis is away.
const signBound = 2 * time.Second

func TestRedisStoppedMidUpload(t *testing.T) {
	rd := startAOFRedis(t)
	s3 := containers.StartStore(t, "uploads")
	st := chaosStore{redisURL: "redis://" + rd.addr(t) + "/0", endpoint: "http://" + s3.Endpoint, s3: s3,
		direct: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region)}
	a, b := startReplica(t, "A", st), startReplica(t, "B", st)
	reps := []*replica{a, b}
	tok := chaosToken(t)
	const ps = 5 * mib

	// A native upload of 5 parts, created on A; B reads it once (part 2).
	size := int64(4*ps + mib)
	data := randomBytes(t, size)
	c := createUpload(t, a, tok, size)
	etags := map[int]string{}
	etags[1] = putPart(t, c.Parts[0], partBytes(data, ps, 1))
	reportPart(t, a, tok, c.ID, 1, etags[1], int(ps))
	etags[2] = putPart(t, signPart(t, b, tok, c.ID, 2), partBytes(data, ps, 2))

	// An Uppy upload (size unknown), created on B; A signs its part 1.
	upData := randomBytes(t, 2*ps+mib)
	ep := b.tg.companion(t, "chaos")
	uc := uppyCreate(t, b.tg, ep, "stop.bin")
	upETags := map[int]string{}
	upETags[1] = uppySignAndPut(t, a.tg, ep, uc, 1, partBytes(upData, ps, 1))

	// Stop Redis. Continue it whatever happens, before its container goes.
	pid := redisPID(t, rd)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP redis-server (pid %d): %v", pid, err)
	}
	stopped := true
	resume := func() {
		if stopped {
			stopped = false
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT redis-server (pid %d): %v", pid, err)
			}
		}
	}
	t.Cleanup(resume)
	// Let the replicas notice nothing yet: a stop gives no error, only silence.
	time.Sleep(200 * time.Millisecond)

	var slowest time.Duration
	timed := func(what string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		d := time.Since(start)
		if d >= signBound {
			t.Fatalf("%s with Redis stopped took %v, want under %v", what, d, signBound)
		}
		slowest = max(slowest, d)
	}
	// Native: parts 3..5 signed alternately by A and B, part 2 again by A
	// (signed by B before the stop), all PUT to the store.
	for n := 2; n <= 5; n++ {
		r := reps[n%2]
		var p partURL
		timed(fmt.Sprintf("part-urls %d on %s", n, r.name), func() { p = signPart(t, r, tok, c.ID, n) })
		etags[n] = putPart(t, p, partBytes(data, ps, n))
	}
	// Uppy: parts 2 and 3 through the Companion part route, one per replica.
	for n := 2; n <= 3; n++ {
		r := reps[n%2]
		timed(fmt.Sprintf("Uppy sign-part %d on %s", n, r.name), func() {
			q := url.Values{"key": {uc.Key}}.Encode()
			res := r.tg.call(t, "", "GET", ep+"/s3/multipart/"+url.PathEscape(uc.UploadID)+"/"+strconv.Itoa(n)+"?"+q, nil)
			if res.status != 200 {
				t.Fatalf("Uppy sign-part %d on %s: %d %s", n, r.name, res.status, res.body)
			}
			var signed struct {
				URL string `json:"url"`
			}
			res.decode(t, &signed)
			code, etag := put(t, "PUT", signed.URL, nil, partBytes(upData, ps, n))
			if code != 200 || etag == "" {
				t.Fatalf("PUT Uppy part %d: %d", n, code)
			}
			upETags[n] = strings.Trim(etag, `"`)
		})
	}
	t.Logf("slowest signature (and, for Uppy, PUT) with Redis stopped: %v", slowest)
	// The parts are in the store while Redis is still stopped.
	for _, up := range []struct {
		key string
		n   int
	}{{c.Key, 5}, {uc.Key, 3}} {
		if got := storedParts(t, st, up.key); got != up.n {
			t.Fatalf("store holds %d parts of %s, want %d", got, up.key, up.n)
		}
	}

	// What needs Redis answers 503 (after the client's timeout), on both replicas.
	unavailable := func(r *replica, what string, res reply) {
		t.Helper()
		if res.status != http.StatusServiceUnavailable || res.errCode(t) != "storage_unavailable" {
			t.Fatalf("%s on %s with Redis stopped: %d %s, want 503 storage_unavailable", what, r.name, res.status, res.body)
		}
	}
	unavailable(a, "report", a.tg.call(t, tok, "PUT", "/v1/uploads/"+c.ID+"/parts/2", map[string]any{"etag": etags[2], "size": ps}))
	unavailable(b, "complete", b.tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil))
	unavailable(b, "Uppy complete", b.tg.call(t, "", "POST", ep+"/s3/multipart/"+uc.UploadID+"/complete?"+url.Values{"key": {uc.Key}}.Encode(),
		map[string]any{"parts": uppyParts(upETags)}))

	resume()
	// Report every part, complete on B: the object has the bytes.
	waitUntil(t, 30*time.Second, "Redis answers again", func() error {
		if res := a.tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil); res.status != 200 {
			return fmt.Errorf("status: %d %s", res.status, res.body)
		}
		return nil
	})
	for n := 2; n <= 5; n++ {
		reportPart(t, reps[n%2], tok, c.ID, n, etags[n], len(partBytes(data, ps, n)))
	}
	completeOn(t, b, tok, c, size)
	res := a.tg.call(t, "", "POST", ep+"/s3/multipart/"+uc.UploadID+"/complete?"+url.Values{"key": {uc.Key}}.Encode(),
		map[string]any{"parts": uppyParts(upETags)})
	if res.status != 200 {
		t.Fatalf("Uppy complete after the outage: %d %s", res.status, res.body)
	}
	checkStored(t, st, c.Key, data)
	checkStored(t, st, uc.Key, upData)

	// Ended uploads get no part URL, on the replica that ended them at
	// once and on the other one as soon as it hears (both read by both).
	for _, r := range reps {
		waitUntil(t, 5*time.Second, "part-urls refused on "+r.name, func() error {
			if res := r.tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{1}}); res.status != 409 {
				return fmt.Errorf("native: %d %s", res.status, res.body)
			}
			q := url.Values{"key": {uc.Key}}.Encode()
			if res := r.tg.call(t, "", "GET", ep+"/s3/multipart/"+url.PathEscape(uc.UploadID)+"/1?"+q, nil); res.status != 409 {
				return fmt.Errorf("Uppy: %d %s", res.status, res.body)
			}
			return nil
		})
	}
}

// redisPID is the host PID of the container's redis-server.
func redisPID(t *testing.T, rd *chaosRedis) int {
	t.Helper()
	s, err := rd.ctr.State(t.Context())
	if err != nil || s.Pid == 0 {
		t.Fatalf("redis container state: %v (pid %d)", err, s.Pid)
	}
	return s.Pid
}

// uppyParts is a Companion complete body's part list.
func uppyParts(etags map[int]string) []map[string]any {
	out := make([]map[string]any, 0, len(etags))
	for n := 1; n <= len(etags); n++ {
		out = append(out, map[string]any{"PartNumber": n, "ETag": etags[n]})
	}
	return out
}

// storedParts counts the part numbers the store holds for the one multipart
// upload open at key.
func storedParts(t *testing.T, st chaosStore, key string) int {
	t.Helper()
	core := &minio.Core{Client: st.direct}
	for u := range st.direct.ListIncompleteUploads(t.Context(), st.s3.Bucket, key, false) {
		if u.Err != nil {
			t.Fatalf("list uploads: %v", u.Err)
		}
		if u.Key != key {
			continue
		}
		res, err := core.ListObjectParts(t.Context(), st.s3.Bucket, key, u.UploadID, 0, 1000)
		if err != nil {
			t.Fatalf("list parts of %s: %v", key, err)
		}
		nums := map[int]bool{} // SeaweedFS lists a part PUT twice twice
		for _, p := range res.ObjectParts {
			nums[p.PartNumber] = true
		}
		return len(nums)
	}
	return 0
}
