package metrics

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
)

// headStub is a stubStore that reads object heads.
type headStub struct{ stubStore }

func (h headStub) ReadHead(_ context.Context, key string, n int64) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	return []byte(key)[:min(int64(len(key)), n)], nil
}

func TestStoreForwardsReadHead(t *testing.T) {
	m := New()
	ctx := context.Background()
	hr, ok := m.Store("main", headStub{}).(broker.HeadReader)
	if !ok {
		t.Fatal("the instrumented store hides ReadHead")
	}
	b, err := hr.ReadHead(ctx, "abcdef", 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("ReadHead = %q, %v", b, err)
	}
	bad := m.Store("bad", headStub{stubStore{err: backends.ErrNotFound}}).(broker.HeadReader)
	if _, err := bad.ReadHead(ctx, "k", 3); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("error %v", err)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("bad", "read_head", "not_found")); got != 1 {
		t.Fatalf("read_head errors = %v, want 1", got)
	}
	// A store without the capability says so.
	plain := m.Store("plain", stubStore{}).(broker.HeadReader)
	if _, err := plain.ReadHead(ctx, "k", 3); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
}
