package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// countingStore counts every AbortMultipart and Remove call per upload id
// or key, whatever the fake answers.
type countingStore struct {
	*fakeStore
	mu      sync.Mutex
	aborts  map[string]int
	removes map[string]int
}

func (c *countingStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	c.mu.Lock()
	c.aborts[uploadID]++
	c.mu.Unlock()
	return c.fakeStore.AbortMultipart(ctx, key, uploadID)
}

func (c *countingStore) Remove(ctx context.Context, key string) error {
	c.mu.Lock()
	c.removes[key]++
	c.mu.Unlock()
	return c.fakeStore.Remove(ctx, key)
}

func (c *countingStore) setFail(err error) {
	c.fakeStore.mu.Lock()
	c.fakeStore.fail = err
	c.fakeStore.mu.Unlock()
}

// sink records the events published.
type sink struct {
	mu     sync.Mutex
	events []Event
}

func (s *sink) Publish(_ context.Context, ev Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	return nil
}

func (s *sink) ofType(typ string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// clock is a settable clock shared by the services of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type janitorEnv struct {
	mr    *miniredis.Miniredis
	rc    *redis.Client
	store *countingStore
	clk   *clock
	sink  *sink
}

func newJanitorEnv(t *testing.T) *janitorEnv {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	return &janitorEnv{
		mr: mr, rc: rc, clk: &clock{t: time.Now()}, sink: &sink{},
		store: &countingStore{fakeStore: newFakeStore(), aborts: map[string]int{}, removes: map[string]int{}},
	}
}

