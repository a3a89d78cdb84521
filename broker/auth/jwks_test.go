package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer serves a JWKS that the test can change, and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int32
	srv     *httptest.Server
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *jwksServer) addRSA(kid string, k *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
}

func (s *jwksServer) addEC(kid string, k *ecdsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	x, y := raw[1:33], raw[33:65]
	s.keys = append(s.keys, map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64(x), "y": b64(y)})
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	later, _ := rsa.GenerateKey(rand.Reader, 2048)
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newJWKSServer(t)
	js.addRSA("r1", &rsaKey.PublicKey)
	js.addEC("e1", &ecKey.PublicKey)

	a, err := NewJWT(JWTConfig{JWKSURL: js.srv.URL, Audience: "chute", RefreshMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	exp := time.Now().Add(time.Minute).Unix()
	claims := func(sub string) jwt.MapClaims { return jwt.MapClaims{"sub": sub, "aud": "chute", "exp": exp} }
	ctx := context.Background()

	for name, tok := range map[string]string{
		"rs256": sign(t, jwt.SigningMethodRS256, "r1", rsaKey, claims("alice")),
		"es256": sign(t, jwt.SigningMethodES256, "e1", ecKey, claims("alice")),
	} {
		if sub, err := a.Authenticate(ctx, tok); err != nil || sub != "alice" {
			t.Fatalf("%s: %q %v", name, sub, err)
		}
	}
	bad := map[string]string{
		"unknown key":     sign(t, jwt.SigningMethodRS256, "r1", stranger, claims("alice")),
		"unknown kid":     sign(t, jwt.SigningMethodRS256, "zz", stranger, claims("alice")),
		"wrong audience":  sign(t, jwt.SigningMethodRS256, "r1", rsaKey, jwt.MapClaims{"sub": "a", "aud": "x", "exp": exp}),
		"expired":         sign(t, jwt.SigningMethodRS256, "r1", rsaKey, jwt.MapClaims{"sub": "a", "aud": "chute", "exp": time.Now().Add(-time.Hour).Unix()}),
		"hs256 with jwks": sign(t, jwt.SigningMethodHS256, "r1", []byte("0123456789abcdef0123"), claims("alice")),
	}
	for name, tok := range bad {
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Key rotation: a token signed with a new key is accepted once the
	// JWKS has it, through a refresh triggered by the unknown kid.
	time.Sleep(20 * time.Millisecond)
	js.addRSA("r2", &later.PublicKey)
	before := js.fetches.Load()
	if sub, err := a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, "r2", later, claims("bob"))); err != nil || sub != "bob" {
		t.Fatalf("rotated key: %q %v", sub, err)
	}
	if js.fetches.Load() == before {
		t.Fatal("an unknown kid did not refresh the JWKS")
	}
}

func TestJWKSRefreshIsBounded(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	js := newJWKSServer(t)
	js.addRSA("r1", &rsaKey.PublicKey)
	a, err := NewJWT(JWTConfig{JWKSURL: js.srv.URL, RefreshMin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	claims := jwt.MapClaims{"sub": "a", "exp": time.Now().Add(time.Minute).Unix()}
	for i := range 20 {
		_, _ = a.Authenticate(ctx, sign(t, jwt.SigningMethodRS256, "unknown-"+string(rune('a'+i)), rsaKey, claims))
	}
	// One initial fetch plus at most one refresh for unknown kids per hour.
	if n := js.fetches.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches for 20 tokens with unknown kids", n)
	}
}

func TestNewJWTConfig(t *testing.T) {
	if _, err := NewJWT(JWTConfig{Secret: "0123456789abcdef0123", JWKSURL: "https://x"}); err == nil {
		t.Error("secret and jwks together must be refused")
	}
	if _, err := NewJWT(JWTConfig{JWKSURL: "ftp://x"}); err == nil {
		t.Error("a non-http jwks url must be refused")
	}
}

func TestAPIKeys(t *testing.T) {
	a, err := NewAPIKeys([]APIKey{
		{Key: "clear-key-0123456789", Subject: "svc-a"},
		{Key: HashKey("hashed-key-0123456789"), Subject: "svc-b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for key, want := range map[string]string{"clear-key-0123456789": "svc-a", "hashed-key-0123456789": "svc-b"} {
		if sub, err := a.Authenticate(ctx, key); err != nil || sub != want {
			t.Errorf("%s: %q %v", key, sub, err)
		}
	}
	for _, key := range []string{"", "clear-key-012345678", HashKey("hashed-key-0123456789"), "clear-key-0123456789x"} {
		if _, err := a.Authenticate(ctx, key); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%q accepted: %v", key, err)
		}
	}
	for _, bad := range [][]APIKey{nil, {{Key: "short", Subject: "x"}}, {{Key: "long-enough-key-123", Subject: ""}}, {{Key: "sha256:abc", Subject: "x"}}} {
		if _, err := NewAPIKeys(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
