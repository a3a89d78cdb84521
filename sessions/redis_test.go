package sessions_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
	"github.com/chute-dev/chute/sessions/sessiontest"
)

// newMiniredis starts a miniredis whose TTLs run down with the wall clock
// (ClockTTL), as a real Redis's do, so expiry is observed, not simulated.
func newMiniredis(t testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	m := miniredis.RunT(t)
	m.ClockTTL(true)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	return m, client
}

func TestRedisStoreConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) sessions.Store {
		_, client := newMiniredis(t)
		return sessions.NewRedisStore(client, sessions.WithRetention(time.Second))
	})
}

func TestRedisStoreConformanceSharedPrefixed(t *testing.T) {
	// One server for every subtest, as a shared real Redis would be.
	_, client := newMiniredis(t)
	store := sessions.NewRedisStore(client, sessions.WithKeyPrefix("acme:uploads"), sessions.WithRetention(time.Second))
	sessiontest.Run(t, func(*testing.T) sessions.Store { return store })
}

func session(id string, expires time.Time) *sessions.Session {
	now := time.Now()
	return &sessions.Session{
		ID: id, Subject: "alice", Profile: "default", Backend: "main",
		Key: "alice/" + id, UploadID: "u1", Strategy: sessions.StrategyMultipart,
		State: sessions.StatePending, Filename: "f.bin", ContentType: "application/octet-stream",
		Size: 64 * 5 * multipart.MiB, PartSize: 5 * multipart.MiB, PartCount: 64,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: expires,
	}
}

// ttlNear fails unless the key's TTL puts its expiry within a second of want.
func ttlNear(t *testing.T, m *miniredis.Miniredis, key string, want time.Time) {
	t.Helper()
	ttl := m.TTL(key)
	if ttl <= 0 {
		t.Fatalf("key %s has no TTL (keys: %v)", key, m.Keys())
	}
	if d := time.Until(want) - ttl; d > time.Second || d < -time.Second {
		t.Errorf("key %s expires in %v, want about %v", key, ttl, time.Until(want))
	}
}

func TestRedisKeyLayout(t *testing.T) {
	ctx := t.Context()
	m, client := newMiniredis(t)
	const retention = 30 * time.Minute
	store := sessions.NewRedisStore(client, sessions.WithRetention(retention))
	expires := time.Now().Add(time.Hour)
	if err := store.Create(ctx, session("abc", expires)); err != nil {
		t.Fatal(err)
	}
	sk, pk, lk := "chute:{abc}:s", "chute:{abc}:p", "chute:{abc}:l"
	if got := m.Keys(); !slices.Equal(got, []string{"chute:expiry", sk}) {
		t.Fatalf("keys after Create = %v, want [chute:expiry %s]", got, sk)
	}
	if got, err := m.ZScore("chute:expiry", "abc"); err != nil || int64(got) != expires.UnixMilli() {
		t.Errorf("expiry index score = %v (%v), want %d", got, err, expires.UnixMilli())
	}
	if got := m.HGet(sk, "state"); got != "pending" {
		t.Errorf("state field = %q", got)
	}
	if got := m.HGet(sk, "expires_at"); got != strconv.FormatInt(expires.UnixMilli(), 10) {
		t.Errorf("expires_at field = %q, want unix ms %d", got, expires.UnixMilli())
	}
	ttlNear(t, m, sk, expires.Add(retention))

	if _, err := store.PutPart(ctx, "abc", multipart.Part{Number: 7, ETag: `"e7"`, Size: 5}); err != nil {
		t.Fatal(err)
	}
	if got := m.HGet(pk, "7"); got != `5 "e7"` {
		t.Errorf("part 7 stored as %q, want %q", got, `5 "e7"`)
	}
	ttlNear(t, m, pk, expires.Add(retention))
	ttlNear(t, m, sk, expires.Add(retention))

	moved := time.Now().Add(10 * time.Minute)
	if _, err := store.Transition(ctx, "abc", sessions.Change{
		From: []sessions.State{sessions.StateUploading}, To: sessions.StateAborted, ExpiresAt: moved,
	}); err != nil {
		t.Fatal(err)
	}
	ttlNear(t, m, sk, moved.Add(retention))
	ttlNear(t, m, pk, moved.Add(retention))

	if _, ok, err := store.TryLock(ctx, "abc", time.Minute); !ok || err != nil {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	if ttl := m.TTL(lk); ttl <= 0 || ttl > time.Minute {
		t.Errorf("lock TTL = %v, want (0, 1m]", ttl)
	}
	// The aborted session left the index (the empty set is gone).
	if got := m.Keys(); !slices.Equal(got, []string{lk, pk, sk}) {
		t.Errorf("keys = %v", got)
	}
	if ok, err := store.ClaimExpiry(ctx, "abc", time.Minute); !ok || err != nil {
		t.Fatalf("ClaimExpiry: %v %v", ok, err)
	}
	if ttl := m.TTL("chute:{abc}:j"); ttl <= 0 || ttl > time.Minute {
		t.Errorf("claim TTL = %v, want (0, 1m]", ttl)
	}

	prefixed := sessions.NewRedisStore(client, sessions.WithKeyPrefix("acme"))
	if err := prefixed.Create(ctx, session("abc", expires)); err != nil {
		t.Fatalf("Create under another prefix: %v", err)
	}
	if !m.Exists("acme:{abc}:s") {
		t.Errorf("keys = %v, want acme:{abc}:s among them", m.Keys())
	}
}

func TestRedisStoreRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	_, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	if err := store.Create(ctx, session("", time.Now().Add(time.Hour))); err == nil {
		t.Error("Create with an empty id: no error")
	}
	if err := store.Create(ctx, session("x", time.Time{})); err == nil {
		t.Error("Create without ExpiresAt: no error")
	}
	if err := store.Create(ctx, session("x", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutPart(ctx, "x", multipart.Part{Number: 0, ETag: "e", Size: 1}); err == nil || errors.Is(err, sessions.ErrUnavailable) {
		t.Errorf("PutPart of part 0: err = %v, want a plain error", err)
	}
	if _, err := store.Transition(ctx, "x", sessions.Change{From: []sessions.State{sessions.StatePending}}); err == nil {
		t.Error("Transition with no target state: no error")
	}
	if _, _, err := store.TryLock(ctx, "x", 0); err == nil {
		t.Error("TryLock with ttl 0: no error")
	}
	for _, p := range []string{"a{b", "a}b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewRedisStore with prefix %q did not panic", p)
				}
			}()
			sessions.NewRedisStore(client, sessions.WithKeyPrefix(p))
		}()
	}
}

