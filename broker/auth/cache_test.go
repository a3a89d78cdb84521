package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a settable time source for the cache.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func cacheKey(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func TestTokenCacheExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newTokenCache(100)
	c.now = clk.now

	c.put(cacheKey("short"), "alice", clk.t.Add(10*time.Second))
	c.put(cacheKey("long"), "bob", clk.t.Add(time.Hour))
	c.put(cacheKey("past"), "carol", clk.t.Add(-time.Second)) // accepted through leeway only
	if sub, ok := c.get(cacheKey("short")); !ok || sub != "alice" {
		t.Fatalf("short: %q %v", sub, ok)
	}
	if _, ok := c.get(cacheKey("past")); ok {
		t.Fatal("a token past its exp was cached")
	}
	if _, ok := c.get(cacheKey("unknown")); ok {
		t.Fatal("hit for a token never put")
	}

	clk.t = clk.t.Add(10 * time.Second) // exactly exp
	if _, ok := c.get(cacheKey("short")); ok {
		t.Fatal("token served from the cache at its exp")
	}
	if sub, ok := c.get(cacheKey("long")); !ok || sub != "bob" {
		t.Fatalf("long: %q %v", sub, ok)
	}
	clk.t = clk.t.Add(tokenCacheMaxAge) // past the cache's own bound
	if _, ok := c.get(cacheKey("long")); ok {
		t.Fatal("token served from the cache beyond tokenCacheMaxAge")
	}
}

func TestTokenCacheBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newTokenCache(50)
	c.now = clk.now
	// 10 that will expire, then 40 that will not.
	for i := range 10 {
		c.put(cacheKey(fmt.Sprint("old", i)), "x", clk.t.Add(time.Second))
	}
	for i := range 40 {
		c.put(cacheKey(fmt.Sprint("keep", i)), "y", clk.t.Add(time.Hour))
	}
	clk.t = clk.t.Add(2 * time.Second)
	// Full: the next put drops the expired entries, not the live ones.
	c.put(cacheKey("new"), "z", clk.t.Add(time.Hour))
	if n := c.len(); n != 41 {
		t.Fatalf("len %d after dropping expired entries, want 41", n)
	}
	for i := range 40 {
		if _, ok := c.get(cacheKey(fmt.Sprint("keep", i))); !ok {
			t.Fatalf("live entry keep%d evicted while expired ones were there", i)
		}
	}
	for i := range 1000 {
		c.put(cacheKey(fmt.Sprint("more", i)), "w", clk.t.Add(time.Hour))
		if n := c.len(); n > 50 {
			t.Fatalf("cache holds %d entries, bound 50", n)
		}
	}
	if sub, ok := c.get(cacheKey("more999")); !ok || sub != "w" {
		t.Fatalf("latest entry missing: %q %v", sub, ok)
	}
}

func TestJWTCache(t *testing.T) {
	a, err := NewJWT(JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good, _ := SignHS256(secret, "alice", time.Hour, "", "")
	if sub, err := a.Authenticate(ctx, good); err != nil || sub != "alice" {
		t.Fatalf("%q %v", sub, err)
	}
	if a.cache.len() != 1 {
		t.Fatalf("cache len %d after one good token, want 1", a.cache.len())
	}
	// With verification now failing for every token, the cached one is
	// still accepted (it is served from the cache) and any other is not.
	a.keyfunc = func(*jwt.Token) (any, error) { return nil, errors.New("no key") }
	if sub, err := a.Authenticate(ctx, good); err != nil || sub != "alice" {
		t.Fatalf("cached token: %q %v", sub, err)
	}
	other, _ := SignHS256(secret, "bob", time.Hour, "", "")
	if _, err := a.Authenticate(ctx, other); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("uncached token with no key: %v", err)
	}
	if _, err := a.Authenticate(ctx, good+"x"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("altered token: %v", err)
	}
	if a.cache.len() != 1 {
		t.Fatalf("failed tokens were cached: len %d", a.cache.len())
	}

	// A token past its exp but inside the leeway verifies and is not cached.
	b, _ := NewJWT(JWTConfig{Secret: secret, Leeway: time.Minute})
	late, _ := SignHS256(secret, "carol", -5*time.Second, "", "")
	if sub, err := b.Authenticate(ctx, late); err != nil || sub != "carol" {
		t.Fatalf("token inside the leeway: %q %v", sub, err)
	}
	if b.cache.len() != 0 {
		t.Fatal("a token past its exp was cached")
	}
}

