package backends

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// This file compares the fast signer with a second, independent SigV4
// implementation: aws-sdk-go-v2's v4 signer, which (unlike minio-go)
// takes the signing time as an argument. So the comparison can be made
// at fixed dates and across midnight, where the fast signer's cached
// signing key must change, not only at "now". aws-sdk-go-v2 is imported
// by tests only.

// awsPresign presigns what f.presign signs, at now, with aws-sdk-go-v2:
// the object path escaped as the SDK's S3 client escapes a key, the
// query plus X-Amz-Expires, Content-Length as the request's length and
// the other headers signed as they are (not hoisted into the query, as
// minio-go does not hoist them either).
func awsPresign(t *testing.T, f *fastSigner, now time.Time, method, key string, query url.Values, headers map[string]string, ttl time.Duration) string {
	t.Helper()
	scheme, _, ok := strings.Cut(f.base, "://")
	if !ok {
		t.Fatalf("base %q has no scheme", f.base)
	}
	r, err := http.NewRequest(method, scheme+"://"+f.host+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.URL.Opaque = "//" + f.host + f.pathPrefix + httpbinding.EscapePath(key, false)
	q := url.Values{}
	for k, vs := range query {
		q[k] = append([]string(nil), vs...)
	}
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(ttl/time.Second), 10))
	r.URL.RawQuery = q.Encode()
	for k, v := range headers {
		if strings.EqualFold(k, headerContentLength) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				// aws-sdk-go-v2 signs Content-Length only from a positive
				// request length; minio-go (and so the fast path) signs
				// the header whatever its value.
				t.Fatalf("awsPresign needs a positive Content-Length, not %q", v)
			}
			r.ContentLength = n
			continue
		}
		r.Header.Set(k, v)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true // the path is escaped once, above (S3's rule)
		o.DisableHeaderHoisting = true
	})
	creds := aws.Credentials{AccessKeyID: f.accessKey, SecretAccessKey: f.secretKey}
	u, _, err := signer.PresignHTTP(context.Background(), creds, r, unsignedBody, sigV4Service, f.region, now)
	if err != nil {
		t.Fatalf("aws PresignHTTP(%q): %v", key, err)
	}
	return u
}

// awsKeys are object keys for the aws comparison: presignKeys plus every
// reserved and sub-delimiter character alone and in company.
var awsKeys = append(append([]string(nil), presignKeys...),
	"gen-delims/:?#[]@",
	"sub-delims/!$&'()*+,;=",
	"a+b=c&d?e#f",
	"100% sure",
	"x/%2F/%25/%",
	"Ω≈ç√∫/ñ/한국어/العربية/עברית.txt",
	"combining/e\u0301 vs é",
	"nbsp\u00a0and\u2003em space",
	"~/.config/app.yaml",
	"A-Z_a-z.0-9~",
)

// awsSigners are fast signers for many layouts, regions and credentials:
// each layout learned from minio-go (presignConfigs) with every region
// and credential pair set directly.
func awsSigners(t *testing.T) map[string]*fastSigner {
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "garage"}
	creds := [][2]string{
		{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{"AKID/with+odd=chars", "secret/with+slash="},
		{"minioadmin", "minioadmin"},
		{"GK31c2f218a2e44f485b94239e", strings.Repeat("0123456789abcdef", 4)},
		{"key with space", "pässwörd ünicode"},
	}
	out := map[string]*fastSigner{}
	for name, cfg := range presignConfigs() {
		s := mustS3(t, cfg)
		if s.fast == nil {
			t.Fatalf("%s: no fast path", name)
		}
		for _, region := range regions {
			for ci, c := range creds {
				out[fmt.Sprintf("%s/%s/cred%d", name, region, ci)] = &fastSigner{
					accessKey:  c[0],
					secretKey:  c[1],
					region:     region,
					base:       s.fast.base,
					host:       s.fast.host,
					pathPrefix: s.fast.pathPrefix,
				}
			}
		}
	}
	return out
}

// signCase is one request shape the adapter presigns.
type signCase struct {
	name    string
	method  string
	query   url.Values
	headers map[string]string
	ttl     time.Duration
}