func TestRedisStoreSurvivesScriptFlush(t *testing.T) {
	ctx := t.Context()
	_, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	if err := store.Create(ctx, session("f", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutPart(ctx, "f", multipart.Part{Number: 1, ETag: "e", Size: 1}); err != nil {
		t.Fatalf("PutPart after SCRIPT FLUSH: %v", err)
	}
}

// everyCall runs each Store method once and returns their errors by name.
func everyCall(ctx context.Context, s sessions.Store) map[string]error {
	errs := map[string]error{}
	errs["Create"] = s.Create(ctx, session("down", time.Now().Add(time.Hour)))
	_, errs["Get"] = s.Get(ctx, "down")
	_, errs["PutPart"] = s.PutPart(ctx, "down", multipart.Part{Number: 1, ETag: "e", Size: 1})
	_, errs["Transition"] = s.Transition(ctx, "down", sessions.Change{
		From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted,
	})
	_, _, errs["TryLock"] = s.TryLock(ctx, "down", time.Second)
	errs["Unlock"] = s.Unlock(ctx, "down", "token")
	errs["Ping"] = s.Ping(ctx)
	return errs
}

// fastClient is a client that gives up at once: no command retries, one
// dial attempt, short timeouts.
func fastClient(t *testing.T, addr string) *redis.Client {
	client := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func checkUnavailable(t *testing.T, errs map[string]error, also func(error) bool) {
	t.Helper()
	for name, err := range errs {
		if !errors.Is(err, sessions.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
			continue
		}
		if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrConflict) || errors.Is(err, sessions.ErrExists) {
			t.Errorf("%s: %v also reads as a session answer", name, err)
		}
		if also != nil && !also(err) {
			t.Errorf("%s: %v lost its cause", name, err)
		}
	}
}

func TestRedisStoreUnavailableRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	client := fastClient(t, addr)
	checkUnavailable(t, everyCall(t.Context(), sessions.NewRedisStore(client)), func(err error) bool {
		var op *net.OpError
		return errors.As(err, &op)
	})
}

func TestRedisStoreUnavailableTimeout(t *testing.T) {
	// A server that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	client := fastClient(t, ln.Addr().String())
	checkUnavailable(t, everyCall(t.Context(), sessions.NewRedisStore(client)), func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	})
}

