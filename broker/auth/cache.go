package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// Bounds of the verified-token cache of JWT.
const (
	// tokenCacheSize is the most tokens the cache holds.
	tokenCacheSize = 10_000
	// tokenCacheMaxAge is the longest a verified token is trusted without
	// verifying it again, whatever its exp: it bounds how long a key
	// removed from a JWKS keeps its tokens valid through the cache.
	tokenCacheMaxAge = time.Minute
)

// tokenCache remembers tokens that verified, keyed by the SHA-256 of the
// token (the token itself is never kept), with their subject, until the
// earlier of the token's exp and tokenCacheMaxAge after the check. Only
// successful verifications are cached. It is bounded: when full, expired
// entries are dropped first, then arbitrary ones.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
	max     int
	now     func() time.Time
}

type cachedToken struct {
	subject string
	until   time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedToken), max: max, now: time.Now}
}

// tokenKey is the cache key of token: its SHA-256, hashed from the
// string's own bytes (sha256.Sum256 only reads its argument), so that a
// lookup does not copy the token.
func tokenKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// get returns the subject of a cached, still valid token.
func (c *tokenCache) get(key [sha256.Size]byte) (string, bool) {
	now := c.now() // read outside the lock: it is held for a map lookup only
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return "", false
	}
	if !now.Before(e.until) {
		delete(c.entries, key)
		return "", false
	}
	return e.subject, true
}

// put caches a verified token whose exp is exp.
func (c *tokenCache) put(key [sha256.Size]byte, subject string, exp time.Time) {
	now := c.now()
	until := now.Add(tokenCacheMaxAge)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return // already expired (accepted only through the leeway)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cachedToken{subject: subject, until: until}
}

// len is the number of entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Cached returns the subject of token when the cache of Authenticate
// holds it (it verified within tokenCacheMaxAge and its exp has not
// passed), without verifying anything and without a context; ok is false
// when Authenticate must run. It accepts nothing Authenticate would not
// answer from the same cache: same entry, same expiry check.
func (j *JWT) Cached(token string) (subject string, ok bool) {
	if token == "" {
		return "", false
	}
	return j.cache.get(tokenKey(token))
}

// Cached returns the fixed subject: None needs no verification.
func (n None) Cached(string) (string, bool) {
	s, _ := n.Authenticate(context.Background(), "")
	return s, true
}
