package broker

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// switchStore is a session store that can be stopped: while down, every
// call hangs for a while (as a SIGSTOPped Redis does until the client
// times out) and fails with sessions.ErrUnavailable. It counts session
// reads.
type switchStore struct {
	*sessions.RedisStore
	down  atomic.Bool
	reads atomic.Int32
}

const downHang = 300 * time.Millisecond

func (s *switchStore) stopped(ctx context.Context) error {
	if !s.down.Load() {
		return nil
	}
	select {
	case <-time.After(downHang):
	case <-ctx.Done():
	}
	return fmt.Errorf("%w: i/o timeout", sessions.ErrUnavailable)
}

func (s *switchStore) Create(ctx context.Context, sess *sessions.Session) error {
	if err := s.stopped(ctx); err != nil {
		return err
	}
	return s.RedisStore.Create(ctx, sess)
}

func (s *switchStore) Get(ctx context.Context, id string) (*sessions.Session, error) {
	s.reads.Add(1)
	if err := s.stopped(ctx); err != nil {
		return nil, err
	}
	return s.RedisStore.Get(ctx, id)
}

func (s *switchStore) GetSession(ctx context.Context, id string) (*sessions.Session, error) {
	s.reads.Add(1)
	if err := s.stopped(ctx); err != nil {
		return nil, err
	}
	return s.RedisStore.GetSession(ctx, id)
}

func (s *switchStore) PutPart(ctx context.Context, id string, p multipart.Part) (*sessions.Session, error) {
	if err := s.stopped(ctx); err != nil {
		return nil, err
	}
	return s.RedisStore.PutPart(ctx, id, p)
}

func (s *switchStore) Transition(ctx context.Context, id string, c sessions.Change) (*sessions.Session, error) {
	if err := s.stopped(ctx); err != nil {
		return nil, err
	}
	return s.RedisStore.Transition(ctx, id, c)
}

func (s *switchStore) TryLock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	if err := s.stopped(ctx); err != nil {
		return "", false, err
	}
	return s.RedisStore.TryLock(ctx, id, ttl)
}

// replica is one Service of a cluster sharing a session Redis and a store.
type cacheReplica struct {
	svc   *Service
	store *switchStore
}

// newCacheReplicas returns n replicas on one miniredis and one fake store,
// each with its own signing cache configured by cfg (and, with bus, an
// EndBus on that Redis, followed until the test ends).
func newCacheReplicas(t *testing.T, n int, cfg SignCacheConfig, bus bool) ([]cacheReplica, *fakeStore) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	fs := newFakeStore()
	var out []cacheReplica
	for range n {
		st := &switchStore{RedisStore: sessions.NewRedisStore(rc)}
		c := cfg
		if bus {
			c.Bus = sessions.NewEndBus(rc, "")
		}
		svc, err := New(Config{
			Profiles: map[string]Profile{
				"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB, PartSize: 5 * multipart.MiB,
					SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"video/*"}, URLTTL: 15 * time.Minute,
					KeyTemplate: "{subject}/{id}{ext}"},
			},
			Backends:  map[string]ObjectStore{"main": fs},
			Sessions:  st,
			TTL:       time.Hour,
			SignCache: c,
		})
		if err != nil {
			t.Fatal(err)
		}
		if bus {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = svc.RunSignCache(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
		}
		out = append(out, cacheReplica{svc: svc, store: st})
	}
	return out, fs
}

func partURLs(svc *Service, subject, id string, n ...int) error {
	_, err := svc.PartURLs(context.Background(), subject, id, PartURLsRequest{PartNumbers: n})
	return err
}

