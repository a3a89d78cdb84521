package backends

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// TestFastPresignChecksumPartsMatchMinio checks the part URL shapes with
// every checksum algorithm, with and without a signed Content-Type,
// against minio-go's presigner.
func TestFastPresignChecksumPartsMatchMinio(t *testing.T) {
	for name, cfg := range presignConfigs() {
		s := mustS3(t, cfg)
		for _, a := range append([]checksum.Algorithm{""}, checksum.All...) {
			for _, ct := range []string{"", "video/mp4", "text/plain;  charset=utf-8"} {
				headers := map[string]string{headerContentLength: "5242880"}
				if a != "" {
					headers[a.Header()] = a.Sum([]byte("part " + string(a)))
				}
				if ct != "" {
					headers[headerContentType] = ct
				}
				query := url.Values{"partNumber": {"12"}, "uploadId": {"up/id+1"}}
				want, at := reference(t, s, http.MethodPut, "dir/clip 1.mp4", query, headers, time.Hour)
				got, _, ok := s.fast.presign(at, http.MethodPut, "dir/clip 1.mp4", query, headers, time.Hour)
				if !ok {
					t.Fatalf("%s: fast path refused %s with content type %q", name, a, ct)
				}
				if got != want {
					t.Errorf("%s: %s with content type %q differs from minio-go:\n got %s\nwant %s", name, a, ct, got, want)
				}
			}
		}
	}
}

// TestPresignPartChecksumHeaders checks PresignPart's headers and signed
// header list for each algorithm and a content type.
func TestPresignPartChecksumHeaders(t *testing.T) {
	s := mustS3(t, testConfig())
	for _, a := range checksum.All {
		v := a.Sum([]byte("data"))
		r, err := s.PresignPart(context.Background(), "k", "u", 1, PartOptions{Size: 4, Checksum: checksum.Value{Algorithm: a, Value: v}, ContentType: "image/png"}, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		want := map[string]string{"Content-Length": "4", "Content-Type": "image/png", a.Header(): v}
		if !mapsEqual(r.Headers, want) {
			t.Errorf("%s: headers %v, want %v", a, r.Headers, want)
		}
		_, _, signed := parsePresigned(t, r)
		if got, want := strings.Join(signed, ";"), "content-length;content-type;host;"+a.Header(); got != want {
			t.Errorf("%s: signed headers %s, want %s", a, got, want)
		}
	}
	_, err := s.PresignPart(context.Background(), "k", "u", 1, PartOptions{Size: 4, Checksum: checksum.Value{Algorithm: checksum.CRC32, Value: checksum.SHA1.Sum(nil)}}, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "4-byte CRC32") {
		t.Errorf("a SHA1 value as CRC32: %v, want a refusal", err)
	}
}

// TestSignedHeaderListShortcuts checks that the shortcut table gives the
// plain join for every shape it holds, and that other shapes fall back.
func TestSignedHeaderListShortcuts(t *testing.T) {
	join := func(h []header) string {
		names := make([]string, len(h))
		for i, x := range h {
			names[i] = x.k
		}
		return strings.Join(names, ";")
	}
	shapes := [][]header{
		{{k: "content-length"}, {k: "host"}},
		{{k: "content-length"}, {k: "content-type"}, {k: "host"}},
		{{k: "content-length"}, {k: "host"}, {k: "x-amz-meta-a"}},
		{{k: "content-length"}, {k: "content-type"}, {k: "host"}, {k: "x-amz-meta-a"}},
		{{k: "content-type"}, {k: "host"}},
		{{k: "content-length"}, {k: "content-type"}, {k: "x-amz-checksum-crc32"}},
	}
	for _, a := range checksum.All {
		shapes = append(shapes,
			[]header{{k: "content-length"}, {k: "host"}, {k: a.Header()}},
			[]header{{k: "content-length"}, {k: "content-type"}, {k: "host"}, {k: a.Header()}})
	}
	for _, h := range shapes {
		if got, want := signedHeaderList(h), join(h); got != want {
			t.Errorf("signedHeaderList = %q, want %q", got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = signedHeaderList([]header{{k: "content-length"}, {k: "content-type"}, {k: "host"}, {k: "x-amz-checksum-crc64nvme"}})
	}); n != 0 {
		t.Errorf("a part shape allocates %v times, want 0", n)
	}
}

func TestCheckChecksumChoice(t *testing.T) {
	ok := []struct {
		a checksum.Algorithm
		t checksum.Type
	}{
		{"", ""}, {checksum.CRC64NVME, ""}, {checksum.CRC64NVME, checksum.FullObject},
		{checksum.CRC32C, checksum.FullObject}, {checksum.CRC32C, checksum.Composite}, {checksum.CRC32, checksum.FullObject},
		{checksum.SHA256, ""}, {checksum.SHA256, checksum.Composite}, {checksum.SHA1, checksum.Composite},
	}
	for _, c := range ok {
		if err := checkChecksumChoice(c.a, c.t); err != nil {
			t.Errorf("%s/%s: %v", c.a, c.t, err)
		}
	}
	bad := []struct {
		a    checksum.Algorithm
		t    checksum.Type
		want string
	}{
		{"", checksum.FullObject, "needs a checksum algorithm"},
		{"MD5", "", "unknown checksum algorithm"},
		{checksum.SHA256, checksum.FullObject, "no FULL_OBJECT type"},
		{checksum.SHA1, checksum.FullObject, "no FULL_OBJECT type"},
		{checksum.CRC64NVME, checksum.Composite, "only the FULL_OBJECT type"},
		{checksum.CRC32, "PARTIAL", "unknown checksum type"},
	}
	for _, c := range bad {
		if err := checkChecksumChoice(c.a, c.t); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%s: %v, want %q", c.a, c.t, err, c.want)
		}
	}
}

func TestChecksumFieldsValue(t *testing.T) {
	crc := checksum.CRC32C.Sum([]byte("x"))
	tests := []struct {
		f    checksumFields
		want checksum.Value
	}{
		{checksumFields{}, checksum.Value{}},
		{checksumFields{crc32c: crc, typ: "FULL_OBJECT"}, checksum.Value{Algorithm: checksum.CRC32C, Type: checksum.FullObject, Value: crc}},
		{checksumFields{crc32c: crc + "-3", typ: "composite"}, checksum.Value{Algorithm: checksum.CRC32C, Type: checksum.Composite, Value: crc + "-3"}},
		{checksumFields{sha256: "abc-12"}, checksum.Value{Algorithm: checksum.SHA256, Type: checksum.Composite, Value: "abc-12"}},
		{checksumFields{sha1: "abc"}, checksum.Value{Algorithm: checksum.SHA1, Type: checksum.FullObject, Value: "abc"}},
		{checksumFields{crc64nvme: "n", crc32: "c"}, checksum.Value{Algorithm: checksum.CRC64NVME, Type: checksum.FullObject, Value: "n"}},
	}
	for _, tc := range tests {
		if got := tc.f.value(); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.f, got, tc.want)
		}
	}
}

