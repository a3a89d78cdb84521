package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker/auth"
)

// TestRequestInfoUnderConcurrency: the pooled per-request info (request
// id, subject) never crosses requests. Two subjects sign parts of their
// own upload and of the other's at once: each gets its own (200) and not
// the other's (404), and every answer carries a fresh 16-hex-digit
// request id, never seen before.
func TestRequestInfoUnderConcurrency(t *testing.T) {
	bs := newBenchServer(t)
	type user struct{ token, id string }
	users := map[string]*user{}
	for _, name := range []string{"alice", "bob"} {
		tok, _ := auth.SignHS256(secret, name, time.Hour, "", "")
		bs.token = tok
		var created struct {
			ID string `json:"id"`
		}
		body := bs.do(t, "POST", "/v1/uploads", `{"filename":"a.bin","content_type":"application/octet-stream","size":104857600}`, true, 201)
		if err := json.Unmarshal(body, &created); err != nil {
			t.Fatal(err)
		}
		users[name] = &user{tok, created.ID}
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				me, other := users["alice"], users["bob"]
				if (w+i)%2 == 1 {
					me, other = other, me
				}
				for _, c := range []struct {
					id   string
					want int
				}{{me.id, 200}, {other.id, 404}} {
					req := httptest.NewRequest("POST", "/v1/uploads/"+c.id+"/part-urls", strings.NewReader(fmt.Sprintf(`{"part_numbers":[%d]}`, i%7+1)))
					req.Header.Set("Authorization", "Bearer "+me.token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := bs.srv.App().Test(req, 5000)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != c.want {
						t.Errorf("status %d, want %d", resp.StatusCode, c.want)
					}
					rid := resp.Header.Get("X-Request-Id")
					mu.Lock()
					dup := seen[rid]
					seen[rid] = true
					mu.Unlock()
					if !hexID.MatchString(rid) || dup {
						t.Errorf("request id %q (seen before: %v)", rid, dup)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != 8*25*2 {
		t.Fatalf("%d distinct request ids, want %d", len(seen), 8*25*2)
	}
}