// waitCode waits (up to 3 s) until f's error has code want.
func waitCode(t *testing.T, what string, want Code, f func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := f()
		if ErrorCode(err) == want || (want == "" && err == nil) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, want code %q", what, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSigningWithTheSessionStoreDown: a replica signs part URLs for the
// sessions it knows (created here, or read once) without reading the
// session store, also while the store is down; an unknown session, a
// report and a complete need the store and answer 503.
func TestSigningWithTheSessionStoreDown(t *testing.T) {
	reps, fs := newCacheReplicas(t, 2, SignCacheConfig{}, false)
	a, b := reps[0], reps[1]
	ctx := context.Background()
	res, err := a.svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}
	open, err := a.svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "u.mp4", ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	// Replica b reads each session once, then signs from memory.
	for range 3 {
		if err := partURLs(b.svc, "alice", res.ID, 2, 3); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.SignPart(ctx, "alice", open.ID, 2); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.store.reads.Load(); got != 2 {
		t.Fatalf("replica b read the session store %d times for 6 signatures of 2 sessions, want 2", got)
	}
	if got := a.store.reads.Load(); got != 0 {
		t.Fatalf("the creating replica read the session store %d times to sign", got)
	}
	// An upload created on a while both are up, never seen by b.
	other, err := a.svc.Create(ctx, "alice", CreateRequest{Filename: "w.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}

	a.store.down.Store(true)
	b.store.down.Store(true)
	for _, r := range reps {
		start := time.Now()
		out, err := r.svc.PartURLs(ctx, "alice", res.ID, PartURLsRequest{PartNumbers: []int{1, 4}})
		if err != nil || len(out.Parts) != 2 || out.Parts[1].Size != 5*multipart.MiB {
			t.Fatalf("part-urls with the session store down: %+v %v", out, err)
		}
		p, err := r.svc.SignPart(ctx, "alice", open.ID, 3)
		if err != nil || p.PartNumber != 3 {
			t.Fatalf("sign-part with the session store down: %+v %v", p, err)
		}
		if d := time.Since(start); d >= downHang {
			t.Fatalf("signing waited %v for the stopped session store", d)
		}
		// Ownership and the key are still checked.
		wantCode(t, partURLs(r.svc, "bob", res.ID, 1), CodeNotFound)
		if loc, err := r.svc.Locate(ctx, "alice", open.ID); err != nil || loc.Key != open.Key {
			t.Fatalf("the key with the session store down: %+v %v", loc, err)
		}
		// The plan too.
		wantCode(t, partURLs(r.svc, "alice", res.ID, 5), CodeInvalidRequest)
	}
	// Unknown to b: b must read it, and cannot.
	wantCode(t, partURLs(b.svc, "alice", other.ID, 1), CodeStorageUnavailable)
	// Writes need the store.
	etag := fs.putPart(fs.uploadIDOf(res.Key), 1, 5*multipart.MiB)
	_, err = a.svc.ReportPart(ctx, "alice", res.ID, 1, ReportRequest{ETag: etag, Size: size(5 * multipart.MiB)})
	wantCode(t, err, CodeStorageUnavailable)
	_, err = a.svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeStorageUnavailable)
	_, err = a.svc.Create(ctx, "alice", CreateRequest{Filename: "x.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
	wantCode(t, err, CodeStorageUnavailable)

	// Back up: the upload completes with the parts signed meanwhile.
	a.store.down.Store(false)
	b.store.down.Store(false)
	var list []CompletePart
	for n := 1; n <= 4; n++ {
		list = append(list, CompletePart{PartNumber: n, ETag: fs.putPart(fs.uploadIDOf(res.Key), n, 5*multipart.MiB)})
	}
	done, err := b.svc.Complete(ctx, "alice", res.ID, CompleteRequest{Parts: list})
	if err != nil || done.State != "completed" || done.Size != 20*multipart.MiB {
		t.Fatalf("complete after the outage: %+v %v", done, err)
	}
}

// TestSigningStopsWhenTheSessionEnds: the replica that ends a session
// refuses part URLs for it at once; another replica as soon as the bus
// tells it.
func TestSigningStopsWhenTheSessionEnds(t *testing.T) {
	reps, fs := newCacheReplicas(t, 2, SignCacheConfig{Refresh: time.Hour}, true)
	a, b := reps[0], reps[1]
	ctx := context.Background()
	ends := []struct {
		name string
		end  func(t *testing.T, id, key string)
	}{
		{"complete", func(t *testing.T, id, key string) {
			var list []CompletePart
			for n := 1; n <= 4; n++ {
				list = append(list, CompletePart{PartNumber: n, ETag: fs.putPart(fs.uploadIDOf(key), n, 5*multipart.MiB)})
			}
			if _, err := a.svc.Complete(ctx, "alice", id, CompleteRequest{Parts: list}); err != nil {
				t.Fatal(err)
			}
		}},
		{"abort", func(t *testing.T, id, _ string) {
			if _, err := a.svc.Abort(ctx, "alice", id); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			res, err := a.svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reps {
				if err := partURLs(r.svc, "alice", res.ID, 1); err != nil {
					t.Fatal(err)
				}
			}
			e.end(t, res.ID, res.Key)
			wantCode(t, partURLs(a.svc, "alice", res.ID, 1), CodeConflict)
			waitCode(t, "replica b after the end", CodeConflict, func() error { return partURLs(b.svc, "alice", res.ID, 1) })
			// Other subjects still get not_found.
			wantCode(t, partURLs(b.svc, "bob", res.ID, 1), CodeNotFound)
		})
	}
}

// TestSigningCacheRefreshes: without a bus, a replica learns another's end
// by re-reading its entry after Refresh (in the background: the call that
// notices still answers from memory).
func TestSigningCacheRefreshes(t *testing.T) {
	reps, _ := newCacheReplicas(t, 2, SignCacheConfig{Refresh: 50 * time.Millisecond}, false)
	a, b := reps[0], reps[1]
	ctx := context.Background()
	res, err := a.svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}
	if err := partURLs(b.svc, "alice", res.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Abort(ctx, "alice", res.ID); err != nil {
		t.Fatal(err)
	}
	if err := partURLs(b.svc, "alice", res.ID, 1); err != nil {
		t.Fatalf("within Refresh b answers from memory: %v", err)
	}
	waitCode(t, "replica b after Refresh", CodeConflict, func() error { return partURLs(b.svc, "alice", res.ID, 1) })
}

// TestSigningAtExpiry: an entry is dropped at the session's expiry; the
// store then answers (expired: 409).
func TestSigningAtExpiry(t *testing.T) {
	reps, _ := newCacheReplicas(t, 1, SignCacheConfig{Refresh: 24 * time.Hour}, false)
	a := reps[0]
	ctx := context.Background()
	res, err := a.svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(20 * multipart.MiB)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.svc.now = func() time.Time { return now.Add(59 * time.Minute) }
	if err := partURLs(a.svc, "alice", res.ID, 1); err != nil || a.store.reads.Load() != 0 {
		t.Fatalf("before expiry: %v, %d reads", err, a.store.reads.Load())
	}
	a.svc.now = func() time.Time { return now.Add(61 * time.Minute) }
	wantCode(t, partURLs(a.svc, "alice", res.ID, 1), CodeConflict)
	if a.store.reads.Load() != 1 || a.svc.signs.len() != 0 {
		t.Fatalf("past expiry: %d reads, %d entries; want the entry dropped and the store read", a.store.reads.Load(), a.svc.signs.len())
	}
}

// TestSignCacheEntries: the cache's own rules.
func TestSignCacheEntries(t *testing.T) {
	now := time.Now()
	sess := func(id string) *sessions.Session {
		return &sessions.Session{ID: id, Subject: "alice", State: sessions.StatePending, Strategy: sessions.StrategyMultipart,
			ExpiresAt: now.Add(time.Hour), Parts: []multipart.Part{{Number: 1}}}
	}
	t.Run("bounded, least recently used goes", func(t *testing.T) {
		c := newSignCache(SignCacheConfig{Size: 2})
		c.put(sess("a"), now)
		c.put(sess("b"), now)
		c.get("a", now)
		c.put(sess("c"), now)
		if _, found, _ := c.get("b", now); found {
			t.Fatal("b, least recently used, is kept past the bound")
		}
		for _, id := range []string{"a", "c"} {
			if s, _, _ := c.get(id, now); s == nil || s.Parts != nil {
				t.Fatalf("%s: %+v", id, s)
			}
		}
	})
	t.Run("a read in flight cannot undo an end", func(t *testing.T) {
		c := newSignCache(SignCacheConfig{})
		c.end("a", sessions.StateCompleted, nil, now)
		c.put(sess("a"), now)
		if s, found, _ := c.get("a", now); s != nil || !found {
			t.Fatalf("after end and a late put: %+v %v", s, found)
		}
		c.put(sess("b"), now)
		c.end("b", sessions.StateAborted, nil, now)
		if s, _, _ := c.get("b", now); s == nil || s.State != sessions.StateAborted {
			t.Fatalf("b after end: %+v", s)
		}
		c.drop("b")
		if _, found, _ := c.get("b", now); !found {
			t.Fatal("drop removed a tombstone")
		}
	})
	t.Run("dropped at expiry", func(t *testing.T) {
		c := newSignCache(SignCacheConfig{})
		c.put(sess("a"), now)
		c.put(sess("b"), now)
		c.sweep(now.Add(2 * time.Hour))
		if c.len() != 0 {
			t.Fatalf("%d entries past expiry", c.len())
		}
	})
	t.Run("stale after refresh or reset, one re-read at a time", func(t *testing.T) {
		c := newSignCache(SignCacheConfig{Refresh: time.Minute})
		c.put(sess("a"), now)
		if _, _, stale := c.get("a", now.Add(time.Second)); stale {
			t.Fatal("fresh entry stale")
		}
		c.reset(now.Add(time.Second))
		if _, _, stale := c.get("a", now.Add(2*time.Second)); !stale {
			t.Fatal("entry not stale after reset")
		}
		if _, _, stale := c.get("a", now.Add(3*time.Second)); stale {
			t.Fatal("a second re-read started while one runs")
		}
		c.refreshed("a", nil, fmt.Errorf("down"), now.Add(3*time.Second))
		if s, _, stale := c.get("a", now.Add(4*time.Second)); s == nil || stale {
			t.Fatalf("after a failed re-read the entry must stay and wait: %+v %v", s, stale)
		}
		if _, _, stale := c.get("a", now.Add(2*time.Minute)); !stale {
			t.Fatal("not stale after Refresh")
		}
		c.refreshed("a", nil, nil, now.Add(2*time.Minute))
		if _, found, _ := c.get("a", now.Add(2*time.Minute)); found {
			t.Fatal("kept after the store forgot the session")
		}
	})
}

// hangStore is a session store whose reads wait for their context to end.
type hangStore struct{ *sessions.RedisStore }

func (h hangStore) Get(ctx context.Context, _ string) (*sessions.Session, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("%w: %w", sessions.ErrUnavailable, ctx.Err())
}

func (h hangStore) GetSession(ctx context.Context, id string) (*sessions.Session, error) {
	return h.Get(ctx, id)
}

// TestSigningReadTimeout: the HTTP layer signs with a context that has no
// deadline; a miss that reads the session store is then bounded by
// SignCacheConfig.ReadTimeout, with the cache on and off.
func TestSigningReadTimeout(t *testing.T) {
	for _, size := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache size %d", size), func(t *testing.T) {
			mr := miniredis.RunT(t)
			rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			t.Cleanup(func() { _ = rc.Close() })
			svc, err := New(Config{
				Profiles: map[string]Profile{"default": {Name: "default", Backend: "main", MaxSize: multipart.GiB,
					PartSize: 5 * multipart.MiB, SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"*/*"},
					URLTTL: time.Minute, KeyTemplate: "{id}"}},
				Backends:  map[string]ObjectStore{"main": newFakeStore()},
				Sessions:  hangStore{sessions.NewRedisStore(rc)},
				TTL:       time.Hour,
				SignCache: SignCacheConfig{Size: size, ReadTimeout: 50 * time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- partURLs(svc, "alice", "upl_"+strings.Repeat("a", 26), 1) }()
			select {
			case err := <-done:
				if ErrorCode(err) != CodeStorageUnavailable {
					t.Fatalf("got %v, want storage_unavailable", err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("took %v", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a signing miss without a deadline still waits after 5 s")
			}
		})
	}
}

// TestSignCacheEntriesAreNotChanged: get hands out the cached session
// itself, so an end must install a new copy, never change the one a
// signer may be reading.
func TestSignCacheEntriesAreNotChanged(t *testing.T) {
	c := newSignCache(SignCacheConfig{})
	now := time.Now()
	c.put(&sessions.Session{ID: "u1", Subject: "alice", State: sessions.StateUploading, ExpiresAt: now.Add(time.Hour)}, now)
	held, found, _ := c.get("u1", now)
	if held == nil || !found {
		t.Fatal("no entry")
	}
	c.end("u1", sessions.StateCompleted, nil, now)
	if held.State != sessions.StateUploading {
		t.Fatalf("the session a signer holds changed to %s", held.State)
	}
	if now2, _, _ := c.get("u1", now); now2 != nil && now2.State != sessions.StateCompleted {
		t.Fatalf("entry state %s after end", now2.State)
	}
}