// recorder is an S3 stand-in for wire tests: it records each request's
// method, query, headers and body, and answers with canned XML.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	// answer returns status, headers and body for a request.
	answer func(r *http.Request, body string) (int, map[string]string, string)
}

type recorded struct {
	method string
	query  url.Values
	header http.Header
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Query(), r.Header.Clone(), string(b)})
	rec.mu.Unlock()
	status, hdr, body := rec.answer(r, string(b))
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("no request reached the store")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func recordingS3(t *testing.T, answer func(r *http.Request, body string) (int, map[string]string, string)) (*S3, *recorder) {
	t.Helper()
	rec := &recorder{answer: answer}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cfg := testConfig()
	cfg.Endpoint = srv.URL
	return mustS3(t, cfg), rec
}

func TestCreateMultipartSendsChecksumAlgorithm(t *testing.T) {
	s, rec := recordingS3(t, func(*http.Request, string) (int, map[string]string, string) {
		return 200, nil, `<InitiateMultipartUploadResult><Bucket>uploads</Bucket><Key>k</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>`
	})
	ctx := context.Background()
	if _, err := s.CreateMultipart(ctx, "k", ObjectOptions{ContentType: "video/mp4", Metadata: map[string]string{"t": "v"}, Checksum: checksum.CRC32C, ChecksumType: checksum.FullObject}); err != nil {
		t.Fatal(err)
	}
	r := rec.last(t)
	if _, ok := r.query["uploads"]; r.method != http.MethodPost || !ok {
		t.Fatalf("request %s %v, want POST ?uploads", r.method, r.query)
	}
	for k, want := range map[string]string{"x-amz-checksum-algorithm": "CRC32C", "x-amz-checksum-type": "FULL_OBJECT", "Content-Type": "video/mp4", "x-amz-meta-t": "v"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := s.CreateMultipart(ctx, "k", ObjectOptions{Checksum: checksum.SHA256}); err != nil {
		t.Fatal(err)
	}
	r = rec.last(t)
	if r.header.Get("x-amz-checksum-algorithm") != "SHA256" || r.header.Get("x-amz-checksum-type") != "" {
		t.Errorf("SHA256 with the default type: algorithm %q type %q", r.header.Get("x-amz-checksum-algorithm"), r.header.Get("x-amz-checksum-type"))
	}
	if _, err := s.CreateMultipart(ctx, "k", ObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if r = rec.last(t); r.header.Get("x-amz-checksum-algorithm") != "" {
		t.Errorf("no checksum asked, but x-amz-checksum-algorithm = %q", r.header.Get("x-amz-checksum-algorithm"))
	}
	n := len(rec.reqs)
	if _, err := s.CreateMultipart(ctx, "k", ObjectOptions{Checksum: checksum.SHA1, ChecksumType: checksum.FullObject}); err == nil {
		t.Error("SHA1 FULL_OBJECT accepted")
	}
	if len(rec.reqs) != n {
		t.Error("a refused checksum choice reached the store")
	}
}

func TestListPartsChecksums(t *testing.T) {
	crc1, crc2 := checksum.CRC32C.Sum([]byte("1")), checksum.CRC32C.Sum([]byte("2"))
	algorithm := "CRC32C"
	s, _ := recordingS3(t, func(*http.Request, string) (int, map[string]string, string) {
		alg := ""
		if algorithm != "" {
			alg = "<ChecksumAlgorithm>" + algorithm + "</ChecksumAlgorithm>"
		}
		return 200, nil, `<ListPartsResult><Bucket>uploads</Bucket><Key>k</Key><UploadId>u</UploadId>` + alg +
			`<IsTruncated>false</IsTruncated>` +
			`<Part><PartNumber>1</PartNumber><ETag>"a"</ETag><Size>5</Size><ChecksumCRC32C>` + crc1 + `</ChecksumCRC32C><ChecksumCRC64NVME>internal</ChecksumCRC64NVME></Part>` +
			`<Part><PartNumber>2</PartNumber><ETag>"b"</ETag><Size>1</Size><ChecksumCRC32C>` + crc2 + `</ChecksumCRC32C></Part>` +
			`</ListPartsResult>`
	})
	parts, err := s.ListParts(context.Background(), "k", "u")
	if err != nil {
		t.Fatal(err)
	}
	want := []multipart.Part{{Number: 1, ETag: "a", Size: 5, Checksum: crc1}, {Number: 2, ETag: "b", Size: 1, Checksum: crc2}}
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Errorf("ListParts = %+v, want %+v", parts, want)
	}
	algorithm = ""
	parts, err = s.ListParts(context.Background(), "k", "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Checksum != "" {
			t.Errorf("a listing without ChecksumAlgorithm gave part %d checksum %q", p.Number, p.Checksum)
		}
	}
}

