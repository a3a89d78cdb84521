package doctor

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
)

// fakeS3 is a small S3 look-alike over httptest: just the calls doctor
// makes. It checks no signatures; its modes stand for the stores' answers.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	parts   map[string][]byte

	// answers
	denied     string // an error code for every request (e.g. SignatureDoesNotMatch)
	noBucket   bool
	cors       string // "", "none", "notimpl", or an XML body
	lifecycle  string // "", "none", "notimpl", or an XML body
	ignoreLen  bool   // accept a body longer than signed
	noPartETag bool
	// ignoreSums lists algorithms whose part checksums the fake does
	// not check; the others it checks like AWS.
	ignoreSums []checksum.Algorithm
	// ignoreIfNoneMatch: a complete with If-None-Match: * replaces an
	// object (else 412 PreconditionFailed).
	ignoreIfNoneMatch bool
	// storeCORS is the origin the store allows for every bucket, without
	// bucket rules ("" none, "*" any), as versitygw's --cors-allow-origin;
	// storeCORSNoExpose leaves ETag out of Access-Control-Expose-Headers.
	storeCORS         string
	storeCORSNoExpose bool
	sawRequests       []string
}

const goodCORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`
const noETagCORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>`
const appCORS = `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>Content-Type</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`
const noHeaderCORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`
const goodLifecycle = `<LifecycleConfiguration><Rule><ID>abort</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	f.sawRequests = append(f.sawRequests, r.Method+" "+r.URL.Path)
	if f.denied != "" {
		s3Error(w, http.StatusForbidden, f.denied)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && f.storeCORS != "" {
		if f.storeCORS != "*" && f.storeCORS != origin {
			s3Error(w, http.StatusForbidden, "AccessForbidden") // AWS: CORSResponse, origin not allowed
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", f.storeCORS)
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !f.storeCORSNoExpose {
			w.Header().Set("Access-Control-Expose-Headers", "ETag, x-amz-checksum-crc32c")
		}
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != "uploads" || f.noBucket {
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case key == "" && q.Has("cors"):
		f.bucketConfig(w, f.cors, "NoSuchCORSConfiguration")
	case key == "" && q.Has("lifecycle"):
		f.bucketConfig(w, f.lifecycle, "NoSuchLifecycleConfiguration")
	case key == "" && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case key == "" && r.Method == http.MethodGet:
		fmt.Fprint(w, `<ListBucketResult><Name>uploads</Name><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>uploads</Bucket><Key>%s</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`, key)
	case r.Method == http.MethodPut && q.Has("partNumber"):
		for _, a := range checksum.All {
			if v := r.Header.Get(a.Header()); v != "" && v != a.Sum(body) && !slices.Contains(f.ignoreSums, a) {
				s3Error(w, http.StatusBadRequest, "BadDigest")
				return
			}
		}
		f.parts[key] = body
		if !f.noPartETag {
			w.Header().Set("ETag", `"`+md5hex(body)+`"`)
		}
	case r.Method == http.MethodGet && q.Has("uploadId"):
		fmt.Fprintf(w, `<ListPartsResult><Bucket>uploads</Bucket><Key>%s</Key><UploadId>up1</UploadId><IsTruncated>false</IsTruncated>`, key)
		if data, ok := f.parts[key]; ok {
			fmt.Fprintf(w, `<Part><PartNumber>1</PartNumber><ETag>"%s"</ETag><Size>%d</Size></Part>`, md5hex(data), len(data))
		}
		fmt.Fprint(w, `</ListPartsResult>`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		if _, exists := f.objects[key]; exists && r.Header.Get("If-None-Match") == "*" && !f.ignoreIfNoneMatch {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
		f.objects[key] = f.parts[key]
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>uploads</Bucket><Key>%s</Key><ETag>"x-1"</ETag></CompleteMultipartUploadResult>`, key)
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut:
		if strings.HasSuffix(key, "-length.bin") && len(body) != 4 && !f.ignoreLen {
			s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch") // what a store checking the signed length answers
			return
		}
		f.objects[key] = body
		w.Header().Set("ETag", `"`+md5hex(body)+`"`)
	case r.Method == http.MethodHead || r.Method == http.MethodGet:
		data, ok := f.objects[key]
		if !ok {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			s3Error(w, http.StatusNotFound, "NoSuchKey")
			return
		}
		w.Header().Set("ETag", `"`+md5hex(data)+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
	case r.Method == http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}

func (f *fakeS3) bucketConfig(w http.ResponseWriter, v, missing string) {
	switch v {
	case "none":
		s3Error(w, http.StatusNotFound, missing)
	case "notimpl":
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	default:
		fmt.Fprint(w, v)
	}
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

const secret = "fake-secret-key-0123456789"

func runFake(t *testing.T, f *fakeS3, origins ...string) (Report, string) {
	t.Helper()
	if f.objects == nil {
		f.objects, f.parts = map[string][]byte{}, map[string][]byte{}
	}
	if f.cors == "" {
		f.cors = goodCORS
	}
	if f.lifecycle == "" {
		f.lifecycle = goodLifecycle
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	rep := Run(context.Background(), Options{
		Backend: backends.Config{Name: "main", Endpoint: srv.URL, Bucket: "uploads", AccessKey: "AKIDFAKE", SecretKey: secret,
			PathStyle: true, Provider: "versitygw", Timeout: 5 * time.Second},
		CORSOrigins: origins, SessionTTL: time.Hour,
	})
	var out bytes.Buffer
	rep.Write(&out, "backend main")
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), "X-Amz-Signature") || strings.Contains(out.String(), "X-Amz-Credential") {
		t.Fatalf("the report leaks a secret or a presigned URL:\n%s", out.String())
	}
	return rep, out.String()
}

// statusOf returns the status of the named check, failing the test when
// it was not run.
func statusOf(t *testing.T, rep Report, name string) Status {
	t.Helper()
	for _, r := range rep.Results {
		if r.Name == name {
			return r.Status
		}
	}
	t.Fatalf("no %q check in %+v", name, rep.Results)
	return Fail
}

func TestAllGood(t *testing.T) {
	rep, out := runFake(t, &fakeS3{})
	if rep.Failed() {
		t.Fatalf("failed on a good store:\n%s", out)
	}
	for _, name := range []string{"credentials", "bucket", "cors", "lifecycle", "presigned put", "signed length", "multipart", "checksums", "conditional writes"} {
		if s := statusOf(t, rep, name); s != OK {
			t.Errorf("%s: %s, want ✓\n%s", name, s.Mark(), out)
		}
	}
	if !strings.Contains(out, "  ✓ credentials: ") || strings.Contains(out, "fix:") {
		t.Errorf("output:\n%s", out)
	}
}

func TestWrongSecret(t *testing.T) {
	rep, out := runFake(t, &fakeS3{denied: "SignatureDoesNotMatch"})
	if !rep.Failed() || statusOf(t, rep, "credentials") != Fail {
		t.Fatalf("wrong secret not reported:\n%s", out)
	}
	if !strings.Contains(out, "✗ credentials:") || !strings.Contains(out, "backends.main.secret_key") || !strings.Contains(out, "CHUTE_BACKENDS_MAIN_SECRET_KEY") {
		t.Errorf("no helpful fix:\n%s", out)
	}
	if len(rep.Results) != 1 {
		t.Errorf("went on after the credentials failed: %+v", rep.Results)
	}
}

func TestMissingBucket(t *testing.T) {
	rep, out := runFake(t, &fakeS3{noBucket: true})
	if statusOf(t, rep, "credentials") != OK || statusOf(t, rep, "bucket") != Fail {
		t.Fatalf("missing bucket:\n%s", out)
	}
	if !strings.Contains(out, `"uploads" does not exist`) || !strings.Contains(out, "create-bucket --bucket uploads") {
		t.Errorf("no helpful fix:\n%s", out)
	}
}

func TestCORS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cors    string
		origins []string
		want    Status
		say     string
	}{
		{"none", "none", nil, Fail, "no CORS rules"},
		{"not implemented", "notimpl", nil, Warn, "store does not support GetBucketCors"},
		{"no ETag", noETagCORS, nil, Fail, "do not expose ETag"},
		{"no Content-Type header", noHeaderCORS, nil, Fail, "do not allow the Content-Type request header"},
		{"origin not allowed", appCORS, []string{"https://other.example.com"}, Fail, "no CORS rule allows PUT from https://other.example.com"},
		{"origin allowed", appCORS, []string{"https://app.example.com"}, OK, "ETag exposed"},
		{"star needs a star rule", appCORS, []string{"*"}, Fail, "allows PUT from *"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, out := runFake(t, &fakeS3{cors: tc.cors}, tc.origins...)
			if got := statusOf(t, rep, "cors"); got != tc.want || !strings.Contains(out, tc.say) {
				t.Errorf("cors %s, want %s saying %q:\n%s", got.Mark(), tc.want.Mark(), tc.say, out)
			}
			if tc.want != OK && !strings.Contains(out, `"ExposeHeaders": ["ETag"]`) || tc.want != OK && !strings.Contains(out, "aws s3api put-bucket-cors --bucket uploads") {
				t.Errorf("no CORS JSON in the fix:\n%s", out)
			}
			if rep.Failed() != (tc.want == Fail) {
				t.Errorf("Failed() = %v", rep.Failed())
			}
		})
	}
}

// TestCORSStoreWide covers stores that answer CORS without bucket rules
// (the embedded store of chute dev: versitygw's --cors-allow-origin):
// GetBucketCors shows nothing, so doctor asks as a browser would.
func TestCORSStoreWide(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cors      string // bucket rules
		storeCORS string
		noExpose  bool
		origins   []string
		want      Status
		say       string
	}{
		{"no rules, store allows any origin", "none", "*", false, nil, OK, "the bucket has no CORS rules, but the store answers browsers itself"},
		{"no rules, store allows the app", "none", "https://app.example.com", false, []string{"https://app.example.com"}, OK, "a preflight and a PUT from https://app.example.com are allowed, ETag exposed"},
		{"GetBucketCors not implemented, store allows any", "notimpl", "*", false, []string{"https://app.example.com"}, OK, "the store does not support GetBucketCors, but the store answers browsers itself"},
		{"no rules, ETag not exposed", "none", "*", true, nil, Fail, "does not expose ETag"},
		{"no rules, another origin", "none", "https://other.example.com", false, []string{"https://app.example.com"}, Fail, "the preflight (OPTIONS) answered HTTP 403"},
		{"no rules, store allows one origin, config says any", "none", "https://app.example.com", false, nil, Fail, "from any origin (tried https://chute-doctor.invalid)"},
		{"no rules, no store-wide CORS", "none", "", false, nil, Fail, "no CORS rules: browsers can't upload to it; as a browser: "},
		{"not implemented, no store-wide CORS", "notimpl", "", false, nil, Warn, "store does not support GetBucketCors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeS3{cors: tc.cors, storeCORS: tc.storeCORS, storeCORSNoExpose: tc.noExpose}
			rep, out := runFake(t, f, tc.origins...)
			if got := statusOf(t, rep, "cors"); got != tc.want || !strings.Contains(out, tc.say) {
				t.Errorf("cors %s, want %s saying %q:\n%s", got.Mark(), tc.want.Mark(), tc.say, out)
			}
			if tc.want == OK && strings.Contains(out, "fix:") {
				t.Errorf("a fix for a store that works:\n%s", out)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for k := range f.objects {
				if strings.HasSuffix(k, "-cors.txt") {
					t.Errorf("the probe object %s was left behind", k)
				}
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name, lc string
		want     Status
		say      string
	}{
		{"none", "none", Warn, "no lifecycle rule aborts"},
		{"not implemented", "notimpl", Warn, "store does not support GetBucketLifecycle"},
		{"disabled rule", strings.Replace(goodLifecycle, "Enabled", "Disabled", 1), Warn, "no lifecycle rule aborts"},
		{"good", goodLifecycle, OK, `rule "abort" aborts incomplete multipart uploads after 2 days`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, out := runFake(t, &fakeS3{lifecycle: tc.lc})
			if got := statusOf(t, rep, "lifecycle"); got != tc.want || !strings.Contains(out, tc.say) {
				t.Errorf("lifecycle %s, want %s saying %q:\n%s", got.Mark(), tc.want.Mark(), tc.say, out)
			}
			if tc.want == Warn && !strings.Contains(out, "put-bucket-lifecycle-configuration") {
				t.Errorf("no lifecycle fix:\n%s", out)
			}
			if rep.Failed() {
				t.Errorf("a lifecycle warning failed the run:\n%s", out)
			}
		})
	}
}

func TestLengthNotEnforced(t *testing.T) {
	rep, out := runFake(t, &fakeS3{ignoreLen: true})
	if statusOf(t, rep, "signed length") != Fail || !rep.Failed() {
		t.Fatalf("a store ignoring the signed length passed:\n%s", out)
	}
}

func TestNoPartETag(t *testing.T) {
	rep, out := runFake(t, &fakeS3{noPartETag: true})
	if statusOf(t, rep, "multipart") != Fail || !strings.Contains(out, "no ETag header") {
		t.Fatalf("missing part ETag:\n%s", out)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	rep := Run(context.Background(), Options{Backend: backends.Config{Name: "main", Endpoint: addr, Bucket: "uploads",
		AccessKey: "AKIDFAKE", SecretKey: secret, PathStyle: true, Timeout: 2 * time.Second}})
	if len(rep.Results) != 1 || rep.Results[0].Status != Fail || !strings.Contains(rep.Results[0].Detail, "could not reach the store") {
		t.Fatalf("%+v", rep.Results)
	}
}

func TestPresetNotes(t *testing.T) {
	minio, _ := backends.LookupPreset(backends.ProviderMinIO)
	if n := presetNotes(minio, 24*time.Hour); len(n) != 1 || n[0].Status != Warn || !strings.Contains(n[0].Fix, "sessions.ttl") {
		t.Errorf("minio with 24h sessions: %+v", n)
	}
	if n := presetNotes(minio, 12*time.Hour); len(n) != 0 {
		t.Errorf("minio with 12h sessions: %+v", n)
	}
	r2, _ := backends.LookupPreset(backends.ProviderR2)
	if n := presetNotes(r2, time.Hour); len(n) != 1 || !strings.Contains(n[0].Detail, "POST policy") {
		t.Errorf("r2: %+v", n)
	}
}

func TestChecksumProbe(t *testing.T) {
	rep, out := runFake(t, &fakeS3{})
	if statusOf(t, rep, "checksums") != OK || !strings.Contains(out, "✓ checksums: part checksums verified by the store: CRC64NVME, CRC32C, CRC32, SHA256, SHA1\n") {
		t.Errorf("all five verified:\n%s", out)
	}
	// versitygw's preset claims all five: one the store ignores fails.
	rep, out = runFake(t, &fakeS3{ignoreSums: []checksum.Algorithm{checksum.SHA1}})
	if statusOf(t, rep, "checksums") != Fail || !rep.Failed() ||
		!strings.Contains(out, "verified by the store: CRC64NVME, CRC32C, CRC32, SHA256; not verified: SHA1; but provider \"versitygw\" says the store checks SHA1") {
		t.Errorf("a claimed algorithm not verified:\n%s", out)
	}
	// The parts the probes created are aborted, no object is left.
	f := &fakeS3{}
	runFake(t, f)
	f.mu.Lock()
	defer f.mu.Unlock()
	aborts := 0
	for _, r := range f.sawRequests {
		if strings.HasPrefix(r, "DELETE ") {
			aborts++
		}
	}
	if aborts < len(checksum.All) || len(f.objects) != 0 {
		t.Errorf("%d deletes, objects left %v", aborts, f.objects)
	}
}

func TestChecksumProbeUnclaimed(t *testing.T) {
	f := &fakeS3{objects: map[string][]byte{}, parts: map[string][]byte{}, cors: goodCORS, lifecycle: goodLifecycle,
		ignoreSums: checksum.All}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := backends.Config{Name: "main", Endpoint: srv.URL, Bucket: "uploads", AccessKey: "AKIDFAKE", SecretKey: secret, PathStyle: true, Timeout: 5 * time.Second}
	s3, err := backends.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	generic, _ := backends.LookupPreset("")
	r := checkIntegrity(context.Background(), s3, generic)[0]
	if r.Status != Warn || !strings.Contains(r.Detail, "verified by the store: none; not verified: CRC64NVME, CRC32C, CRC32, SHA256, SHA1") || !strings.Contains(r.Fix, "reading the object back") {
		t.Errorf("a store verifying nothing: %+v", r)
	}
	f.ignoreSums = nil
	r = checkIntegrity(context.Background(), s3, generic)[0]
	if r.Status != OK || !strings.Contains(r.Detail, `provider "generic" claims none`) {
		t.Errorf("unclaimed but verified: %+v", r)
	}
}

func TestConditionalWritesProbe(t *testing.T) {
	rep, out := runFake(t, &fakeS3{})
	if statusOf(t, rep, "conditional writes") != OK || !strings.Contains(out, "✓ conditional writes: If-None-Match: * is honoured") {
		t.Errorf("honoured and claimed:\n%s", out)
	}
	rep, out = runFake(t, &fakeS3{ignoreIfNoneMatch: true})
	if statusOf(t, rep, "conditional writes") != Fail || !strings.Contains(out, "replaced an existing object, although provider \"versitygw\"") {
		t.Errorf("claimed but ignored:\n%s", out)
	}

	f := &fakeS3{objects: map[string][]byte{}, parts: map[string][]byte{}, ignoreIfNoneMatch: true}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s3, err := backends.NewS3(backends.Config{Name: "main", Endpoint: srv.URL, Bucket: "uploads", AccessKey: "AKIDFAKE", SecretKey: secret, PathStyle: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	generic, _ := backends.LookupPreset("")
	if r := checkIntegrity(context.Background(), s3, generic)[1]; r.Status != Warn || !strings.Contains(r.Detail, "ignores If-None-Match") || !strings.Contains(r.Fix, "{id}") {
		t.Errorf("unclaimed and ignored: %+v", r)
	}
	f.ignoreIfNoneMatch = false
	if r := checkIntegrity(context.Background(), s3, generic)[1]; r.Status != Warn || !strings.Contains(r.Detail, `does not claim it`) {
		t.Errorf("unclaimed but honoured: %+v", r)
	}
	if len(f.objects) != 0 {
		t.Errorf("objects left: %v", f.objects)
	}
}
