package broker

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// authorizerFunc is an Authorizer written as a function.
type authorizerFunc func(ctx context.Context, req AuthorizeRequest) (*Decision, error)

func (f authorizerFunc) Authorize(ctx context.Context, req AuthorizeRequest) (*Decision, error) {
	return f(ctx, req)
}

// withAuthorizer installs a on svc; every request it sees is sent on seen.
func withAuthorizer(svc *Service, headers []string, d *Decision, err error) *[]AuthorizeRequest {
	var seen []AuthorizeRequest
	svc.authorizer = authorizerFunc(func(_ context.Context, req AuthorizeRequest) (*Decision, error) {
		seen = append(seen, req)
		return d, err
	})
	svc.headers = headers
	return &seen
}

func TestAuthorizerAllowPassesTheRequest(t *testing.T) {
	svc, _ := newTestService(t)
	seen := withAuthorizer(svc, []string{"X-Forwarded-For"}, &Decision{Allow: true}, nil)
	if got := svc.ClientHeaderNames(); len(got) != 1 || got[0] != "X-Forwarded-For" {
		t.Fatalf("ClientHeaderNames = %v", got)
	}
	res, err := svc.Create(context.Background(), "alice", CreateRequest{
		Filename: "a.png", ContentType: "Image/PNG", Size: size(10), Metadata: map[string]string{"title": "x"},
		ClientHeaders: map[string]string{"X-Forwarded-For": "10.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(*seen) != 1 {
		t.Fatalf("authorizer called %d times", len(*seen))
	}
	r := (*seen)[0]
	if r.Subject != "alice" || r.Filename != "a.png" || r.ContentType != "image/png" || r.Size == nil || *r.Size != 10 ||
		r.Profile != "default" || r.Metadata["title"] != "x" || r.Headers["X-Forwarded-For"] != "10.0.0.1" {
		t.Fatalf("authorizer saw %+v", r)
	}
	if !strings.HasPrefix(res.Key, "alice/") {
		t.Fatalf("key %q", res.Key)
	}
}

func TestAuthorizerDeny(t *testing.T) {
	cases := []struct {
		name string
		d    *Decision
		err  error
		code Code
		msg  string
	}{
		{"deny with message", &Decision{Allow: false, Message: "quota exceeded"}, nil, CodeForbidden, "quota exceeded"},
		{"deny without message", &Decision{}, nil, CodeForbidden, "upload not authorized"},
		{"deny message sanitised", &Decision{Message: "bad\x00\nthing\x1b[31m " + strings.Repeat("é", 300)}, nil, CodeForbidden, ""},
		{"error", nil, errors.New("webhook: answered status 500"), CodeForbidden, "upload not authorized"},
		{"nil decision", nil, nil, CodeForbidden, "upload not authorized"},
		{"prefix with ..", &Decision{Allow: true, KeyPrefix: "a/../b/"}, nil, CodeForbidden, "upload not authorized"},
		{"prefix with leading /", &Decision{Allow: true, KeyPrefix: "/abs/"}, nil, CodeForbidden, "upload not authorized"},
		{"prefix with control", &Decision{Allow: true, KeyPrefix: "a\nb/"}, nil, CodeForbidden, "upload not authorized"},
		{"prefix too long", &Decision{Allow: true, KeyPrefix: strings.Repeat("a", MaxKeyPrefix+1)}, nil, CodeForbidden, "upload not authorized"},
		{"prefix with empty segment", &Decision{Allow: true, KeyPrefix: "a//"}, nil, CodeForbidden, "upload not authorized"},
		{"bad metadata", &Decision{Allow: true, Metadata: map[string]string{"Bad Key": "v"}}, nil, CodeForbidden, "upload not authorized"},
		{"negative max_size", &Decision{Allow: true, MaxSize: -1}, nil, CodeForbidden, "upload not authorized"},
		{"over max_size", &Decision{Allow: true, MaxSize: 9}, nil, CodeTooLarge, ""},
		{"merged metadata too big", &Decision{Allow: true, Metadata: map[string]string{"big": strings.Repeat("x", 1500)}}, nil, CodeInvalidRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, fs := newTestService(t)
			withAuthorizer(svc, nil, c.d, c.err)
			_, err := svc.Create(context.Background(), "alice", CreateRequest{
				Filename: "a.png", ContentType: "image/png", Size: size(10),
				Metadata: map[string]string{"note": strings.Repeat("y", 1000)},
			})
			wantCode(t, err, c.code)
			msg := ErrorMessage(err)
			if c.msg != "" && msg != c.msg {
				t.Fatalf("message %q, want %q", msg, c.msg)
			}
			if len([]rune(msg)) > MaxDenyMessage || hasControl(msg) {
				t.Fatalf("message not sanitised: %q", msg)
			}
			if len(fs.uploads) != 0 || len(fs.objects) != 0 {
				t.Fatal("a refused create touched the store")
			}
		})
	}
}

func TestAuthorizerOverrides(t *testing.T) {
	svc, fs := newTestService(t)
	withAuthorizer(svc, nil, &Decision{
		Allow: true, KeyPrefix: "tenant-7/", Metadata: map[string]string{"tenant": "7", "title": "app"}, MaxSize: 64 << 20,
	}, nil)
	ctx := context.Background()
	res, err := svc.Create(ctx, "alice", CreateRequest{
		Filename: "v.mp4", ContentType: "video/mp4", Size: size(12 << 20), Metadata: map[string]string{"title": "mine", "lang": "en"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Key, "tenant-7/alice/") || !strings.HasSuffix(res.Key, res.ID+".mp4") {
		t.Fatalf("key %q", res.Key)
	}
	sess, err := svc.sessions.Get(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tenant": "7", "title": "app", "lang": "en"}
	if len(sess.Metadata) != len(want) {
		t.Fatalf("metadata %v, want %v", sess.Metadata, want)
	}
	for k, v := range want {
		if sess.Metadata[k] != v {
			t.Fatalf("metadata %v, want %v", sess.Metadata, want)
		}
	}
	if len(fs.uploads) != 1 {
		t.Fatalf("%d uploads", len(fs.uploads))
	}
	for _, u := range fs.uploads {
		if u.key != res.Key {
			t.Fatalf("store key %q, session key %q", u.key, res.Key)
		}
	}
	// max_size lowers the limit: over it is 413.
	_, err = svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(64<<20 + 1)})
	wantCode(t, err, CodeTooLarge)
	// It never raises it.
	withAuthorizer(svc, nil, &Decision{Allow: true, MaxSize: 1 << 50}, nil)
	_, err = svc.Create(ctx, "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(5<<30 + 1)})
	wantCode(t, err, CodeTooLarge)
}

func TestAuthorizerOpenRoutes(t *testing.T) {
	svc, _ := newTestService(t)
	svc.backends["main"] = &headStore{fakeStore: svc.backends["main"].(*fakeStore)}
	svc.caps["main"] = ResolveCapabilities(svc.backends["main"])
	ctx := context.Background()
	seen := withAuthorizer(svc, nil, &Decision{Allow: true, KeyPrefix: "t/"}, nil)
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "v.mp4", ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.Key, "t/alice/") || (*seen)[0].Size != nil {
		t.Fatalf("key %q, size seen %v", up.Key, (*seen)[0].Size)
	}
	withAuthorizer(svc, nil, &Decision{Message: "no"}, nil)
	_, err = svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "v.mp4", ContentType: "video/mp4"})
	wantCode(t, err, CodeForbidden)
	// A lower max_size cannot be kept for an unsized multipart upload.
	withAuthorizer(svc, nil, &Decision{Allow: true, MaxSize: 1 << 20}, nil)
	_, err = svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "v.mp4", ContentType: "video/mp4"})
	wantCode(t, err, CodeForbidden)
}

func TestSanitizeMessage(t *testing.T) {
	for in, want := range map[string]string{
		"  quota exceeded ": "quota exceeded",
		"a\tb\x00c":         "a b c",
		"\xff\xfeok":        "ok",
		"Über 100 MB":       "Über 100 MB",
	} {
		if got := sanitizeMessage(in); got != want {
			t.Errorf("sanitizeMessage(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitizeMessage(strings.Repeat("x", 500)); len(got) != MaxDenyMessage {
		t.Errorf("long message kept %d characters", len(got))
	}
}
