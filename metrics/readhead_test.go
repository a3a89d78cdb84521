package metrics

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
)

// allStub has every optional ability of a store.
type allStub struct{ stubStore }

func (h allStub) ReadHead(_ context.Context, key string, n int64) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	return []byte(key)[:min(int64(len(key)), n)], nil
}

func (h allStub) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("x")), h.err
}

func (h allStub) Copy(context.Context, string, string, broker.CopyOptions) (broker.ObjectInfo, error) {
	return broker.ObjectInfo{}, h.err
}

func (allStub) PresignPost(context.Context, string, backends.PostOptions, time.Duration) (backends.PresignedPost, error) {
	return backends.PresignedPost{URL: "p"}, nil
}

func (allStub) PresignPartUnsized(context.Context, string, string, int, time.Duration) (backends.PresignedRequest, error) {
	return backends.PresignedRequest{URL: "u"}, nil
}

// TestCapabilitiesKeepEveryAbility fails when the decorator hides an
// ability or invents one: every interface field of broker.Capabilities
// is set from a store that has them all, then from one that has none.
func TestCapabilitiesKeepEveryAbility(t *testing.T) {
	m := New()
	full := broker.ResolveCapabilities(allStub{})
	full.PostPolicy, full.ConditionalWrites, full.Bucket = true, true, "b"
	got := m.Capabilities("main", full)
	none := m.Capabilities("none", broker.ResolveCapabilities(stubStore{}))
	vf, vn := reflect.ValueOf(got), reflect.ValueOf(none)
	typ := vf.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Interface {
			if !reflect.DeepEqual(vf.Field(i).Interface(), reflect.ValueOf(full).Field(i).Interface()) {
				t.Errorf("%s changed by the decorator", f.Name)
			}
			continue
		}
		if vf.Field(i).IsNil() {
			t.Errorf("%s: the decorator hides it", f.Name)
		}
		if !vn.Field(i).IsNil() {
			t.Errorf("%s: the decorator made it up for a store without it", f.Name)
		}
	}
}

func TestCapabilitiesAreInstrumented(t *testing.T) {
	m := New()
	ctx := context.Background()
	c := m.Capabilities("main", broker.ResolveCapabilities(allStub{}))
	b, err := c.Heads.ReadHead(ctx, "abcdef", 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("ReadHead = %q, %v", b, err)
	}
	bad := m.Capabilities("bad", broker.ResolveCapabilities(allStub{stubStore{err: backends.ErrNotFound}}))
	if _, err := bad.Heads.ReadHead(ctx, "k", 3); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("error %v", err)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("bad", "read_head", "not_found")); got != 1 {
		t.Fatalf("read_head errors = %v, want 1", got)
	}
	if p, err := c.Post.PresignPost(ctx, "k", backends.PostOptions{}, time.Minute); err != nil || p.URL != "p" {
		t.Fatalf("PresignPost: %+v %v", p, err)
	}
	if _, err := c.UnsizedParts.PresignPartUnsized(ctx, "k", "u", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.partsSigned); got != 1 {
		t.Errorf("parts signed = %v, want 1", got)
	}
	for _, op := range []string{"presign_post", "read_head", "presign_part_unsized"} {
		if n := histCount(t, m, "chute_store_request_duration_seconds", `backend="main",op="`+op+`"`); n != 1 {
			t.Errorf("%s observations = %d, want 1", op, n)
		}
	}
}
