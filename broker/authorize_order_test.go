package broker

import (
	"context"
	"testing"
)

// TestAuthorizerAfterRedisChecks: the open-session slot is taken (in
// Redis) before the Authorizer (the application) is asked, so a subject
// at its cap, or a Redis outage, costs the application no calls; and a
// denied create gives its slot back.
func TestAuthorizerAfterRedisChecks(t *testing.T) {
	svc, _, mr := newPolicyService(t)
	ctx := context.Background()
	allow := true
	seen := 0
	svc.authorizer = authorizerFunc(func(context.Context, AuthorizeRequest) (*Decision, error) {
		seen++
		return &Decision{Allow: allow}, nil
	})
	req := CreateRequest{Filename: "a.bin", ContentType: "application/octet-stream", Size: sizeOf(10)}
	open := OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"}
	sized := OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream", Size: sizeOf(10)}

	// Denied creates free their slots: more of them than the cap (2) in a
	// row, then two allowed ones still fit.
	allow = false
	for i := 0; i < 3; i++ {
		if _, err := svc.Create(ctx, "bob", req); ErrorCode(err) != CodeForbidden {
			t.Fatalf("denied create %d: %v", i, err)
		}
		if _, err := svc.CreateOpen(ctx, "bob", open); ErrorCode(err) != CodeForbidden {
			t.Fatalf("denied companion create %d: %v", i, err)
		}
		if _, err := svc.SignPost(ctx, "bob", sized); ErrorCode(err) != CodeForbidden {
			t.Fatalf("denied POST policy %d: %v", i, err)
		}
	}
	allow = true
	for i := 0; i < 2; i++ {
		if _, err := svc.Create(ctx, "bob", req); err != nil {
			t.Fatalf("create %d after denials: %v", i, err)
		}
	}

	// At the cap: refused without asking the application.
	seen = 0
	if _, err := svc.Create(ctx, "bob", req); ErrorCode(err) != CodeRateLimited {
		t.Fatalf("create over the cap: %v", err)
	}
	if _, err := svc.CreateOpen(ctx, "bob", open); ErrorCode(err) != CodeRateLimited {
		t.Fatalf("companion create over the cap: %v", err)
	}
	if _, err := svc.SignPost(ctx, "bob", sized); ErrorCode(err) != CodeRateLimited {
		t.Fatalf("POST policy over the cap: %v", err)
	}
	if seen != 0 {
		t.Fatalf("the authorizer was asked %d times for creates over the cap", seen)
	}

	// Redis away: 503, and the application is never asked.
	mr.Close()
	for i := 0; i < 3; i++ {
		if _, err := svc.Create(ctx, "carol", req); ErrorCode(err) != CodeStorageUnavailable {
			t.Fatalf("create with Redis down: %v", err)
		}
		if _, err := svc.CreateOpen(ctx, "carol", open); ErrorCode(err) != CodeStorageUnavailable {
			t.Fatalf("companion create with Redis down: %v", err)
		}
	}
	if seen != 0 {
		t.Fatalf("the authorizer was asked %d times while Redis was down", seen)
	}
}
