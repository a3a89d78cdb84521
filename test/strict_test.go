package test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/test/containers"
)

// TestStrictRequestBodies runs `chute serve` on real Redis and the run's
// store and sends every /v1 route a body with a field Chute does not
// know: each is a 400 invalid_request naming the field, and nothing
// happened — no session in Redis, no object or multipart upload in the
// store, no part reported, the session not completed. The same requests
// without the field then work. Sizes like 5.5 and 1e20 say they must be
// whole numbers; an unknown method on a route is a 405 with Allow; the
// Uppy routes still ignore unknown fields.
func TestStrictRequestBodies(t *testing.T) {
	containers.RequireDocker(t)
	redisURL := containers.StartRedis(t)
	s3 := containers.StartStore(t, "uploads")
	addr := freeAddr(t)
	env := append([]string{"CHUTE_SERVER_LISTEN=" + addr, "CHUTE_SERVER_PUBLIC_URL=http://" + addr}, serveEnv(redisURL, s3)...)
	logs := startChute(t, addr, env, "serve")
	tg := &target{base: "http://" + addr, store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket, logs: logs}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	tok := tg.token(t, "alice")

	// state is everything a request could have changed.
	state := func() []string {
		ctx := context.Background()
		names, err := rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range names {
			if strings.HasPrefix(k, "chute:rl:") {
				continue // the rate limiter counts every request, refused or not
			}
			dump, err := rdb.Dump(ctx, k).Result()
			if err != nil && err != redis.Nil {
				t.Fatal(err)
			}
			keys = append(keys, fmt.Sprintf("redis %s %x", k, sha256.Sum256([]byte(dump))))
		}
		for _, k := range tg.objects(t, "") {
			keys = append(keys, "object "+k)
		}
		for _, k := range tg.incomplete(t, "") {
			keys = append(keys, "unfinished "+k)
		}
		slices.Sort(keys)
		return keys
	}
	refused := func(t *testing.T, r reply, field string) {
		t.Helper()
		var e struct {
			Error struct{ Code, Message string }
		}
		r.decode(t, &e)
		if want := `unknown field "` + field + `"`; r.status != 400 || e.Error.Code != "invalid_request" || e.Error.Message != want {
			t.Fatalf("got %d %s %q, want 400 invalid_request %q", r.status, e.Error.Code, e.Error.Message, want)
		}
	}
	unchanged := func(t *testing.T, before []string) {
		t.Helper()
		if after := state(); !slices.Equal(before, after) {
			t.Fatalf("the request changed Redis or the store:\nbefore %q\nafter  %q", before, after)
		}
	}

	t.Run("create", func(t *testing.T) {
		before := state()
		for field, body := range map[string]string{
			"sizee":           `{"filename":"a.bin","content_type":"application/octet-stream","sizee":20971520}`,
			"checksum_sha256": `{"filename":"a.bin","content_type":"application/octet-stream","size":20971520,"checksum_sha256":"x"}`,
			"Metadata2":       `{"filename":"a.txt","content_type":"text/plain","size":3,"Metadata2":{}}`,
			"checksum.algo":   `{"filename":"a.bin","content_type":"application/octet-stream","size":20971520,"checksum":{"algorithm":"SHA256","algo":"CRC32"}}`,
		} {
			refused(t, tg.call(t, tok, "POST", "/v1/uploads", body), field)
		}
		unchanged(t, before)
		// The size check: a number that is no whole number of bytes.
		for _, size := range []string{"5.5", "1e20", "2e3"} {
			r := tg.call(t, tok, "POST", "/v1/uploads", `{"filename":"a.txt","content_type":"text/plain","size":`+size+`}`)
			if r.status != 400 || !strings.Contains(string(r.body), "size: must be a whole number of bytes") {
				t.Errorf("size %s: %d %s", size, r.status, r.body)
			}
		}
		unchanged(t, before)
	})

	data := randomBytes(t, 16*mib+1)
	c := create(t, tg, tok, "m.bin", "application/octet-stream", int64(len(data)))
	if c.PartCount != 2 {
		t.Fatalf("want 2 parts, got %+v", c)
	}
	sess := "/v1/uploads/" + c.ID

	t.Run("part-urls", func(t *testing.T) {
		before := state()
		refused(t, tg.call(t, tok, "POST", sess+"/part-urls", `{"part_numbers":[1,2],"expires_in":60}`), "expires_in")
		unchanged(t, before)
		if r := tg.call(t, tok, "POST", sess+"/part-urls", `{"part_numbers":[1,2]}`); r.status != 200 {
			t.Fatalf("without the field: %d %s", r.status, r.body)
		}
	})

	etags := uploadParts(t, tg, tok, c, data, c.Parts, 2, false)
	t.Run("report part", func(t *testing.T) {
		before := state()
		refused(t, tg.call(t, tok, "PUT", sess+"/parts/1", map[string]any{"etag": etags[1], "size": 16 * mib, "sha256": "x"}), "sha256")
		unchanged(t, before)
		var st status
		tg.call(t, tok, "GET", sess, nil).decode(t, &st)
		if len(st.Parts) != 0 {
			t.Fatalf("a refused report was recorded: %+v", st)
		}
		for n, size := range map[int]int{1: 16 * mib, 2: 1} {
			if r := tg.call(t, tok, "PUT", sess+"/parts/"+strconv.Itoa(n), map[string]any{"etag": etags[n], "size": size}); r.status != 200 {
				t.Fatalf("report part %d without the field: %d %s", n, r.status, r.body)
			}
		}
	})

	t.Run("complete", func(t *testing.T) {
		before := state()
		list := []map[string]any{{"part_number": 1, "etag": etags[1]}, {"part_number": 2, "etag": etags[2], "size": 1}}
		refused(t, tg.call(t, tok, "POST", sess+"/complete", map[string]any{"parts": list}), "parts[1].size")
		refused(t, tg.call(t, tok, "POST", sess+"/complete", `{"force":true}`), "force")
		unchanged(t, before)
		var st status
		tg.call(t, tok, "GET", sess, nil).decode(t, &st)
		if st.State == "completed" || len(tg.objects(t, c.Key)) != 0 {
			t.Fatalf("a refused complete completed: %+v", st)
		}
		delete(list[1], "size")
		if done := completeOK(t, tg, tok, c.ID, map[string]any{"parts": list}); done.State != "completed" {
			t.Fatalf("without the field: %+v", done)
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		for _, m := range []struct{ method, path, allow string }{
			{"PATCH", sess, "GET, HEAD, DELETE"},
			{"GET", sess + "/complete", "POST"},
		} {
			req, _ := http.NewRequest(m.method, tg.base+m.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct{ Error struct{ Code string } }
			err = json.Unmarshal(body, &e)
			if resp.StatusCode != 405 || err != nil || e.Error.Code != "invalid_request" || resp.Header.Get("Allow") != m.allow {
				t.Errorf("%s %s: %d %q Allow %q (%v)", m.method, m.path, resp.StatusCode, e.Error.Code, resp.Header.Get("Allow"), err)
			}
			checkResponse(t, m.method, m.path, resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("uppy routes stay lenient", func(t *testing.T) {
		r := tg.call(t, tok, "POST", "/s3/multipart", `{"filename":"u.bin","type":"application/octet-stream","metadata":{},"bogus":1}`)
		if r.status != 200 {
			t.Fatalf("an unknown field on /s3/multipart: %d %s", r.status, r.body)
		}
	})
}
