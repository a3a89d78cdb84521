package test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// startPolicyServe runs `chute serve` against fresh Redis and versitygw
// containers with tight per-subject limits: 1 request per second with a
// burst of 10, 3 open sessions, and a profile "private" for alice only
// with a 1 KiB minimum and 16 bytes of metadata.
func startPolicyServe(t *testing.T) *target {
	return startServeYAML(t, `profiles:
  default:
    max_size: 1GiB
  private:
    max_size: 1GiB
    min_size: 1KiB
    subjects: [alice]
    max_metadata_bytes: 16
limits:
  rate: 1
  burst: 10
  max_open_sessions: 3
`)
}

func TestPolicy(t *testing.T) {
	tg := startPolicyServe(t)
	t.Run("rate limit", func(t *testing.T) { policyRate(t, tg) })
	t.Run("open sessions", func(t *testing.T) { policyOpen(t, tg) })
	t.Run("profile subjects and sizes", func(t *testing.T) { policyProfile(t, tg) })
}

// errMessage returns the message of a JSON error answer.
func errMessage(t *testing.T, r reply) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	r.decode(t, &e)
	return e.Error.Message
}

// policyRate: the burst always passes; then, at 1 request per second, a
// 429 comes long before 40 requests (they would need 30 s to fit).
func policyRate(t *testing.T, tg *target) {
	tok := tg.token(t, "rita")
	path := "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	for i := range 10 {
		if r := tg.call(t, tok, "GET", path, nil); r.status != 404 {
			t.Fatalf("request %d of the burst: %d %s, want 404", i+1, r.status, r.body)
		}
	}
	limited := false
	for range 40 {
		req := tg.raw(t, tok, "GET", path)
		if req.status == 404 {
			continue
		}
		if req.status != 429 || req.code != "rate_limited" {
			t.Fatalf("over the rate: %d %s, want 429 rate_limited", req.status, req.code)
		}
		n, err := strconv.Atoi(req.retryAfter)
		if err != nil || n < 1 || n > 2 {
			t.Errorf("Retry-After %q, want 1 or 2 seconds at 1 request/s", req.retryAfter)
		}
		limited = true
		break
	}
	if !limited {
		t.Fatal("50 requests in a row were all allowed at 1 request/s with a burst of 10")
	}
	// The Uppy routes share the budget (a request that slipped in after a
	// refill answers 404); another subject has its own.
	limited = false
	for range 40 {
		if r := tg.raw(t, tok, "GET", "/s3/multipart/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa?key=k"); r.status == 429 {
			limited = true
			break
		} else if r.status != 404 {
			t.Fatalf("/s3 for rita: %d %s", r.status, r.code)
		}
	}
	if !limited {
		t.Error("/s3 requests of a subject over its rate were all allowed")
	}
	if r := tg.call(t, tg.token(t, "rob"), "GET", path, nil); r.status != 404 {
		t.Errorf("another subject: %d %s, want 404", r.status, r.body)
	}
	// Signing part URLs has a budget of its own, kept in the process (no
	// Redis round trip): a subject whose shared budget is spent still
	// signs its burst, then gets 429 too.
	sign := func() reply {
		return tg.call(t, tok, "POST", path+"/part-urls", map[string]any{"part_numbers": []int{1}})
	}
	for i := range 10 {
		if r := sign(); r.status != 404 {
			t.Fatalf("part-urls %d of the sign burst: %d %s, want 404", i+1, r.status, r.body)
		}
	}
	limited = false
	for range 40 {
		if r := sign(); r.status == 429 && r.errCode(t) == "rate_limited" {
			limited = true
			break
		} else if r.status != 404 {
			t.Fatalf("part-urls over the sign budget: %d %s", r.status, r.body)
		}
	}
	if !limited {
		t.Error("part-urls requests of a subject over its rate were all allowed")
	}
	if n := len(tg.incomplete(t, "rita/")) + len(tg.objects(t, "rita/")); n != 0 {
		t.Errorf("%d uploads stored for a rate-limited subject", n)
	}
}