func awsCases() []signCase {
	sum := sha256.Sum256([]byte("part"))
	return []signCase{
		{"part", http.MethodPut, url.Values{"partNumber": {"7"}, "uploadId": {"a b+c/=?&%~é"}},
			map[string]string{headerContentLength: "5242880"}, 15 * time.Minute},
		{"part+sha256", http.MethodPut, url.Values{"partNumber": {"10000"}, "uploadId": {"upload-123"}},
			map[string]string{headerContentLength: "16777216", headerChecksumSHA256: base64.StdEncoding.EncodeToString(sum[:])}, MaxPresignTTL},
		{"part+crc32c+type", http.MethodPut, url.Values{"partNumber": {"1"}, "uploadId": {"MzRhYzE4ZjctN2Y3Yi00ZDk3"}},
			map[string]string{headerContentLength: "1", headerContentType: "video/mp4", "x-amz-checksum-crc32c": "yZRlqg=="}, time.Second},
		{"put", http.MethodPut, nil,
			map[string]string{headerContentLength: "1234", headerContentType: "text/plain;  charset=utf-8", "x-amz-meta-title": "A  title   with spaces", "x-amz-meta-b": "x"}, time.Hour},
		{"get", http.MethodGet, url.Values{"response-content-disposition": {inlineDisposition("résumé final (v2).pdf")}}, nil, 10 * time.Minute},
		{"get-plain", http.MethodGet, nil, nil, 90*time.Minute + 500*time.Millisecond},
	}
}

// awsTimes are fixed signing times: the AWS documentation's example day,
// each side of several midnights (a year's and a leap day's included),
// far past and future, and a local time whose UTC day differs.
var awsTimes = []time.Time{
	time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC),
	time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
	time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 2, 28, 23, 59, 59, 999999999, time.UTC),
	time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
	time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
	time.Date(2027, 1, 1, 0, 0, 0, 1, time.UTC),
	time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
	time.Date(2026, 12, 4, 9, 30, 0, 0, time.FixedZone("UTC+10", 10*3600)),
	time.Date(2026, 12, 3, 19, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)),
}

// TestFastPresignMatchesAWSSigner checks the fast signer against
// aws-sdk-go-v2 for every layout, region and credential pair, every key,
// two request shapes, at fixed times (the dimensions rotate so that each value
// of each is met many times).
func TestFastPresignMatchesAWSSigner(t *testing.T) {
	cases := awsCases()
	n := 0
	for name, f := range awsSigners(t) {
		for ki, key := range awsKeys {
			for j := range 2 { // two of the shapes per key, in turn
				ci := (2*ki + j + len(name)) % len(cases)
				c := cases[ci]
				at := awsTimes[(ki+ci+len(name))%len(awsTimes)]
				got, _, ok := f.presign(at, c.method, key, c.query, c.headers, c.ttl)
				if !ok {
					t.Fatalf("%s: fast path refused %s %q", name, c.name, key)
				}
				if want := awsPresign(t, f, at, c.method, key, c.query, c.headers, c.ttl); got != want {
					t.Errorf("%s: %s of %q at %s differs from aws-sdk-go-v2:\n got %s\nwant %s", name, c.name, key, at.Format(time.RFC3339Nano), got, want)
				}
				n++
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d comparisons", n)
	}
	t.Logf("%d URLs identical to aws-sdk-go-v2's", n)
}

// TestFastPresignAcrossMidnightMatchesAWSSigner signs with one signer
// (so with its cached signing day) through a midnight, back to the day
// before and forward again, and compares each URL with aws-sdk-go-v2's
// at the same instant, and each with minio-go's signing day in its scope.
func TestFastPresignAcrossMidnightMatchesAWSSigner(t *testing.T) {
	s := mustS3(t, testConfig())
	f := s.fast
	midnight := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	steps := []time.Duration{-2 * time.Second, -time.Second, -time.Nanosecond, 0, time.Second, -time.Second, time.Nanosecond, 24 * time.Hour, 0, -24 * time.Hour}
	c := awsCases()[1]
	for i, d := range steps {
		at := midnight.Add(d)
		got, exp, ok := f.presign(at, c.method, "day/turn.bin", c.query, c.headers, c.ttl)
		if !ok {
			t.Fatal("fast path refused")
		}
		want := awsPresign(t, f, at, c.method, "day/turn.bin", c.query, c.headers, c.ttl)
		if got != want {
			t.Errorf("step %d (%s): differs from aws-sdk-go-v2:\n got %s\nwant %s", i, at.Format(time.RFC3339Nano), got, want)
		}
		day := at.UTC().Format(amzDayLayout)
		if !strings.Contains(got, "%2F"+day+"%2F") {
			t.Errorf("step %d: scope is not %s: %s", i, day, got)
		}
		if cached := f.day.Load(); cached == nil || cached.date != day {
			t.Errorf("step %d: cached signing day is not %s", i, day)
		}
		if wantExp := at.UTC().Truncate(time.Second).Add(c.ttl); !exp.Equal(wantExp) {
			t.Errorf("step %d: expires %v, want %v", i, exp, wantExp)
		}
	}
}
