package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/broker"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
	status int
}

// receiver is an httptest webhook that answers fail(n) for its n-th
// request (1-based) and records every request.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.reqs) + 1
		st := status(n)
		r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: body, status: st})
		r.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func (r *receiver) successes() int {
	n := 0
	for _, q := range r.all() {
		if q.status/100 == 2 {
			n++
		}
	}
	return n
}

func always(code int) func(int) int { return func(int) int { return code } }

func failFirst(k int) func(int) int {
	return func(n int) int {
		if n <= k {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
}

type counts struct{ delivered, failed, dead atomic.Int64 }

func (c *counts) WebhookDelivered(string, time.Duration) { c.delivered.Add(1) }
func (c *counts) WebhookFailed(string)                   { c.failed.Add(1) }
func (c *counts) WebhookDead(string)                     { c.dead.Add(1) }

func newRedis(t *testing.T) redis.UniversalClient {
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func testEvent(typ string) broker.Event {
	return broker.Event{
		ID: "upl_test:" + typ, Type: typ, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Upload: broker.EventUpload{ID: "upl_test", Subject: "alice", Profile: "default", Backend: "main",
			Bucket: "uploads", Key: "alice/x.bin", Size: 42, ETag: "abc"},
	}
}

// fast is a delivery config for tests: short backoffs (retries then come
// every Timeout+250ms). The timeout is long enough that a loaded machine
// doesn't turn a receiver's 2xx into a client-side timeout.
func fast() DeliveryConfig {
	return DeliveryConfig{Timeout: time.Second, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Poll: 50 * time.Millisecond}
}

// run runs d until the test ends.
func run(t *testing.T, d *Deliverer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond until it holds or 15 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pending(t *testing.T, rc redis.UniversalClient) int64 {
	t.Helper()
	p, err := rc.XPending(context.Background(), StreamKey("t"), Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func TestSignatureAndHeaders(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, always(200))
	const secret = "s3cret-hmac-key"
	hooks := []Webhook{{URL: rcv.srv.URL + "/hook", Secret: secret}}
	ev := testEvent(broker.EventCompleted)
	if err := NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, nil))
	waitFor(t, "a delivery", func() bool { return rcv.successes() == 1 })

	got := rcv.all()[0]
	h := got.header
	if h.Get("Content-Type") != "application/json" || h.Get("X-Chute-Event") != ev.Type || h.Get("X-Chute-Event-Id") != ev.ID {
		t.Fatalf("headers: %v", h)
	}
	ts, err := strconv.ParseInt(h.Get("X-Chute-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("timestamp %q", h.Get("X-Chute-Timestamp"))
	}
	// Verify as a receiver would, without package events.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(h.Get("X-Chute-Timestamp") + "." + string(got.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(h.Get("X-Chute-Signature")), []byte(want)) {
		t.Fatalf("signature %q, want %q", h.Get("X-Chute-Signature"), want)
	}
	var back broker.Event
	if err := json.Unmarshal(got.body, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || back.Upload.Key != ev.Upload.Key || back.Upload.Size != 42 || !back.Time.Equal(ev.Time) {
		t.Fatalf("body %+v", back)
	}
	waitFor(t, "the entry acknowledged", func() bool { return pending(t, rc) == 0 })
	if n, _ := rc.XLen(context.Background(), StreamKey("t")).Result(); n != 0 {
		t.Fatalf("stream still holds %d entries after delivery", n)
	}
}

func TestNoSecretNoSignature(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, always(200))
	hooks := []Webhook{{URL: rcv.srv.URL}}
	_ = NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventAborted))
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, nil))
	waitFor(t, "a delivery", func() bool { return rcv.successes() == 1 })
	if s := rcv.all()[0].header.Get("X-Chute-Signature"); s != "" {
		t.Fatalf("signature %q without a secret", s)
	}
}

func TestRetriesUntilSuccessSameID(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, failFirst(3))
	hooks := []Webhook{{URL: rcv.srv.URL, Secret: "k"}}
	c := &counts{}
	_ = NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventCompleted))
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, c))
	waitFor(t, "success after three 500s", func() bool { return rcv.successes() == 1 })
	reqs := rcv.all()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, q := range reqs {
		if q.header.Get("X-Chute-Event-Id") != reqs[0].header.Get("X-Chute-Event-Id") || !bytes.Equal(q.body, reqs[0].body) {
			t.Fatalf("attempt %d: id or body changed across retries", i+1)
		}
		if Sign("k", q.header.Get("X-Chute-Timestamp"), q.body) != q.header.Get("X-Chute-Signature") {
			t.Fatalf("attempt %d: bad signature", i+1)
		}
	}
	waitFor(t, "counters", func() bool { return c.delivered.Load() == 1 })
	if c.failed.Load() != 3 || c.dead.Load() != 0 {
		t.Fatalf("failed %d dead %d", c.failed.Load(), c.dead.Load())
	}
	waitFor(t, "nothing pending", func() bool { return pending(t, rc) == 0 })
}

