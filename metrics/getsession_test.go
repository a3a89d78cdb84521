package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/chute-dev/chute/sessions"
)

// sessionHeadStub is a store with the parts-free read; its GetSession answers a
// session that Get never returns, so the test sees which one was called.
type sessionHeadStub struct{ stubSessions }

func (sessionHeadStub) GetSession(context.Context, string) (*sessions.Session, error) {
	return &sessions.Session{ID: "head"}, nil
}

func TestGetSessionForwardedAndTimed(t *testing.T) {
	m := New()
	s := m.Sessions(sessionHeadStub{stubSessions{sess: &sessions.Session{ID: "full"}}})
	r, ok := s.(interface {
		GetSession(context.Context, string) (*sessions.Session, error)
	})
	if !ok {
		t.Fatal("the instrumented store hides GetSession")
	}
	got, err := r.GetSession(context.Background(), "x")
	if err != nil || got.ID != "head" {
		t.Fatalf("GetSession = %+v, %v; want the store's own GetSession", got, err)
	}
	if body := scrape(t, m); !strings.Contains(body, `op="get_session"`) {
		t.Error("get_session is not timed")
	}

	// A store without it: the decorator falls back to Get.
	plain := New().Sessions(stubSessions{sess: &sessions.Session{ID: "full"}})
	got, err = plain.(interface {
		GetSession(context.Context, string) (*sessions.Session, error)
	}).GetSession(context.Background(), "x")
	if err != nil || got.ID != "full" {
		t.Fatalf("fallback = %+v, %v; want Get's session", got, err)
	}
}
