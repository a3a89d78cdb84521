package backends

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// unreachable is an endpoint nothing listens on: presigning must work
// against it, since it needs no network.
const unreachable = "http://127.0.0.1:1"

func testConfig() Config {
	return Config{
		Name:      "test",
		Endpoint:  unreachable,
		Region:    "eu-west-1",
		Bucket:    "uploads",
		AccessKey: "AKIDTESTKEY",
		SecretKey: "s3cr3t-value-for-tests",
		PathStyle: true,
	}
}

func mustS3(t testing.TB, cfg Config) *S3 {
	t.Helper()
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func TestNewS3Validation(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"https with trailing slash", func(c *Config) { c.Endpoint = "https://s3.example.com/" }, ""},
		{"public endpoint", func(c *Config) { c.PublicEndpoint = "https://files.example.com" }, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint: is required"},
		{"no scheme", func(c *Config) { c.Endpoint = "127.0.0.1:7070" }, "endpoint: "},
		{"ftp scheme", func(c *Config) { c.Endpoint = "ftp://127.0.0.1" }, `scheme must be http or https, not "ftp"`},
		{"no host", func(c *Config) { c.Endpoint = "http://" }, "has no host"},
		{"path", func(c *Config) { c.Endpoint = "http://127.0.0.1:7070/uploads" }, "must not have a path"},
		{"query", func(c *Config) { c.Endpoint = "http://127.0.0.1:7070?x=1" }, "must not have a query"},
		{"user info", func(c *Config) { c.Endpoint = "http://key:hunter2@127.0.0.1:7070" }, "must not hold credentials"},
		{"bad port", func(c *Config) { c.Endpoint = "http://127.0.0.1:99999" }, "port"},
		{"bad public endpoint", func(c *Config) { c.PublicEndpoint = "files.example.com" }, "public endpoint: "},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket is required"},
		{"bad bucket", func(c *Config) { c.Bucket = "Up_Loads" }, `bucket "Up_Loads" is not a valid bucket name`},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "access key is required"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "secret key is required"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout -1s is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.edit(&cfg)
			_, err := NewS3(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("NewS3: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewS3: no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewS3: %q, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), `backend "test"`) {
				t.Errorf("NewS3: %q does not name the backend", err)
			}
			for _, secret := range []string{"hunter2", cfg.SecretKey} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("NewS3: %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestNewS3Defaults(t *testing.T) {
	cfg := testConfig()
	cfg.Region = ""
	s := mustS3(t, cfg)
	if s.region != DefaultRegion || s.timeout != DefaultTimeout {
		t.Errorf("region %q, timeout %v; want %q, %v", s.region, s.timeout, DefaultRegion, DefaultTimeout)
	}
	if s.Name() != "test" || s.Bucket() != "uploads" {
		t.Errorf("Name %q, Bucket %q", s.Name(), s.Bucket())
	}
	cfg.Timeout = 5 * time.Second
	if s := mustS3(t, cfg); s.timeout != 5*time.Second {
		t.Errorf("timeout %v, want 5s", s.timeout)
	}
}

// parsePresigned splits a presigned URL into its parts.
func parsePresigned(t *testing.T, r PresignedRequest) (*url.URL, url.Values, []string) {
	t.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		t.Fatalf("URL does not parse: %v", err)
	}
	q := u.Query()
	return u, q, strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
}

func TestPresignPart(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	before := time.Now()
	r, err := s.PresignPart(ctx, "alice/clip.mp4", "upload-123", 7, PartOptions{Size: 16 << 20}, 15*time.Minute)
	if err != nil {
		t.Fatalf("PresignPart: %v", err)
	}
	if r.Method != "PUT" {
		t.Errorf("Method = %q", r.Method)
	}
	if want := map[string]string{"Content-Length": "16777216"}; !mapsEqual(r.Headers, want) {
		t.Errorf("Headers = %v, want %v", r.Headers, want)
	}
	u, q, signed := parsePresigned(t, r)
	if u.Host != "127.0.0.1:1" || u.Path != "/uploads/alice/clip.mp4" {
		t.Errorf("URL host %q path %q, want path-style on the endpoint", u.Host, u.Path)
	}
	if q.Get("partNumber") != "7" || q.Get("uploadId") != "upload-123" {
		t.Errorf("query = %v, want partNumber=7 and uploadId=upload-123", q)
	}
	if !slices.Equal(signed, []string{"content-length", "host"}) {
		t.Errorf("signed headers = %v, want content-length;host", signed)
	}
	if q.Get("X-Amz-Expires") != "900" || !strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/s3/aws4_request") {
		t.Errorf("expires %q, credential %q", q.Get("X-Amz-Expires"), q.Get("X-Amz-Credential"))
	}
	if lo, hi := before.Add(15*time.Minute-time.Second), time.Now().Add(15*time.Minute); r.ExpiresAt.Before(lo) || r.ExpiresAt.After(hi) {
		t.Errorf("ExpiresAt %v, want within [%v, %v]", r.ExpiresAt, lo, hi)
	}

	sum := sha256.Sum256([]byte("part"))
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	r, err = s.PresignPart(ctx, "k", "u", 1, PartOptions{Size: 4, Checksum: checksum.Value{Algorithm: checksum.SHA256, Value: b64}}, time.Minute)
	if err != nil {
		t.Fatalf("PresignPart with checksum: %v", err)
	}
	if want := map[string]string{"Content-Length": "4", "x-amz-checksum-sha256": b64}; !mapsEqual(r.Headers, want) {
		t.Errorf("Headers = %v, want %v", r.Headers, want)
	}
	if _, _, signed := parsePresigned(t, r); !slices.Equal(signed, []string{"content-length", "host", "x-amz-checksum-sha256"}) {
		t.Errorf("signed headers = %v", signed)
	}
}

func TestPresignPartRejects(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	tests := []struct {
		name     string
		key, id  string
		n        int
		size     int64
		checksum string
		ttl      time.Duration
		want     string
	}{
		{"part 0", "k", "u", 0, 1, "", time.Minute, "part number 0 is out of range"},
		{"part 10001", "k", "u", 10001, 1, "", time.Minute, "part number 10001 is out of range"},
		{"negative size", "k", "u", 1, -1, "", time.Minute, "part size -1"},
		{"part too big", "k", "u", 1, multipart.MaxPartSize + 1, "", time.Minute, "part size"},
		{"no upload id", "k", "", 1, 1, "", time.Minute, "upload id is empty"},
		{"no key", "", "u", 1, 1, "", time.Minute, "object key is empty"},
		{"bad key", "a\xffb", "u", 1, 1, "", time.Minute, "not valid UTF-8"},
		{"hex checksum", "k", "u", 1, 1, strings.Repeat("ab", 32), time.Minute, "want the base64 of a 32-byte SHA256"},
		{"short checksum", "k", "u", 1, 1, "AAAA", time.Minute, "want the base64 of a 32-byte SHA256"},
		{"ttl too short", "k", "u", 1, 1, "", 500 * time.Millisecond, "ttl 500ms is out of range"},
		{"ttl too long", "k", "u", 1, 1, "", 8 * 24 * time.Hour, "ttl 192h0m0s is out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PresignPart(ctx, tc.key, tc.id, tc.n, PartOptions{Size: tc.size, Checksum: checksum.Value{Algorithm: checksum.SHA256, Value: tc.checksum}}, tc.ttl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PresignPart: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPresignPut(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	r, err := s.PresignPut(ctx, "a/b.png", 1234, ObjectOptions{
		ContentType: "image/png",
		Metadata:    map[string]string{"Title": "My Photo", "owner": "alice"},
	}, time.Hour)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	want := map[string]string{
		"Content-Length":   "1234",
		"Content-Type":     "image/png",
		"x-amz-meta-title": "My Photo",
		"x-amz-meta-owner": "alice",
	}
	if r.Method != "PUT" || !mapsEqual(r.Headers, want) {
		t.Errorf("PresignPut = %s %v, want PUT %v", r.Method, r.Headers, want)
	}
	_, q, signed := parsePresigned(t, r)
	if !slices.Equal(signed, []string{"content-length", "content-type", "host", "x-amz-meta-owner", "x-amz-meta-title"}) {
		t.Errorf("signed headers = %v", signed)
	}
	if q.Has("partNumber") || q.Has("uploadId") {
		t.Errorf("single PUT URL has multipart parameters: %v", q)
	}

	r, err = s.PresignPut(ctx, "k", 0, ObjectOptions{}, time.Hour)
	if err != nil {
		t.Fatalf("PresignPut without options: %v", err)
	}
	if want := map[string]string{"Content-Length": "0", "Content-Type": "application/octet-stream"}; !mapsEqual(r.Headers, want) {
		t.Errorf("Headers = %v, want %v", r.Headers, want)
	}
}

func TestPresignPutRejects(t *testing.T) {
	s := mustS3(t, testConfig())
	tests := []struct {
		name string
		size int64
		opts ObjectOptions
		want string
	}{
		{"too large", multipart.MaxSingleSize + 1, ObjectOptions{}, "size 5368709121 is out of range"},
		{"negative", -1, ObjectOptions{}, "size -1 is out of range"},
		{"content type with newline", 1, ObjectOptions{ContentType: "text/plain\r\nX-Evil: 1"}, "content type is not printable ASCII"},
		{"prefixed key", 1, ObjectOptions{Metadata: map[string]string{"x-amz-meta-title": "a"}}, "must not have the x-amz-meta- prefix"},
		{"key with space", 1, ObjectOptions{Metadata: map[string]string{"my title": "a"}}, `metadata key "my title"`},
		{"empty key", 1, ObjectOptions{Metadata: map[string]string{"": "a"}}, "metadata key is empty"},
		{"non-ASCII value", 1, ObjectOptions{Metadata: map[string]string{"title": "Résumé"}}, "not printable ASCII"},
		{"newline value", 1, ObjectOptions{Metadata: map[string]string{"title": "a\nb"}}, "not printable ASCII"},
		{"padded value", 1, ObjectOptions{Metadata: map[string]string{"title": " a"}}, "white space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PresignPut(context.Background(), "k", tc.size, tc.opts, time.Minute)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PresignPut: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPresignGet(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	r, err := s.PresignGet(ctx, "a/b.pdf", GetOptions{}, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	_, q, signed := parsePresigned(t, r)
	if r.Method != "GET" || len(r.Headers) != 0 || q.Has("response-content-disposition") || !slices.Equal(signed, []string{"host"}) {
		t.Errorf("PresignGet without a name = %s %v, query %v", r.Method, r.Headers, q)
	}

	r, err = s.PresignGet(ctx, "a/b.pdf", GetOptions{Filename: "naïve plan.pdf"}, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	_, q, _ = parsePresigned(t, r)
	want := `inline; filename="na_ve plan.pdf"; filename*=UTF-8''na%C3%AFve%20plan.pdf`
	if got := q.Get("response-content-disposition"); got != want {
		t.Errorf("response-content-disposition = %q, want %q", got, want)
	}
	if q.Has("response-content-type") {
		t.Errorf("response-content-type %q asked for", q.Get("response-content-type"))
	}

	r, err = s.PresignGet(ctx, "a/b.html", GetOptions{Filename: "page.html", Attachment: true, ContentType: "application/octet-stream"}, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	_, q, _ = parsePresigned(t, r)
	if got := q.Get("response-content-disposition"); got != `attachment; filename="page.html"` {
		t.Errorf("attachment: response-content-disposition = %q", got)
	}
	if got := q.Get("response-content-type"); got != "application/octet-stream" {
		t.Errorf("response-content-type = %q", got)
	}
	r, err = s.PresignGet(ctx, "a/b.html", GetOptions{Attachment: true}, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	if _, q, _ = parsePresigned(t, r); q.Get("response-content-disposition") != "attachment" {
		t.Errorf("attachment without a name: %q", q.Get("response-content-disposition"))
	}
}

func TestPublicEndpointSignsOnlyPresignedURLs(t *testing.T) {
	cfg := testConfig()
	cfg.PublicEndpoint = "https://files.example.com"
	cfg.PathStyle = false
	s := mustS3(t, cfg)
	r, err := s.PresignGet(context.Background(), "k.txt", GetOptions{}, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	u, _, _ := parsePresigned(t, r)
	if u.Scheme != "https" || u.Host != "uploads.files.example.com" || u.Path != "/k.txt" {
		t.Errorf("URL = %s://%s%s, want https://uploads.files.example.com/k.txt (virtual-host style on the public endpoint)", u.Scheme, u.Host, u.Path)
	}
	if got := s.core.EndpointURL().Host; got != "127.0.0.1:1" {
		t.Errorf("store calls go to %q, want the private endpoint", got)
	}
}

func TestArgumentErrorsKeepKinds(t *testing.T) {
	s := mustS3(t, testConfig())
	ctx := context.Background()
	_, err := s.ListParts(ctx, "k", "")
	if !errors.Is(err, ErrNotFound) || err.Error() != "backends: list parts: not found: upload id is empty" {
		t.Errorf("ListParts with no upload id: %q", err)
	}
	_, err = s.CompleteMultipart(ctx, "k", "u", nil, CompleteOptions{})
	if !errors.Is(err, ErrInvalidPart) {
		t.Errorf("CompleteMultipart with no parts: %v, want ErrInvalidPart", err)
	}
	_, err = s.CompleteMultipart(ctx, "k", "u", []multipart.Part{{Number: 1, ETag: `""`}}, CompleteOptions{})
	if !errors.Is(err, ErrInvalidPart) {
		t.Errorf("CompleteMultipart with an empty ETag: %v, want ErrInvalidPart", err)
	}
}

func TestUnreachableStore(t *testing.T) {
	cfg := testConfig()
	cfg.Timeout = 5 * time.Second
	s := mustS3(t, cfg)
	err := s.Ping(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping of a closed port: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "X-Amz") || strings.Contains(err.Error(), "http://") {
		t.Errorf("Ping error %q holds a URL", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Stat(ctx, "k")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Stat with a canceled context: %v, want context.Canceled only", err)
	}
}

func TestTranslate(t *testing.T) {
	presigned := "http://127.0.0.1:7070/uploads/k?partNumber=1&uploadId=abc&X-Amz-Credential=AKIDTESTKEY%2F20260101&X-Amz-Signature=deadbeef"
	tests := []struct {
		name    string
		err     error
		kind    error  // nil: none of the package's errors
		also    error  // another error the result must wrap
		message string // exact Error() when not empty
	}{
		{"NoSuchKey", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404, Message: "The specified key does not exist."}, ErrNotFound, nil,
			"backends: not found: NoSuchKey (HTTP 404): The specified key does not exist."},
		{"NoSuchUpload", minio.ErrorResponse{Code: "NoSuchUpload", StatusCode: 404}, ErrNotFound, nil, "backends: not found: NoSuchUpload (HTTP 404)"},
		{"DigitalOcean NoSuchKey for an upload with 400", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 400}, ErrNotFound, nil, ""},
		{"NoSuchBucket", minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, ErrNotFound, nil, ""},
		{"bare 404", minio.ErrorResponse{StatusCode: 404}, ErrNotFound, nil, "backends: not found: error (HTTP 404)"},
		{"InvalidPart", minio.ErrorResponse{Code: "InvalidPart", StatusCode: 400}, ErrInvalidPart, nil, ""},
		{"InvalidPartOrder", minio.ErrorResponse{Code: "InvalidPartOrder", StatusCode: 400}, ErrInvalidPart, nil, ""},
		{"EntityTooSmall", minio.ErrorResponse{Code: "EntityTooSmall", StatusCode: 400}, ErrInvalidPart, nil, ""},
		{"AccessDenied", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, ErrAccessDenied, nil, ""},
		{"SignatureDoesNotMatch", minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403}, ErrAccessDenied, nil, ""},
		{"InvalidAccessKeyId", minio.ErrorResponse{Code: "InvalidAccessKeyId", StatusCode: 403}, ErrAccessDenied, nil, ""},
		{"unknown 403", minio.ErrorResponse{Code: "RequestTimeTooSkewed", StatusCode: 403}, ErrAccessDenied, nil, ""},
		{"SlowDown", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, ErrUnavailable, nil, ""},
		{"ServiceUnavailable", minio.ErrorResponse{Code: "ServiceUnavailable", StatusCode: 503}, ErrUnavailable, nil, ""},
		{"InternalError", minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, ErrUnavailable, nil, ""},
		{"bare 502", minio.ErrorResponse{StatusCode: 502}, ErrUnavailable, nil, ""},
		{"429", minio.ErrorResponse{Code: "TooManyRequests", StatusCode: 429}, ErrUnavailable, nil, ""},
		{"PreconditionFailed", minio.ErrorResponse{Code: "PreconditionFailed", StatusCode: 412}, ErrPrecondition, nil, ""},
		{"ConditionalRequestConflict", minio.ErrorResponse{Code: "ConditionalRequestConflict", StatusCode: 409}, ErrPrecondition, nil, ""},
		{"bare 412", minio.ErrorResponse{StatusCode: 412}, ErrPrecondition, nil, ""},
		{"BadDigest", minio.ErrorResponse{Code: "BadDigest", StatusCode: 400, Message: "The CRC32C you specified did not match the calculated checksum."}, ErrBadDigest, nil, ""},
		{"InvalidDigest", minio.ErrorResponse{Code: "InvalidDigest", StatusCode: 400}, ErrBadDigest, nil, ""},
		{"XAmzContentChecksumMismatch", minio.ErrorResponse{Code: "XAmzContentChecksumMismatch", StatusCode: 400}, ErrBadDigest, nil, ""},
		{"InvalidRequest checksum mismatch", minio.ErrorResponse{Code: "InvalidRequest", StatusCode: 400, Message: "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: sha256"}, ErrBadDigest, nil, ""},
		{"InvalidRequest other", minio.ErrorResponse{Code: "InvalidRequest", StatusCode: 400, Message: "The upload was created using a crc32 checksum. The complete request must include the checksum for each part."}, nil, nil, ""},
		{"other 400", minio.ErrorResponse{Code: "InvalidArgument", StatusCode: 400, Message: "bad"}, nil, nil,
			"backends: InvalidArgument (HTTP 400): bad"},
		{"message with a URL", minio.ErrorResponse{Code: "InternalError", StatusCode: 500, Message: "failed " + presigned},
			ErrUnavailable, nil, "backends: store unavailable: InternalError (HTTP 500): failed [url]"},
		{"transport error", &url.Error{Op: "Put", URL: presigned, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
			ErrUnavailable, nil, "backends: store unavailable: request failed: dial tcp: connection refused"},
		{"deadline", context.DeadlineExceeded, ErrUnavailable, context.DeadlineExceeded, "backends: store unavailable: timed out"},
		{"deadline in a transport error", &url.Error{Op: "Get", URL: presigned, Err: context.DeadlineExceeded},
			ErrUnavailable, context.DeadlineExceeded, "backends: store unavailable: timed out"},
		{"canceled", fmt.Errorf("wrapped: %w", context.Canceled), nil, context.Canceled, "backends: canceled"},
		{"net error alone", &net.DNSError{Err: "no such host", Name: "s3.invalid", IsNotFound: true}, ErrUnavailable, nil, ""},
		{"plain error with a query", errors.New("odd answer from /uploads/k?uploadId=abc&X-Amz-Signature=ff"), nil, nil,
			"backends: odd answer from [url]"},
	}
	kinds := []error{ErrNotFound, ErrInvalidPart, ErrAccessDenied, ErrUnavailable, ErrPrecondition, ErrBadDigest, ErrNotSupported}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if got == nil {
				t.Fatal("translate returned nil")
			}
			for _, k := range kinds {
				if want := k == tc.kind; errors.Is(got, k) != want {
					t.Errorf("errors.Is(%q, %v) = %v, want %v", got, k, !want, want)
				}
			}
			if tc.also != nil && !errors.Is(got, tc.also) {
				t.Errorf("%q does not wrap %v", got, tc.also)
			}
			if tc.message != "" && got.Error() != tc.message {
				t.Errorf("message %q, want %q", got, tc.message)
			}
			var resp minio.ErrorResponse
			if errors.As(got, &resp) {
				t.Errorf("%q exposes a minio-go ErrorResponse", got)
			}
			var uerr *url.Error
			if errors.As(got, &uerr) {
				t.Errorf("%q exposes a *url.Error", got)
			}
			for _, leak := range []string{"X-Amz", "uploadId=", "deadbeef", "AKIDTESTKEY", "http://"} {
				if strings.Contains(got.Error(), leak) {
					t.Errorf("message %q leaks %q", got, leak)
				}
			}
		})
	}
	if translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
}

func TestFailNamesOpAndRedactsCredentials(t *testing.T) {
	cfg := testConfig()
	s := mustS3(t, cfg)
	err := s.fail("stat", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403,
		Message: "key " + cfg.AccessKey + " with secret " + cfg.SecretKey + " refused"})
	want := "backends: stat: access denied: AccessDenied (HTTP 403): key [redacted] with secret [redacted] refused"
	if err.Error() != want {
		t.Errorf("fail = %q, want %q", err, want)
	}
	if !errors.Is(err, ErrAccessDenied) {
		t.Errorf("%v does not wrap ErrAccessDenied", err)
	}
}

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain words stay", "plain words stay"},
		{"see https://s3.example.com/b/k?X-Amz-Signature=ab now", "see [url] now"},
		{"path /b/k?uploadId=1&partNumber=2 here", "path [url] here"},
		{"X-Amz-Signature: abcdef", "[redacted]"},
		{"line\r\nbreak", "line  break"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100) + "..."},
	}
	for _, tc := range tests {
		if got := scrub(tc.in); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInlineDisposition(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "inline"},
		{"report.pdf", `inline; filename="report.pdf"`},
		{"my report (v2).pdf", `inline; filename="my report (v2).pdf"`},
		{"Résumé.pdf", `inline; filename="R_sum_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf`},
		{`say "hi".txt`, `inline; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`},
		{`back\slash.txt`, `inline; filename="slash.txt"`},
		{"../../etc/passwd", `inline; filename="passwd"`},
		{"dir/", "inline"},
		{"..", "inline"},
		{"100%.txt", `inline; filename="100_.txt"; filename*=UTF-8''100%25.txt`},
		{"new\nline.txt", `inline; filename="newline.txt"`},
		{"日本.txt", `inline; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`},
		{"bad\xffutf8", `inline; filename="bad_utf8"; filename*=UTF-8''bad%EF%BF%BDutf8`},
		{"semi;colon,comma.txt", `inline; filename="semi;colon,comma.txt"`},
	}
	for _, tc := range tests {
		if got := inlineDisposition(tc.in); got != tc.want {
			t.Errorf("inlineDisposition(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpiresAt(t *testing.T) {
	u, _ := url.Parse("http://h/b/k?X-Amz-Date=20261127T100000Z&X-Amz-Expires=900")
	if got, want := expiresAt(u, time.Hour), time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("expiresAt = %v, want %v (from the URL, not the ttl)", got, want)
	}
	u, _ = url.Parse("http://h/b/k")
	before := time.Now().Truncate(time.Second)
	got := expiresAt(u, time.Minute)
	if got.Before(before.Add(time.Minute)) || got.After(time.Now().Add(time.Minute)) {
		t.Errorf("expiresAt without signing parameters = %v, want about now+1m", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if got, ok := a[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func BenchmarkPresignPart(b *testing.B) {
	s := mustS3(b, testConfig())
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.PresignPart(ctx, "alice/2026/11/27/upl_x.mp4", "upload-123", i%multipart.MaxParts+1, PartOptions{Size: 16 << 20}, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