func TestPerWebhookSuccessNotResent(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	ok := newReceiver(t, always(200))
	flaky := newReceiver(t, failFirst(2))
	only := newReceiver(t, always(200))
	hooks := []Webhook{{URL: ok.srv.URL}, {URL: flaky.srv.URL}, {URL: only.srv.URL, Events: []string{broker.EventExpired}}}
	_ = NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventCompleted))
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, nil))
	waitFor(t, "the flaky webhook served", func() bool { return flaky.successes() == 1 })
	waitFor(t, "nothing pending", func() bool { return pending(t, rc) == 0 })
	if n := len(ok.all()); n != 1 {
		t.Fatalf("the healthy webhook got %d requests, want 1", n)
	}
	if n := len(flaky.all()); n != 3 {
		t.Fatalf("the flaky webhook got %d requests, want 3", n)
	}
	if n := len(only.all()); n != 0 {
		t.Fatalf("a webhook for upload.expired only got %d upload.completed requests", n)
	}
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, always(503))
	hooks := []Webhook{{URL: rcv.srv.URL + "/hook?token=query-secret-123"}}
	c := &counts{}
	var logs syncBuf
	cfg := fast()
	cfg.MaxAttempts = 3
	_ = NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventAborted))
	run(t, NewDeliverer(rc, "t", hooks, cfg, slog.New(slog.NewTextHandler(&logs, nil)), c))
	waitFor(t, "a dead letter", func() bool { return c.dead.Load() == 1 })
	if n := len(rcv.all()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	dead, err := rc.XRange(context.Background(), DeadKey("t"), "-", "+").Result()
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters %v, %v", dead, err)
	}
	if dead[0].Values["attempts"] != "3" || dead[0].Values["event_id"] != "upl_test:upload.aborted" || dead[0].Values["reason"] != "status 503" {
		t.Fatalf("dead letter %v", dead[0].Values)
	}
	waitFor(t, "nothing pending", func() bool { return pending(t, rc) == 0 })
	if c.failed.Load() != 3 {
		t.Fatalf("failed %d, want 3", c.failed.Load())
	}
	if strings.Contains(logs.String(), "query-secret-123") || !strings.Contains(logs.String(), "given up") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

func TestDeadLetterAfterMaxAge(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, always(500))
	hooks := []Webhook{{URL: rcv.srv.URL}}
	o := NewOutbox(rc, "t", hooks, 0)
	o.now = func() time.Time { return time.Now().Add(-25 * time.Hour) }
	_ = o.Publish(context.Background(), testEvent(broker.EventExpired))
	c := &counts{}
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, c))
	waitFor(t, "a dead letter", func() bool { return c.dead.Load() == 1 })
	if n := len(rcv.all()); n != 1 {
		t.Fatalf("%d attempts of an event past max_age, want 1", n)
	}
}

func TestConnectionErrorDoesNotLogQuery(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	rc := newRedis(t)
	hooks := []Webhook{{URL: "http://" + addr + "/h?sig=hidden-value-42", Secret: "never-logged-secret"}}
	c := &counts{}
	var logs syncBuf
	cfg := fast()
	cfg.MaxAttempts = 2
	_ = NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventCompleted))
	run(t, NewDeliverer(rc, "t", hooks, cfg, slog.New(slog.NewTextHandler(&logs, nil)), c))
	waitFor(t, "a dead letter", func() bool { return c.dead.Load() == 1 })
	out := logs.String()
	if strings.Contains(out, "hidden-value-42") || strings.Contains(out, "never-logged-secret") || !strings.Contains(out, addr+"/h") {
		t.Fatalf("logs:\n%s", out)
	}
	dead, _ := rc.XRange(context.Background(), DeadKey("t"), "-", "+").Result()
	if len(dead) != 1 || strings.Contains(dead[0].Values["reason"].(string), "hidden-value-42") {
		t.Fatalf("dead letter %v", dead)
	}
}

