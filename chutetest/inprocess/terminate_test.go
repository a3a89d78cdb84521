package inprocess_test

import (
	"context"
	"testing"
	"time"

	"github.com/chute-dev/chute/chutetest/inprocess"
)

// TestTerminateAtOnce terminates Chutes that never served a request: Start
// returns only once the API answers, so the shutdown finds the server
// running and stops it (before that, it found none and the server served
// on while Terminate waited).
func TestTerminateAtOnce(t *testing.T) {
	for range 3 {
		c, err := inprocess.StartContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Terminate(context.Background()); err != nil {
			t.Fatalf("Terminate: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Terminate took %v", d)
		}
	}
}
