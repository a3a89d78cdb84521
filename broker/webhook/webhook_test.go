package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker"
)

func size(n int64) *int64 { return &n }

var sample = broker.AuthorizeRequest{
	Subject: "alice", Filename: "a.png", ContentType: "image/png", Size: size(10), Profile: "default",
	Metadata: map[string]string{"title": "x"}, Headers: map[string]string{"X-Forwarded-For": "10.0.0.1"},
}

// server answers every call with status and body, and records the last
// request's headers and body.
func server(t *testing.T, status int, body string) (*httptest.Server, *http.Header, *[]byte) {
	t.Helper()
	var hdr http.Header
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		got, _ = io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hdr, &got
}

func mustNew(t *testing.T, cfg Config) *Authorizer {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAllowAndRequestBody(t *testing.T) {
	srv, hdr, body := server(t, 200, `{"allow": true, "key_prefix": "t/", "metadata": {"tenant": "7"}, "max_size": 1024}`)
	d, err := mustNew(t, Config{URL: srv.URL}).Authorize(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.KeyPrefix != "t/" || d.Metadata["tenant"] != "7" || d.MaxSize != 1024 {
		t.Fatalf("decision %+v", d)
	}
	var sent map[string]any
	if err := json.Unmarshal(*body, &sent); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"subject", "filename", "content_type", "size", "profile", "metadata", "headers"} {
		if _, ok := sent[k]; !ok {
			t.Errorf("request body lacks %q: %s", k, *body)
		}
	}
	if sent["size"] != float64(10) || sent["headers"].(map[string]any)["X-Forwarded-For"] != "10.0.0.1" {
		t.Errorf("request body %s", *body)
	}
	if hdr.Get(SignatureHeader) != "" {
		t.Error("signature sent without a secret")
	}
	if hdr.Get(TimestampHeader) == "" {
		t.Error("no timestamp")
	}
	if hdr.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", hdr.Get("Content-Type"))
	}
}

func TestDenyWithMessage(t *testing.T) {
	srv, _, _ := server(t, 200, `{"allow": false, "message": "quota exceeded"}`)
	d, err := mustNew(t, Config{URL: srv.URL}).Authorize(context.Background(), sample)
	if err != nil || d.Allow || d.Message != "quota exceeded" {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestSignature(t *testing.T) {
	const secret = "webhook-secret-for-tests"
	srv, hdr, body := server(t, 200, `{"allow": true}`)
	a := mustNew(t, Config{URL: srv.URL, Secret: secret})
	sent := time.Unix(1764806400, 0)
	a.now = func() time.Time { return sent }
	if _, err := a.Authorize(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	ts := hdr.Get(TimestampHeader)
	if ts != "1764806400" {
		t.Fatalf("%s %q, want the sending time", TimestampHeader, ts)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(*body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	sig := hdr.Get(SignatureHeader)
	if sig != want {
		t.Fatalf("signature %q, want %q (HMAC of timestamp.body)", sig, want)
	}
	if Sign(secret, ts, *body) != want {
		t.Fatal("Sign differs")
	}
	for _, c := range []struct {
		name string
		ts   string
		body []byte
		now  time.Time
		ok   bool
	}{
		{"fresh", ts, *body, sent.Add(time.Minute), true},
		{"replayed an hour later", ts, *body, sent.Add(time.Hour), false},
		{"timestamp moved forward", "1764810000", *body, sent.Add(time.Hour), false},
		{"body changed", ts, append([]byte(" "), *body...), sent, false},
		{"no timestamp", "", *body, sent, false},
	} {
		if got := VerifySignature(secret, c.ts, sig, c.body, c.now); got != c.ok {
			t.Errorf("%s: VerifySignature = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestFailuresAreErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"500", 500, `{"allow": true}`},
		{"403 with allow", 403, `{"allow": true}`},
		{"redirect", 302, ``},
		{"bad JSON", 200, `{"allow": tru`},
		{"not an object", 200, `"allow"`},
		{"no allow", 200, `{"message": "hi"}`},
		{"allow not a bool", 200, `{"allow": "yes"}`},
		{"too big", 200, `{"allow": true, "message": "` + strings.Repeat("x", maxAnswer) + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _, _ := server(t, c.status, c.body)
			d, err := mustNew(t, Config{URL: srv.URL}).Authorize(context.Background(), sample)
			if err == nil {
				t.Fatalf("no error, decision %+v", d)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, `{"allow": true}`)
	}))
	defer srv.Close()
	defer close(release)
	_, err := mustNew(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond}).Authorize(context.Background(), sample)
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("error %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=app-secret-token"
	srv.Close()
	_, err := mustNew(t, Config{URL: url}).Authorize(context.Background(), sample)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if strings.Contains(err.Error(), "app-secret-token") {
		t.Fatalf("error shows the URL's token: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "not a url"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	if _, err := New(Config{URL: "http://127.0.0.1:1", Timeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
	if a := mustNew(t, Config{URL: "http://127.0.0.1:1"}); a.timeout != DefaultTimeout {
		t.Errorf("timeout %s", a.timeout)
	}
}