func TestRedisStoreUnavailableContext(t *testing.T) {
	_, client := newMiniredis(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checkUnavailable(t, everyCall(ctx, sessions.NewRedisStore(client)), func(err error) bool {
		return errors.Is(err, context.Canceled)
	})
}

func TestRedisStoreUnavailableAfterServerGone(t *testing.T) {
	m, _ := newMiniredis(t)
	store := sessions.NewRedisStore(fastClient(t, m.Addr()))
	if err := store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping while up: %v", err)
	}
	m.Close()
	checkUnavailable(t, everyCall(t.Context(), store), nil)
}

func TestRedisStoreUnavailableErrorReply(t *testing.T) {
	m, _ := newMiniredis(t)
	client := fastClient(t, m.Addr())
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	m.SetError("LOADING Redis is loading the dataset in memory")
	checkUnavailable(t, everyCall(t.Context(), sessions.NewRedisStore(client)), func(err error) bool {
		var re redis.Error
		return errors.As(err, &re)
	})
}

func benchStore(b *testing.B, parts int) (*sessions.RedisStore, string) {
	_, client := newMiniredis(b)
	store := sessions.NewRedisStore(client)
	ctx := b.Context()
	if err := store.Create(ctx, session("bench", time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	for n := 1; n <= parts; n++ {
		if _, err := store.PutPart(ctx, "bench", multipart.Part{Number: n, ETag: `"0123456789abcdef0123456789abcdef"`, Size: 5 * multipart.MiB}); err != nil {
			b.Fatal(err)
		}
	}
	return store, "bench"
}

// BenchmarkPutPart reports a part of a 64-part session; each call also
// returns the whole session with its parts.
func BenchmarkPutPart(b *testing.B) {
	store, id := benchStore(b, 64)
	ctx := b.Context()
	n := 0
	for b.Loop() {
		n = n%64 + 1
		if _, err := store.PutPart(ctx, id, multipart.Part{Number: n, ETag: `"fedcba9876543210fedcba9876543210"`, Size: 5 * multipart.MiB}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads a session with 64 parts.
func BenchmarkGet(b *testing.B) {
	store, id := benchStore(b, 64)
	ctx := b.Context()
	for b.Loop() {
		s, err := store.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Parts) != 64 {
			b.Fatalf("%d parts", len(s.Parts))
		}
	}
}

func TestRedisStoreGetSessionSkipsParts(t *testing.T) {
	_, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	ctx := context.Background()
	if _, err := store.GetSession(ctx, "nope"); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if _, err := store.GetSession(ctx, ""); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("empty id: %v", err)
	}
	s := session("upl_head", time.Now().Add(time.Hour))
	s.Metadata = map[string]string{"title": "x"}
	if err := store.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutPart(ctx, s.ID, multipart.Part{Number: 2, ETag: "e2", Size: 5 * multipart.MiB}); err != nil {
		t.Fatal(err)
	}
	head, err := store.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	full, err := store.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if head.Parts != nil || len(full.Parts) != 1 {
		t.Fatalf("head parts %v, full parts %v", head.Parts, full.Parts)
	}
	full.Parts = nil
	if head.ID != full.ID || head.State != sessions.StateUploading || head.Subject != full.Subject ||
		head.Size != full.Size || head.PartCount != full.PartCount || head.Metadata["title"] != "x" ||
		!head.ExpiresAt.Equal(full.ExpiresAt) || !head.UpdatedAt.Equal(full.UpdatedAt) {
		t.Fatalf("head %+v\nfull %+v", head, full)
	}
	// A session with no parts reported: Get says so with an empty list.
	s2 := session("upl_head2", time.Now().Add(time.Hour))
	if err := store.Create(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Get(ctx, s2.ID); err != nil || got.Parts == nil || len(got.Parts) != 0 {
		t.Fatalf("Get without parts: %+v %v", got, err)
	}
}

// BenchmarkGetSession reads the same session without its parts (what
// part-urls and a report's checks need).
func BenchmarkGetSession(b *testing.B) {
	store, id := benchStore(b, 64)
	ctx := b.Context()
	for b.Loop() {
		if _, err := store.GetSession(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
