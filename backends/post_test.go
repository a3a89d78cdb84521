package backends

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPresignPost(t *testing.T) {
	// The endpoint is unreachable: the policy must be signed without I/O.
	s := mustS3(t, testConfig())
	ctx := context.Background()
	before := time.Now()
	p, err := s.PresignPost(ctx, "alice/a.txt", PostOptions{
		ContentType: "text/plain", Metadata: map[string]string{"title": "Hi"}, MinSize: 0, MaxSize: 1 << 20,
	}, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignPost: %v", err)
	}
	if p.URL != "http://127.0.0.1:1/uploads/" {
		t.Errorf("URL = %q, want the bucket URL", p.URL)
	}
	for k, want := range map[string]string{
		"key": "alice/a.txt", "Content-Type": "text/plain", "x-amz-meta-title": "Hi",
		"x-amz-algorithm": "AWS4-HMAC-SHA256",
	} {
		if p.Fields[k] != want {
			t.Errorf("field %s = %q, want %q", k, p.Fields[k], want)
		}
	}
	if !strings.Contains(p.Fields["x-amz-credential"], "/eu-west-1/s3/aws4_request") || p.Fields["x-amz-signature"] == "" {
		t.Errorf("credential %q, signature %q", p.Fields["x-amz-credential"], p.Fields["x-amz-signature"])
	}
	if lo, hi := before.Add(10*time.Minute-time.Second), time.Now().Add(10*time.Minute); p.ExpiresAt.Before(lo) || p.ExpiresAt.After(hi) {
		t.Errorf("ExpiresAt %v, want within [%v, %v]", p.ExpiresAt, lo, hi)
	}

	raw, err := base64.StdEncoding.DecodeString(p.Fields["policy"])
	if err != nil {
		t.Fatalf("policy is not base64: %v", err)
	}
	var doc struct {
		Expiration string `json:"expiration"`
		Conditions []any  `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("policy: %v", err)
	}
	var conds []string
	for _, c := range doc.Conditions {
		b, _ := json.Marshal(c)
		conds = append(conds, string(b))
	}
	for _, want := range []string{
		`["eq","$key","alice/a.txt"]`, `["eq","$bucket","uploads"]`, `["eq","$Content-Type","text/plain"]`,
		`["content-length-range",0,1048576]`, `["eq","$x-amz-meta-title","Hi"]`,
	} {
		if !slices.Contains(conds, want) {
			t.Errorf("policy lacks %s; has %v", want, conds)
		}
	}
}

func TestPresignPostRejects(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	for name, tc := range map[string]struct {
		key  string
		opts PostOptions
		ttl  time.Duration
	}{
		"empty key":      {"", PostOptions{MaxSize: 1}, time.Minute},
		"inverted range": {"k", PostOptions{MinSize: 5, MaxSize: 1}, time.Minute},
		"over 5 GiB":     {"k", PostOptions{MaxSize: 6 << 30}, time.Minute},
		"bad metadata":   {"k", PostOptions{MaxSize: 1, Metadata: map[string]string{"a b": "x"}}, time.Minute},
		"ttl too long":   {"k", PostOptions{MaxSize: 1}, 30 * 24 * time.Hour},
	} {
		if _, err := s.PresignPost(ctx, tc.key, tc.opts, tc.ttl); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPresignPartUnsized(t *testing.T) {
	s := mustS3(t, testConfig())
	r, err := s.PresignPartUnsized(context.Background(), "alice/clip.mp4", "upload-123", 3, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Headers) != 0 {
		t.Errorf("Headers = %v, want none", r.Headers)
	}
	_, q, signed := parsePresigned(t, r)
	if q.Get("partNumber") != "3" || q.Get("uploadId") != "upload-123" || !slices.Equal(signed, []string{"host"}) {
		t.Errorf("query %v, signed %v", q, signed)
	}
	if _, err := s.PresignPartUnsized(context.Background(), "k", "", 1, time.Minute); err == nil {
		t.Error("empty upload id accepted")
	}
	if _, err := s.PresignPartUnsized(context.Background(), "k", "u", 10001, time.Minute); err == nil {
		t.Error("part 10001 accepted")
	}
}

// TestPresignPartUnsizedMatchesMinio: the unsized part URL (the fast
// path's parameter list, no signed headers) is minio-go's URL, for keys
// and upload ids that need escaping too.
func TestPresignPartUnsizedMatchesMinio(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	for _, c := range []struct {
		key, uploadID string
		n             int
	}{{"alice/clip.mp4", "upload-123", 3}, {"a b/ü+c.bin", "a b+c/=?&%", 10000}} {
		matched := false
		for range 10 {
			want, at := reference(t, s, http.MethodPut, c.key, url.Values{"partNumber": {strconv.Itoa(c.n)}, "uploadId": {c.uploadID}}, nil, time.Minute)
			r, err := s.PresignPartUnsized(ctx, c.key, c.uploadID, c.n, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().Unix() != at.Unix() {
				continue // signed in a later second; try again
			}
			if r.URL != want || r.Method != http.MethodPut || len(r.Headers) != 0 {
				t.Fatalf("%q part %d: %s %v\n got %s\nwant %s", c.key, c.n, r.Method, r.Headers, r.URL, want)
			}
			matched = true
			break
		}
		if !matched {
			t.Fatal("could not sign within one second")
		}
	}
}