// policyOpen: a fourth open upload is refused until one is aborted.
func policyOpen(t *testing.T, tg *target) {
	tok := tg.token(t, "olga")
	body := map[string]any{"filename": "big.bin", "content_type": "application/octet-stream", "size": 20 << 20}
	var ids []string
	for i := range 3 {
		r := tg.call(t, tok, "POST", "/v1/uploads", body)
		if r.status != 201 {
			t.Fatalf("create %d: %d %s", i+1, r.status, r.body)
		}
		var c created
		r.decode(t, &c)
		ids = append(ids, c.ID)
	}
	r := tg.call(t, tok, "POST", "/v1/uploads", body)
	if r.status != 429 || r.errCode(t) != "rate_limited" || !strings.Contains(errMessage(t, r), "too many open uploads") {
		t.Fatalf("fourth open upload: %d %s, want 429 rate_limited too many open uploads", r.status, r.body)
	}
	r = tg.call(t, tok, "POST", "/s3/multipart", map[string]any{"filename": "a.bin", "type": "text/plain"})
	if r.status != 429 || !strings.Contains(errMessage(t, r), "too many open uploads") {
		t.Fatalf("fourth open upload through /s3: %d %s, want 429", r.status, r.body)
	}
	if got := len(tg.incomplete(t, "olga/")); got != 3 {
		t.Fatalf("%d multipart uploads in the store, want the 3 allowed ones", got)
	}
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+ids[0], nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	if r := tg.call(t, tok, "POST", "/v1/uploads", body); r.status != 201 {
		t.Fatalf("create after an abort: %d %s", r.status, r.body)
	}
}

// policyProfile: subjects, min_size and max_metadata_bytes of a profile.
func policyProfile(t *testing.T, tg *target) {
	bob, alice := tg.token(t, "bob"), tg.token(t, "alice")
	body := map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 4096, "profile": "private"}
	r := tg.call(t, bob, "POST", "/v1/uploads", body)
	if r.status != 403 || r.errCode(t) != "forbidden" {
		t.Fatalf("bob on profile private: %d %s, want 403 forbidden", r.status, r.body)
	}
	r = tg.call(t, bob, "POST", "/s3/multipart", map[string]any{"filename": "a.txt", "type": "text/plain", "profile": "private"})
	if r.status != 403 || r.errCode(t) != "forbidden" {
		t.Fatalf("bob on profile private through /s3: %d %s, want 403 forbidden", r.status, r.body)
	}
	small := map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 1000, "profile": "private"}
	r = tg.call(t, alice, "POST", "/v1/uploads", small)
	if r.status != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(errMessage(t, r), "minimum of 1024") {
		t.Fatalf("under min_size: %d %s, want 400 invalid_request", r.status, r.body)
	}
	meta := map[string]any{"filename": "a.txt", "content_type": "text/plain", "size": 4096, "profile": "private",
		"metadata": map[string]string{"title": "twelve chars"}}
	r = tg.call(t, alice, "POST", "/v1/uploads", meta)
	if r.status != 400 || !strings.Contains(errMessage(t, r), "at most 16 bytes") {
		t.Fatalf("metadata over max_metadata_bytes: %d %s, want 400", r.status, r.body)
	}
	for _, p := range []string{"bob/", "alice/"} {
		if n := len(tg.incomplete(t, p)) + len(tg.objects(t, p)); n != 0 {
			t.Errorf("%d uploads stored under %s for refused creates", n, p)
		}
	}
	r = tg.call(t, alice, "POST", "/v1/uploads", body)
	if r.status != 201 {
		t.Fatalf("alice on profile private: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, make([]byte, 4096))
	if st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	if r := tg.call(t, alice, "POST", "/v1/uploads/"+c.ID+"/complete", nil); r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
}

// rawReply is a status, error code and Retry-After header.
type rawReply struct {
	status     int
	code       string
	retryAfter string
}

// raw sends a body-less request like target.call (checked against the
// OpenAPI document too) and also returns the Retry-After header.
func (tg *target) raw(t *testing.T, token, method, path string) rawReply {
	t.Helper()
	req, err := http.NewRequest(method, tg.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if validateResponse != nil {
		validateResponse(t, method, path, resp.StatusCode, resp.Header, data)
	}
	out := rawReply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode >= 400 {
		out.code = reply{status: resp.StatusCode, body: data}.errCode(t)
	}
	return out
}