func BenchmarkJWTAuthenticate(b *testing.B) {
	a, err := NewJWT(JWTConfig{Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := SignHS256(secret, "alice", time.Hour, "", "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJWTCached checks the context-free lookup the HTTP layer tries
// first: it answers only tokens Authenticate verified, only until the
// cached entry's end (the token's exp, at most tokenCacheMaxAge), and
// never verifies or caches anything itself.
func TestJWTCached(t *testing.T) {
	a, err := NewJWT(JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.cache.now = func() time.Time { return now }
	good, _ := SignHS256(secret, "alice", time.Hour, "", "")
	if sub, ok := a.Cached(good); ok || sub != "" {
		t.Fatalf("Cached before any verification = %q, %v", sub, ok)
	}
	if a.cache.len() != 0 {
		t.Fatal("Cached filled the cache")
	}
	if _, ok := a.Cached(""); ok {
		t.Fatal("Cached accepted the empty token")
	}
	if _, err := a.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if sub, ok := a.Cached(good); !ok || sub != "alice" {
		t.Fatalf("Cached after verification = %q, %v", sub, ok)
	}
	if _, ok := a.Cached(good + "x"); ok {
		t.Fatal("Cached accepted an altered token")
	}
	now = now.Add(tokenCacheMaxAge)
	if _, ok := a.Cached(good); ok {
		t.Fatal("Cached answered past tokenCacheMaxAge")
	}
	// A token whose exp comes before tokenCacheMaxAge: answered until exp.
	short, _ := SignHS256(secret, "bob", 10*time.Second, "", "")
	now = time.Now()
	if _, err := a.Authenticate(context.Background(), short); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Second)
	if _, ok := a.Cached(short); !ok {
		t.Fatal("Cached refused a token before its exp")
	}
	now = now.Add(2 * time.Second)
	if _, ok := a.Cached(short); ok {
		t.Fatal("Cached answered a token past its exp")
	}
	if sub, ok := (None{Subject: "dev"}).Cached("anything"); !ok || sub != "dev" {
		t.Fatalf("None.Cached = %q, %v", sub, ok)
	}
}

// TestTokenKey checks the cache key against the SHA-256 of a copy of the
// token, and that computing it copies nothing (no allocation) even for
// a token longer than the compiler's stack buffer for conversions.
func TestTokenKey(t *testing.T) {
	tok, _ := SignHS256(secret, "alice", time.Hour, "issuer", "audience")
	for _, s := range []string{"", "x", tok, strings.Repeat("t", 4096)} {
		if got, want := tokenKey(s), sha256.Sum256([]byte(s)); got != want {
			t.Errorf("tokenKey(%.20q…) = %x, want %x", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = tokenKey(tok) }); n != 0 {
		t.Errorf("tokenKey allocates %v times, want 0", n)
	}
	a, err := NewJWT(JWTConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := a.Cached(tok); !ok {
			t.Fatal("not cached")
		}
	}); n != 0 {
		t.Errorf("Cached allocates %v times, want 0", n)
	}
}

func BenchmarkJWTCached(b *testing.B) {
	a, err := NewJWT(JWTConfig{Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := SignHS256(secret, "alice", time.Hour, "", "")
	if _, err := a.Authenticate(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := a.Cached(tok); !ok {
			b.Fatal("not cached")
		}
	}
}