// service returns one replica: a Service on the env's Redis and store.
func (e *janitorEnv) service(t *testing.T) *Service {
	t.Helper()
	svc, err := New(Config{
		Profiles: map[string]Profile{
			"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB, PartSize: 5 * multipart.MiB,
				SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"application/octet-stream"},
				URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{id}{ext}"},
		},
		Backends:        map[string]ObjectStore{"main": e.store},
		Sessions:        sessions.NewRedisStore(e.rc),
		TTL:             time.Hour,
		Now:             e.clk.now,
		MaxOpenSessions: 100,
		Events:          e.sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *janitorEnv) createMultipart(t *testing.T, svc *Service) *CreateResult {
	t.Helper()
	size := int64(12 * multipart.MiB)
	res, err := svc.Create(t.Context(), "alice", CreateRequest{Filename: "a.bin", ContentType: "application/octet-stream", Size: &size})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != string(sessions.StrategyMultipart) {
		t.Fatalf("strategy %s, want multipart", res.Strategy)
	}
	return res
}

func (e *janitorEnv) state(t *testing.T, svc *Service, id string) sessions.State {
	t.Helper()
	sess, err := svc.sessions.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sess.State
}

func uploadIDOf(t *testing.T, svc *Service, id string) string {
	t.Helper()
	sess, err := svc.sessions.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sess.UploadID
}

func TestJanitorExpiresOpenSessions(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	ctx := t.Context()

	mp := e.createMultipart(t, svc)
	upID := uploadIDOf(t, svc, mp.ID)
	etag := e.store.putPart(upID, 1, 5*multipart.MiB)
	size := int64(5 * multipart.MiB)
	if _, err := svc.ReportPart(ctx, "alice", mp.ID, 1, ReportRequest{ETag: etag, Size: &size}); err != nil {
		t.Fatal(err)
	}
	small := int64(10)
	single, err := svc.Create(ctx, "alice", CreateRequest{Filename: "s.bin", ContentType: "application/octet-stream", Size: &small})
	if err != nil {
		t.Fatal(err)
	}
	e.store.putObject(single.Key, 10, "application/octet-stream")

	// Before the expiry the janitor has nothing to do.
	res, err := svc.ExpireDue(ctx, JanitorConfig{})
	if err != nil || res.Due != 0 {
		t.Fatalf("tick before expiry = %+v, %v; want nothing due", res, err)
	}

	// A session created later is not due when the first two are.
	e.clk.add(30 * time.Minute)
	later := e.createMultipart(t, svc)
	e.clk.add(31 * time.Minute)

	var outcomes []string
	res, err = svc.ExpireDue(ctx, JanitorConfig{Observe: func(o string) { outcomes = append(outcomes, o) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Due != 2 || res.Expired != 2 || res.Failed != 0 {
		t.Fatalf("tick = %+v, want 2 due, 2 expired", res)
	}
	if len(outcomes) != 2 || outcomes[0] != JanitorExpired || outcomes[1] != JanitorExpired {
		t.Errorf("observed %v, want two %q", outcomes, JanitorExpired)
	}
	for _, id := range []string{mp.ID, single.ID} {
		if st := e.state(t, svc, id); st != sessions.StateExpired {
			t.Errorf("session %s is %s, want expired", id, st)
		}
	}
	if _, err := e.store.ListParts(ctx, mp.Key, upID); !errors.Is(err, ErrNotFound) {
		t.Errorf("multipart upload still in the store after expiry (ListParts err %v)", err)
	}
	if _, err := e.store.Stat(ctx, single.Key); !errors.Is(err, ErrNotFound) {
		t.Errorf("single upload's object still in the store after expiry (Stat err %v)", err)
	}
	if st := e.state(t, svc, later.ID); st != sessions.StatePending {
		t.Errorf("the later session is %s, want pending", st)
	}
	evs := e.sink.ofType(EventExpired)
	if len(evs) != 2 {
		t.Fatalf("%d upload.expired events, want 2: %+v", len(evs), evs)
	}
	// The open-session slots are given back: only the later session holds one.
	if n, err := e.rc.ZCard(ctx, "chute:open:{alice}").Result(); err != nil || n != 1 {
		t.Errorf("open slots of alice = %d (%v), want 1", n, err)
	}
	// The expired sessions left the index; a further tick finds nothing.
	if res, err := svc.ExpireDue(ctx, JanitorConfig{}); err != nil || res.Due != 0 {
		t.Errorf("second tick = %+v, %v; want nothing due", res, err)
	}
	// A client still sees the session, as expired.
	st, err := svc.Status(ctx, "alice", mp.ID, false)
	if err != nil || st.State != string(sessions.StateExpired) {
		t.Errorf("Status = %+v, %v; want expired", st, err)
	}
}

func TestJanitorTwoReplicasAbortEachOnce(t *testing.T) {
	e := newJanitorEnv(t)
	a, b := e.service(t), e.service(t)
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.createMultipart(t, a).ID
	}
	e.clk.add(2 * time.Hour)

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := JanitorTick{}
	for _, svc := range []*Service{a, b, a, b} {
		wg.Go(func() {
			for range 3 {
				res, err := svc.ExpireDue(t.Context(), JanitorConfig{Batch: 7})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total.Expired += res.Expired
				total.Failed += res.Failed
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Whatever is left (claims held by the others), one more pass after
	// the claims ran out finishes.
	e.mr.FastForward(time.Minute)
	for range n {
		res, err := a.ExpireDue(t.Context(), JanitorConfig{Batch: n})
		if err != nil {
			t.Fatal(err)
		}
		total.Expired += res.Expired
		if res.Due == 0 {
			break
		}
		e.mr.FastForward(time.Minute)
	}
	if total.Expired != n || total.Failed != 0 {
		t.Fatalf("expired %d, failed %d; want %d, 0", total.Expired, total.Failed, n)
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	for _, id := range ids {
		if st := e.state(t, a, id); st != sessions.StateExpired {
			t.Errorf("session %s is %s", id, st)
		}
		if c := e.store.aborts[uploadIDOf(t, a, id)]; c != 1 {
			t.Errorf("upload of %s aborted %d times, want once", id, c)
		}
	}
	if evs := e.sink.ofType(EventExpired); len(evs) != n {
		t.Errorf("%d upload.expired events, want %d", len(evs), n)
	}
}

func TestJanitorStoreFailureRetriedNextTick(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	ctx := t.Context()
	mp := e.createMultipart(t, svc)
	e.clk.add(2 * time.Hour)

	e.store.setFail(fmt.Errorf("%w: connection refused", ErrUnavailable))
	res, err := svc.ExpireDue(ctx, JanitorConfig{Claim: 5 * time.Second})
	if err != nil || res.Failed != 1 || res.Expired != 0 {
		t.Fatalf("tick with the store down = %+v, %v; want 1 failed", res, err)
	}
	if st := e.state(t, svc, mp.ID); st != sessions.StatePending {
		t.Fatalf("after a failed abort the session is %s, want it left pending", st)
	}
	e.store.setFail(nil)
	// The claim still holds: this replica's next tick leaves it alone...
	if res, _ := svc.ExpireDue(ctx, JanitorConfig{Claim: 5 * time.Second}); res.Busy != 1 || res.Expired != 0 {
		t.Fatalf("tick while claimed = %+v, want 1 busy", res)
	}
	// ...and once it ran out, the session is expired.
	e.mr.FastForward(6 * time.Second)
	res, err = svc.ExpireDue(ctx, JanitorConfig{Claim: 5 * time.Second})
	if err != nil || res.Expired != 1 {
		t.Fatalf("tick after the store came back = %+v, %v; want 1 expired", res, err)
	}
	if c := e.store.aborts[uploadIDOf(t, svc, mp.ID)]; c != 2 {
		t.Errorf("AbortMultipart called %d times, want 2 (one failed, one done)", c)
	}
	if evs := e.sink.ofType(EventExpired); len(evs) != 1 {
		t.Errorf("%d upload.expired events, want 1", len(evs))
	}

	// Redis down: the tick reports it and changes nothing.
	e.mr.Close()
	if _, err := svc.ExpireDue(ctx, JanitorConfig{}); err == nil {
		t.Error("tick with Redis down: no error")
	}
}

func TestJanitorBatchBound(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	for range 7 {
		e.createMultipart(t, svc)
	}
	e.clk.add(2 * time.Hour)
	for i, want := range []int{3, 3, 1, 0} {
		res, err := svc.ExpireDue(t.Context(), JanitorConfig{Batch: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.Due != want || res.Expired != want {
			t.Fatalf("tick %d = %+v, want %d due and expired", i, res, want)
		}
	}
}

func TestJanitorStaleEntriesAndLockedSessions(t *testing.T) {
	e := newJanitorEnv(t)
	svc := e.service(t)
	ctx := t.Context()
	exp, _ := sessions.AsExpirer(svc.sessions)

	aborted := e.createMultipart(t, svc)
	if _, err := svc.Abort(ctx, "alice", aborted.ID); err != nil {
		t.Fatal(err)
	}
	gone := e.createMultipart(t, svc)
	completing := e.createMultipart(t, svc)
	stale := e.createMultipart(t, svc)
	moved := e.createMultipart(t, svc)
	for _, id := range []string{completing.ID, stale.ID} {
		if _, err := svc.sessions.Transition(ctx, id, sessions.Change{
			From: []sessions.State{sessions.StatePending}, To: sessions.StateCompleting,
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A complete is running on "completing": it holds the lock.
	if _, ok, err := svc.sessions.TryLock(ctx, completing.ID, time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	e.clk.add(2 * time.Hour)
	// Entries the index got wrong: an aborted session put back, a session
	// whose keys are gone, one whose expiry moved later.
	_ = exp.ScheduleExpiry(ctx, aborted.ID, e.clk.now().Add(-time.Minute))
	e.mr.Del("chute:{" + gone.ID + "}:s")
	if _, err := svc.sessions.Transition(ctx, moved.ID, sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateUploading, ExpiresAt: e.clk.now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	_ = exp.ScheduleExpiry(ctx, moved.ID, e.clk.now().Add(-time.Minute))

	abortsBefore := e.store.aborts[uploadIDOf(t, svc, aborted.ID)]
	res, err := svc.ExpireDue(ctx, JanitorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// stale expired; aborted, gone and moved forgotten (moved re-scored);
	// completing busy.
	if res.Due != 5 || res.Expired != 1 || res.Forgotten != 3 || res.Busy != 1 || res.Failed != 0 {
		t.Fatalf("tick = %+v", res)
	}
	if st := e.state(t, svc, stale.ID); st != sessions.StateExpired {
		t.Errorf("stale completing session is %s, want expired", st)
	}
	if st := e.state(t, svc, completing.ID); st != sessions.StateCompleting {
		t.Errorf("locked completing session is %s, want completing", st)
	}
	if c := e.store.aborts[uploadIDOf(t, svc, aborted.ID)]; c != abortsBefore {
		t.Errorf("the aborted session's upload was aborted again")
	}
	ids, _ := exp.DueForExpiry(ctx, e.clk.now(), 100)
	if len(ids) != 1 || ids[0] != completing.ID {
		t.Errorf("due after the tick = %v, want only the locked one", ids)
	}
	ids, _ = exp.DueForExpiry(ctx, e.clk.now().Add(2*time.Hour), 100)
	if len(ids) != 2 {
		t.Errorf("due in 2h = %v, want the locked and the moved one", ids)
	}
}