func TestTakeOverFromDeadConsumer(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, always(200))
	hooks := []Webhook{{URL: rcv.srv.URL}}
	ctx := context.Background()
	_ = NewOutbox(rc, "t", hooks, 0).Publish(ctx, testEvent(broker.EventCompleted))
	// A process reads the entry and dies before answering it.
	if err := rc.XGroupCreateMkStream(ctx, StreamKey("t"), Group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: "ghost", Streams: []string{StreamKey("t"), ">"}, Count: 10}).Result()
	if err != nil || len(got) != 1 || len(got[0].Messages) != 1 {
		t.Fatalf("ghost read %v, %v", got, err)
	}
	cfg := fast()
	cfg.Consumer = "survivor"
	run(t, NewDeliverer(rc, "t", hooks, cfg, nil, nil))
	waitFor(t, "the survivor delivering", func() bool { return rcv.successes() == 1 })
	waitFor(t, "nothing pending", func() bool { return pending(t, rc) == 0 })
	if n := len(rcv.all()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestPruneGoneConsumers(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	ctx := context.Background()
	if err := rc.XGroupCreateMkStream(ctx, StreamKey("t"), Group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) error {
		return rc.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: name, Streams: []string{StreamKey("t"), ">"}, Block: -1}).Err()
	}
	hooks := []Webhook{{URL: "http://127.0.0.1:1/"}}
	o := NewOutbox(rc, "t", hooks, 0)
	// gone-empty read an entry and answered it; gone-with-pending read one
	// and died.
	_ = o.Publish(ctx, testEvent(broker.EventAborted))
	if err := read("gone-empty"); err != nil {
		t.Fatal(err)
	}
	p, _ := rc.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: StreamKey("t"), Group: Group, Start: "-", End: "+", Count: 10}).Result()
	if len(p) != 1 || rc.XAck(ctx, StreamKey("t"), Group, p[0].ID).Err() != nil {
		t.Fatalf("pending %v", p)
	}
	_ = o.Publish(ctx, testEvent(broker.EventCompleted))
	if err := read("gone-with-pending"); err != nil {
		t.Fatal(err)
	}
	// miniredis records a consumer's last-seen time (XINFO's idle) only on
	// XCLAIM, where Redis records it on every command: claim nothing to set it.
	for _, name := range []string{"gone-empty", "gone-with-pending"} {
		_ = rc.XClaim(ctx, &redis.XClaimArgs{Stream: StreamKey("t"), Group: Group, Consumer: name, MinIdle: time.Hour, Messages: []string{"1-1"}}).Err()
	}
	if n := len(mustConsumers(t, rc)); n != 2 {
		t.Fatalf("%d consumers before pruning, want 2", n)
	}
	cfg := fast()
	cfg.Backoff, cfg.MaxBackoff = time.Hour, time.Hour // no retry takes the pending entry
	d := NewDeliverer(rc, "t", hooks, cfg, nil, nil)
	d.pruneAfter = 300 * time.Millisecond
	run(t, d)
	names := func() []string { return mustConsumers(t, rc) }
	waitFor(t, "the empty gone consumer removed", func() bool { return !slices.Contains(names(), "gone-empty") })
	if n := names(); !slices.Contains(n, "gone-with-pending") {
		t.Fatalf("consumers %v: one with pending entries was removed", n)
	}
}

func mustConsumers(t *testing.T, rc redis.UniversalClient) []string {
	t.Helper()
	cs, err := rc.XInfoConsumers(context.Background(), StreamKey("t"), Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

func TestTwoDeliverersShareWork(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	rcv := newReceiver(t, func(n int) int {
		if n%3 == 0 {
			return 500
		}
		return 200
	})
	hooks := []Webhook{{URL: rcv.srv.URL}}
	o := NewOutbox(rc, "t", hooks, 0)
	const events = 20
	for i := range events {
		ev := testEvent(broker.EventCompleted)
		ev.ID = "upl_" + strconv.Itoa(i) + ":upload.completed"
		if err := o.Publish(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, nil))
	run(t, NewDeliverer(rc, "t", hooks, fast(), nil, nil))
	ids := func() map[string]bool {
		m := map[string]bool{}
		for _, q := range rcv.all() {
			if q.status == 200 {
				m[q.header.Get("X-Chute-Event-Id")] = true
			}
		}
		return m
	}
	waitFor(t, "every event delivered", func() bool { return len(ids()) == events })
	waitFor(t, "nothing pending", func() bool { return pending(t, rc) == 0 })
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	t.Parallel()
	d := NewDeliverer(nil, "t", nil, DeliveryConfig{Backoff: time.Second, MaxBackoff: time.Minute}, nil, nil)
	for n := int64(1); n <= 20; n++ {
		b := d.backoff("1-0", n)
		base := min(time.Second<<(n-1), time.Minute)
		if b < base*3/4 || b >= base*5/4 {
			t.Fatalf("attempt %d: backoff %s outside ±25%% of %s", n, b, base)
		}
		if b != d.backoff("1-0", n) {
			t.Fatal("backoff is not the same for the same entry and attempt")
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@app.example.com/hooks?token=x#f": "https://app.example.com/hooks",
		"http://127.0.0.1:9/h":                            "http://127.0.0.1:9/h",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPublishWithoutSubscriberWritesNothing(t *testing.T) {
	t.Parallel()
	rc := newRedis(t)
	hooks := []Webhook{{URL: "http://127.0.0.1:1/", Events: []string{broker.EventCompleted}}}
	if err := NewOutbox(rc, "t", hooks, 0).Publish(context.Background(), testEvent(broker.EventAborted)); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.Exists(context.Background(), StreamKey("t")).Result(); n != 0 {
		t.Fatal("an event no webhook takes was written")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
