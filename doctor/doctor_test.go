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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/backends"
)

// fakeS3 is a small S3 look-alike over httptest: just the calls doctor
// makes. It checks no signatures; its modes stand for the stores' answers.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	parts   map[string][]byte

	// answers
	denied      string // an error code for every request (e.g. SignatureDoesNotMatch)
	noBucket    bool
	cors        string // "", "none", "notimpl", or an XML body
	lifecycle   string // "", "none", "notimpl", or an XML body
	ignoreLen   bool   // accept a body longer than signed
	noPartETag  bool
	sawRequests []string
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
	case key == "" && r.Method == http.MethodGet:
		fmt.Fprint(w, `<ListBucketResult><Name>uploads</Name><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>uploads</Bucket><Key>%s</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`, key)
	case r.Method == http.MethodPut && q.Has("partNumber"):
		f.parts[key] = body
		if !f.noPartETag {
			w.Header().Set("ETag", `"`+md5hex(body)+`"`)
		}
	case r.Method == http.MethodPost && q.Has("uploadId"):
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
	for _, name := range []string{"credentials", "bucket", "cors", "lifecycle", "presigned put", "signed length", "multipart"} {
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
