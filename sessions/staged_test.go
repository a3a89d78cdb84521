package sessions_test

import (
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

// TestClaimStagedPass: one promoter pass claim at a time, per key prefix,
// until it runs out.
func TestClaimStagedPass(t *testing.T) {
	ctx := t.Context()
	mr, client := newMiniredis(t)
	a := sessions.NewRedisStore(client)
	b := sessions.NewRedisStore(client) // another replica, same Redis
	other := sessions.NewRedisStore(client, sessions.WithKeyPrefix("other"))
	if ok, err := a.ClaimStagedPass(ctx, 2*time.Second); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := b.ClaimStagedPass(ctx, 2*time.Second); err != nil || ok {
		t.Fatalf("second claim while held: %v %v, want refused", ok, err)
	}
	if ok, err := other.ClaimStagedPass(ctx, 2*time.Second); err != nil || !ok {
		t.Fatalf("claim under another prefix: %v %v", ok, err)
	}
	mr.FastForward(3 * time.Second)
	if ok, err := b.ClaimStagedPass(ctx, 2*time.Second); err != nil || !ok {
		t.Fatalf("claim after it ran out: %v %v", ok, err)
	}
	if _, err := a.ClaimStagedPass(ctx, time.Microsecond); err == nil {
		t.Fatal("a claim under a millisecond was taken")
	}
}
