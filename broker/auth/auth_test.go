package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef-test-secret"

func TestJWT(t *testing.T) {
	a, err := NewJWT(JWTConfig{Secret: secret, Issuer: "app", Audience: "chute"})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := SignHS256(secret, "alice", time.Minute, "app", "chute")
	expired, _ := SignHS256(secret, "alice", -time.Hour, "app", "chute")
	forged, _ := SignHS256("another-secret-0123456789", "alice", time.Minute, "app", "chute")
	wrongIss, _ := SignHS256(secret, "alice", time.Minute, "other", "chute")
	wrongAud, _ := SignHS256(secret, "alice", time.Minute, "app", "other")
	noSub, _ := SignHS256(secret, "", time.Minute, "app", "chute")
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "iss": "app", "aud": "chute"}).SignedString([]byte(secret))
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "alice", "iss": "app", "aud": "chute", "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte(secret))
	// alg none: header {"alg":"none"}, no signature.
	enc := base64.RawURLEncoding.EncodeToString
	algNone := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(`{"sub":"alice","iss":"app","aud":"chute","exp":9999999999}`)) + "."

	if sub, err := a.Authenticate(context.Background(), good); err != nil || sub != "alice" {
		t.Fatalf("good token: %q, %v", sub, err)
	}
	bad := map[string]string{
		"empty": "", "garbage": "not-a-jwt", "expired": expired, "forged": forged,
		"wrong issuer": wrongIss, "wrong audience": wrongAud, "no sub": noSub, "no exp": noExp,
		"hs512": hs512, "alg none": algNone, "truncated": good[:len(good)-3],
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			sub, err := a.Authenticate(context.Background(), tok)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got subject %q, err %v; want ErrUnauthorized", sub, err)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Fatal("error message repeats the token")
			}
		})
	}
}

func TestNewJWTShortSecret(t *testing.T) {
	if _, err := NewJWT(JWTConfig{Secret: "short"}); err == nil {
		t.Fatal("want an error for a short secret")
	}
}

func TestNone(t *testing.T) {
	sub, err := None{}.Authenticate(context.Background(), "")
	if err != nil || sub != "anonymous" {
		t.Fatalf("%q %v", sub, err)
	}
	sub, _ = None{Subject: "dev"}.Authenticate(context.Background(), "whatever")
	if sub != "dev" {
		t.Fatal(sub)
	}
}