func TestCompleteMultipartSendsChecksumsAndCondition(t *testing.T) {
	whole := checksum.CRC64NVME.Sum([]byte("whole"))
	p1, p2 := checksum.CRC64NVME.Sum([]byte("1")), checksum.CRC64NVME.Sum([]byte("2"))
	s, rec := recordingS3(t, func(*http.Request, string) (int, map[string]string, string) {
		return 200, nil, `<CompleteMultipartUploadResult><Bucket>uploads</Bucket><Key>k</Key><ETag>"e-2"</ETag>` +
			`<ChecksumCRC64NVME>` + whole + `</ChecksumCRC64NVME><ChecksumType>FULL_OBJECT</ChecksumType></CompleteMultipartUploadResult>`
	})
	parts := []multipart.Part{{Number: 1, ETag: "a", Checksum: p1}, {Number: 2, ETag: `"b"`, Checksum: p2}}
	info, err := s.CompleteMultipart(context.Background(), "k", "u", parts, CompleteOptions{
		Checksum:    checksum.Value{Algorithm: checksum.CRC64NVME, Type: checksum.FullObject, Value: whole},
		IfNoneMatch: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (checksum.Value{Algorithm: checksum.CRC64NVME, Type: checksum.FullObject, Value: whole}); info.ETag != "e-2" || info.Checksum != want {
		t.Errorf("info = %+v, want ETag e-2 and checksum %+v", info, want)
	}
	r := rec.last(t)
	for k, want := range map[string]string{"If-None-Match": "*", "x-amz-checksum-crc64nvme": whole, "x-amz-checksum-type": "FULL_OBJECT"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{
		"<PartNumber>1</PartNumber><ETag>&#34;a&#34;</ETag><ChecksumCRC64NVME>" + p1 + "</ChecksumCRC64NVME>",
		"<PartNumber>2</PartNumber><ETag>&#34;b&#34;</ETag><ChecksumCRC64NVME>" + p2 + "</ChecksumCRC64NVME>",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("body %s lacks %s", r.body, want)
		}
	}

	// Without options: no checksum header, no condition.
	if _, err := s.CompleteMultipart(context.Background(), "k", "u", []multipart.Part{{Number: 1, ETag: "a"}}, CompleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r = rec.last(t)
	for _, k := range []string{"If-None-Match", "x-amz-checksum-crc64nvme", "x-amz-checksum-type"} {
		if r.header.Get(k) != "" {
			t.Errorf("plain complete sent %s: %q", k, r.header.Get(k))
		}
	}
	if strings.Contains(r.body, "Checksum") {
		t.Errorf("plain complete body has a checksum: %s", r.body)
	}

	// Refused before any request.
	n := len(rec.reqs)
	for _, c := range []struct {
		parts []multipart.Part
		opts  CompleteOptions
		want  string
	}{
		{[]multipart.Part{{Number: 1, ETag: "a", Checksum: p1}}, CompleteOptions{}, "name no algorithm"},
		{[]multipart.Part{{Number: 1, ETag: "a", Checksum: "short"}}, CompleteOptions{Checksum: checksum.Value{Algorithm: checksum.CRC32}}, "part 1"},
		{[]multipart.Part{{Number: 1, ETag: "a"}}, CompleteOptions{Checksum: checksum.Value{Algorithm: checksum.SHA256, Value: whole}}, "32-byte SHA256"},
		{[]multipart.Part{{Number: 1, ETag: "a"}}, CompleteOptions{Checksum: checksum.Value{Algorithm: checksum.SHA256, Value: checksum.SHA256.Sum(nil) + "-x"}}, "malformed part count"},
	} {
		if _, err := s.CompleteMultipart(context.Background(), "k", "u", c.parts, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.opts, err, c.want)
		}
	}
	if len(rec.reqs) != n {
		t.Error("a refused complete reached the store")
	}
	// A composite value with its part count is well-formed.
	comp := checksum.SHA256.Sum(nil) + "-2"
	if _, err := s.CompleteMultipart(context.Background(), "k", "u", []multipart.Part{{Number: 1, ETag: "a"}}, CompleteOptions{Checksum: checksum.Value{Algorithm: checksum.SHA256, Type: checksum.Composite, Value: comp}}); err != nil {
		t.Errorf("composite value: %v", err)
	}
}

func TestCompleteMultipartErrorKinds(t *testing.T) {
	code := "PreconditionFailed"
	status := 412
	s, _ := recordingS3(t, func(*http.Request, string) (int, map[string]string, string) {
		return status, map[string]string{"Content-Type": "application/xml"}, `<Error><Code>` + code + `</Code><Message>m</Message></Error>`
	})
	for _, c := range []struct {
		code   string
		status int
		want   error
	}{
		{"PreconditionFailed", 412, ErrPrecondition},
		{"ConditionalRequestConflict", 409, ErrPrecondition},
		{"BadDigest", 400, ErrBadDigest},
	} {
		code, status = c.code, c.status
		_, err := s.CompleteMultipart(context.Background(), "k", "u", []multipart.Part{{Number: 1, ETag: "a"}}, CompleteOptions{IfNoneMatch: true})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.code, err, c.want)
		}
	}
}

func TestStatAsksForChecksum(t *testing.T) {
	v := checksum.CRC32.Sum([]byte("x")) + "-4"
	s, rec := recordingS3(t, func(*http.Request, string) (int, map[string]string, string) {
		return 200, map[string]string{"ETag": `"e"`, "Content-Length": "9", "x-amz-checksum-crc32": v, "x-amz-checksum-type": "COMPOSITE", "Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, ""
	})
	info, err := s.Stat(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t).header.Get("x-amz-checksum-mode"); got != "ENABLED" {
		t.Errorf("x-amz-checksum-mode = %q, want ENABLED", got)
	}
	if want := (checksum.Value{Algorithm: checksum.CRC32, Type: checksum.Composite, Value: v}); info.Checksum != want {
		t.Errorf("Checksum = %+v, want %+v", info.Checksum, want)
	}
}
