package backends

import (
	"context"
	"crypto/sha256"
	"encoding/base64"

	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// reference presigns with minio-go's PresignHeader, the presigner the
// fast path must reproduce, and returns its URL and the second it was
// signed in. It retries when a second boundary falls inside the call, so
// that the fast path can be run for exactly that second.
func reference(t *testing.T, s *S3, method, key string, query url.Values, headers map[string]string, ttl time.Duration) (string, time.Time) {
	t.Helper()
	var signed http.Header
	if len(headers) > 0 {
		signed = make(http.Header, len(headers))
		for k, v := range headers {
			signed.Set(k, v)
		}
	}
	for range 10 {
		before := time.Now().Unix()
		u, err := s.signer.PresignHeader(context.Background(), method, s.bucket, key, ttl, query, signed)
		if err != nil {
			t.Fatalf("minio-go PresignHeader(%q): %v", key, err)
		}
		if time.Now().Unix() == before {
			return u.String(), time.Unix(before, 0)
		}
	}
	t.Fatal("could not presign within one second")
	return "", time.Time{}
}

// presignKeys are object keys that exercise path encoding.
var presignKeys = []string{
	"k",
	"alice/2026/11/27/upl_01J9ZQ3X4Y.mp4",
	"with space/and  two  spaces.txt",
	"plus+sign&amp=eq?query#frag",
	"percent%20already%2Fencoded",
	"unicode/ünïcödé/日本語/файл.bin",
	"emoji/🎬🚀.mov",
	"dots/./and/../segments/.",
	"//leading//double//slashes/",
	"/leading-slash",
	"trailing-slash/",
	"tilde~under_score-dash.dot",
	"quotes\"and'apostrophes`and\\backslash",
	"brackets[]{}()<>|^!$*,;:@",
	"tab\tnewline\ncontrol\x01chars",
	" leading and trailing spaces ",
	strings.Repeat("long/", 204) + "end",
	strings.Repeat("é", 512),
}

func presignConfigs() map[string]Config {
	cfgs := map[string]Config{}
	base := testConfig()
	cfgs["path-style"] = base

	c := base
	c.Endpoint = "https://store.example.com:443"
	cfgs["https-default-port"] = c

	c = base
	c.Endpoint = "http://store.example.com:80"
	c.Region = ""
	cfgs["http-default-port-default-region"] = c

	c = base
	c.PathStyle = false
	c.Endpoint = "https://objects.example.net"
	cfgs["virtual-host"] = c

	c = base
	c.PublicEndpoint = "https://public.example.org:9443"
	cfgs["public-endpoint"] = c

	c = base
	c.Endpoint = "http://[::1]:9000"
	c.Region = "ap-southeast-2"
	cfgs["ipv6"] = c

	c = base
	c.AccessKey = "AKID/with+odd=chars"
	c.SecretKey = "secret/with+slash="
	c.Bucket = "my.dotted-bucket"
	cfgs["odd-credentials"] = c
	return cfgs
}

// TestFastPresignMatchesMinio checks that the fast path gives exactly
// minio-go's URL for every combination of key, part number, size,
// checksum, upload id, expiry and endpoint layout.
func TestFastPresignMatchesMinio(t *testing.T) {
	sum := sha256.Sum256([]byte("part"))
	checksums := []string{"", base64.StdEncoding.EncodeToString(sum[:])}
	parts := []struct {
		n    int
		size int64
	}{{1, 0}, {2, 5 << 20}, {9999, 16 << 20}, {10000, 5 << 30}}
	ttls := []time.Duration{time.Second, 15 * time.Minute, 90*time.Minute + 500*time.Millisecond, MaxPresignTTL}
	uploadIDs := []string{"upload-123", "a b+c/=?&%", "MzRhYzE4ZjctN2Y3Yi00ZDk3LWE5NzUtYmQ3Y2ViZGEwNzU2LjE3MzI3MDU2MDA"}

	n := 0
	for name, cfg := range presignConfigs() {
		s := mustS3(t, cfg)
		if s.fast == nil {
			t.Fatalf("%s: no fast path for a plain static-credentials config", name)
		}
		for ki, key := range presignKeys {
			for pi, p := range parts {
				// Every key with every part; the other dimensions rotate.
				sumv := checksums[(ki+pi)%len(checksums)]
				ttl := ttls[(ki+pi)%len(ttls)]
				uid := uploadIDs[(ki+2*pi)%len(uploadIDs)]
				query := url.Values{"partNumber": {strconv.Itoa(p.n)}, "uploadId": {uid}}
				headers := map[string]string{headerContentLength: strconv.FormatInt(p.size, 10)}
				if sumv != "" {
					headers[headerChecksumSHA256] = sumv
				}
				want, at := reference(t, s, http.MethodPut, key, query, headers, ttl)
				got, exp, ok := s.fast.presign(at, http.MethodPut, key, query, headers, ttl)
				if !ok {
					t.Fatalf("%s: fast path refused part %d of %q", name, p.n, key)
				}
				if got != want {
					t.Errorf("%s: part %d of %q differs from minio-go:\n got %s\nwant %s", name, p.n, key, got, want)
				}
				if u, err := url.Parse(want); err == nil {
					if we := expiresAt(u, ttl); !exp.Equal(we) {
						t.Errorf("%s: expires %v, want %v", name, exp, we)
					}
				}
				n++
			}
		}
	}
	t.Logf("%d part URLs identical to minio-go's", n)
}

// TestFastPresignPutGetMatchesMinio covers the single PUT (content type,
// metadata headers) and GET (response-content-disposition) shapes.
func TestFastPresignPutGetMatchesMinio(t *testing.T) {
	s := mustS3(t, testConfig())
	for _, key := range presignKeys {
		headers := map[string]string{
			headerContentLength:  "1234",
			headerContentType:    "text/plain;  charset=utf-8",
			"x-amz-meta-title":   "A  title   with spaces",
			"x-amz-meta-b":       "x",
			"x-amz-meta-zz-last": "z",
		}
		want, at := reference(t, s, http.MethodPut, key, nil, headers, time.Hour)
		got, _, ok := s.fast.presign(at, http.MethodPut, key, nil, headers, time.Hour)
		if !ok || got != want {
			t.Errorf("PUT %q: ok=%v\n got %s\nwant %s", key, ok, got, want)
		}
		query := url.Values{"response-content-disposition": {inlineDisposition("résumé final (v2).pdf")}}
		want, at = reference(t, s, http.MethodGet, key, query, nil, 10*time.Minute)
		got, _, ok = s.fast.presign(at, http.MethodGet, key, query, nil, 10*time.Minute)
		if !ok || got != want {
			t.Errorf("GET %q: ok=%v\n got %s\nwant %s", key, ok, got, want)
		}
	}
}

// TestPresignPartUsesFastPath checks the wiring: PresignPart's URL is
// minio-go's URL, and every presigning method of the adapter signs
// through the fast path when it has one. To tell the two signers apart,
// the adapter's fast signer is then replaced by one with a marker access
// key that minio-go's client does not have: a URL carrying the marker
// can only come from the fast path.
func TestPresignPartUsesFastPath(t *testing.T) {
	s := mustS3(t, testConfig())
	if s.fast == nil {
		t.Fatal("no fast path for a plain static-credentials config")
	}
	ctx := context.Background()
	query := url.Values{"partNumber": {"3"}, "uploadId": {"up"}}
	headers := map[string]string{headerContentLength: "100"}
	matched := false
	for range 10 {
		want, at := reference(t, s, http.MethodPut, "a b/c.bin", query, headers, time.Minute)
		r, err := s.PresignPart(ctx, "a b/c.bin", "up", 3, PartOptions{Size: 100}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Unix() != at.Unix() {
			continue // signed in a later second; try again
		}
		if r.URL != want {
			t.Fatalf("PresignPart URL differs from minio-go:\n got %s\nwant %s", r.URL, want)
		}
		matched = true
		break
	}
	if !matched {
		t.Fatal("could not sign within one second")
	}

	const marker = "FASTPATHMARKER"
	s.fast = &fastSigner{
		accessKey:  marker,
		secretKey:  s.fast.secretKey,
		region:     s.fast.region,
		base:       s.fast.base,
		host:       s.fast.host,
		pathPrefix: s.fast.pathPrefix,
	}
	sign := map[string]func() (PresignedRequest, error){
		"PresignPart": func() (PresignedRequest, error) {
			return s.PresignPart(ctx, "k", "up", 3, PartOptions{Size: 100}, time.Minute)
		},
		"PresignPartUnsized": func() (PresignedRequest, error) {
			return s.PresignPartUnsized(ctx, "k", "up", 3, time.Minute)
		},
		"PresignPut": func() (PresignedRequest, error) {
			return s.PresignPut(ctx, "k", 100, ObjectOptions{ContentType: "text/plain"}, time.Minute)
		},
		"PresignGet": func() (PresignedRequest, error) {
			return s.PresignGet(ctx, "k", GetOptions{Filename: "name.txt"}, time.Minute)
		},
	}
	for name, f := range sign {
		r, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		u, err := url.Parse(r.URL)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cred := u.Query().Get("X-Amz-Credential"); !strings.HasPrefix(cred, marker+"/") {
			t.Errorf("%s was not signed by the fast path (credential %q)", name, cred)
		}
	}
}

// TestFastPresignKnownAnswer checks the signer against the example in
// AWS's documentation of query-string authentication (GET test.txt,
// 2013-05-24, 86400 s).
func TestFastPresignKnownAnswer(t *testing.T) {
	f := &fastSigner{
		accessKey:  "AKIAIOSFODNN7EXAMPLE",
		secretKey:  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		region:     "us-east-1",
		base:       "https://examplebucket.s3.amazonaws.com/",
		host:       "examplebucket.s3.amazonaws.com",
		pathPrefix: "/",
	}
	at := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	got, _, ok := f.presign(at, http.MethodGet, "test.txt", nil, nil, 86400*time.Second)
	if !ok {
		t.Fatal("refused")
	}
	const want = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestFastPresignNewDay checks that the cached signing key follows the
// UTC day: a URL signed the next day carries the next day's scope and a
// signature from a freshly derived key.
func TestFastPresignNewDay(t *testing.T) {
	s := mustS3(t, testConfig())
	day1 := time.Date(2026, 12, 3, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(time.Second)
	q := url.Values{"partNumber": {"1"}, "uploadId": {"u"}}
	h := map[string]string{headerContentLength: "1"}
	u1, _, _ := s.fast.presign(day1, http.MethodPut, "k", q, h, time.Minute)
	u2, _, _ := s.fast.presign(day2, http.MethodPut, "k", q, h, time.Minute)
	if !strings.Contains(u1, "%2F20261203%2F") || !strings.Contains(u2, "%2F20261204%2F") {
		t.Fatalf("scopes do not follow the day:\n%s\n%s", u1, u2)
	}
	fresh := mustS3(t, testConfig())
	u3, _, _ := fresh.fast.presign(day2, http.MethodPut, "k", q, h, time.Minute)
	if u2 != u3 {
		t.Errorf("next day's URL from the cache differs from a fresh signer's:\n%s\n%s", u2, u3)
	}
	// Local time zones must not move the day.
	loc := time.FixedZone("UTC+10", 10*3600)
	u4, _, _ := s.fast.presign(day1.In(loc), http.MethodPut, "k", q, h, time.Minute)
	if u4 != u1 {
		t.Errorf("a non-UTC time signs differently:\n%s\n%s", u4, u1)
	}
}

// TestFastPresignFallsBack checks the cases left to minio-go.
func TestFastPresignFallsBack(t *testing.T) {
	s := mustS3(t, testConfig())
	refuse := []struct {
		name    string
		query   url.Values
		headers map[string]string
	}{
		{"x-amz query", url.Values{"X-Amz-Security-Token": {"t"}}, nil},
		{"repeated query", url.Values{"a": {"1", "2"}}, nil},
		{"host header", nil, map[string]string{"Host": "evil"}},
		{"ignored header", nil, map[string]string{"User-Agent": "x"}},
		{"duplicate spelling", nil, map[string]string{"x-amz-meta-a": "1", "X-Amz-Meta-A": "2"}},
	}
	for _, c := range refuse {
		if _, _, ok := s.fast.presign(time.Now(), http.MethodPut, "k", c.query, c.headers, time.Minute); ok {
			t.Errorf("%s: fast path signed a request it should leave to minio-go", c.name)
		}
	}

	// Credentials with a session token get no fast path at all.
	client, err := minio.New("127.0.0.1:1", &minio.Options{
		Creds:  credentials.NewStaticV4("AKID", "secret", "session-token"),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := newFastSigner(client, "uploads", "us-east-1", "AKID", "secret"); f != nil {
		t.Error("fast path built for credentials with a session token")
	}
	// Credentials that differ from the client's fail the self check.
	client, _ = minio.New("127.0.0.1:1", &minio.Options{
		Creds:  credentials.NewStaticV4("AKID", "secret", ""),
		Region: "us-east-1",
	})
	if f := newFastSigner(client, "uploads", "us-east-1", "AKID", "other-secret"); f != nil {
		t.Error("fast path built although its URLs differ from minio-go's")
	}
	if f := newFastSigner(client, "uploads", "eu-west-1", "AKID", "secret"); f != nil {
		t.Error("fast path built for a region the client does not sign for")
	}
}

func BenchmarkPresignPartMinio(b *testing.B) {
	s := mustS3(b, testConfig())
	ctx := context.Background()
	h := http.Header{}
	h.Set(headerContentLength, strconv.Itoa(16<<20))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q := url.Values{"partNumber": {strconv.Itoa(i%10000 + 1)}, "uploadId": {"upload-123"}}
		if _, err := s.signer.PresignHeader(ctx, http.MethodPut, s.bucket, "alice/2026/11/27/upl_x.mp4", 15*time.Minute, q, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresignPartBatch1000(b *testing.B) {
	s := mustS3(b, testConfig())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for n := 1; n <= 1000; n++ {
			if _, err := s.PresignPart(ctx, "alice/2026/11/27/upl_x.mp4", "upload-123", n, PartOptions{Size: 16 << 20}, 15*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestFastPresignConcurrent signs from many goroutines across a day
// boundary (run with -race): every URL must equal the one signed alone.
func TestFastPresignConcurrent(t *testing.T) {
	s := mustS3(t, testConfig())
	q := url.Values{"partNumber": {"5"}, "uploadId": {"u"}}
	h := map[string]string{headerContentLength: "9"}
	times := []time.Time{time.Date(2026, 12, 3, 23, 59, 59, 0, time.UTC), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}
	want := make([]string, len(times))
	for i, at := range times {
		want[i], _, _ = mustS3(t, testConfig()).fast.presign(at, http.MethodPut, "k", q, h, time.Minute)
	}
	done := make(chan string, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				j := (g + i) % len(times)
				if got, _, _ := s.fast.presign(times[j], http.MethodPut, "k", q, h, time.Minute); got != want[j] {
					done <- got
					return
				}
			}
			done <- ""
		}()
	}
	for range 8 {
		if got := <-done; got != "" {
			t.Errorf("concurrent signing gave %s", got)
		}
	}
}
