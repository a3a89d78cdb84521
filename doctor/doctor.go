// Package doctor checks that an object store is set up the way Chute needs
// it: the credentials are accepted, the bucket exists, browsers may read
// the ETag header (CORS), abandoned multipart uploads are cleaned up
// (lifecycle), and a presigned upload round trip works, both as one PUT
// and as a multipart upload. It also probes which checksum algorithms
// the store verifies on parts and whether it honours If-None-Match: * on
// CompleteMultipartUpload, and fails where the provider preset claims
// more than the store does.
//
// It owns no state. Run makes real calls to the store: a listing of at
// most one key, GetBucketCors, GetBucketLifecycle, and a few objects of a
// few bytes under the prefix chute-doctor/, which it deletes again. When
// the bucket shows no CORS rules it also sends what a browser would (a
// preflight and a PUT with an Origin header), since some stores answer
// CORS from a store-wide setting that no bucket rule shows. The
// credentials therefore need s3:ListBucket, s3:GetBucketCORS,
// s3:GetLifecycleConfiguration, s3:PutObject, s3:GetObject and
// s3:DeleteObject (and the multipart ones) on the bucket; a check the key
// may not make is reported, not fatal.
//
// Nothing Run returns holds a secret or a presigned URL: store errors go
// through backends.Translate, and HTTP errors are reduced to their status
// or transport message.
package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/multipart"
)

// Status is the outcome of one check.
type Status int

const (
	// OK means the check passed.
	OK Status = iota
	// Warn means Chute works, but something is missing or could not be
	// checked (a store that does not implement the call).
	Warn
	// Fail means uploads will not work as configured.
	Fail
)

// Mark returns ✓, ! or ✗.
func (s Status) Mark() string {
	switch s {
	case OK:
		return "✓"
	case Warn:
		return "!"
	}
	return "✗"
}

// Result is one check's outcome.
type Result struct {
	// Name is short: "credentials", "bucket", "cors", ...
	Name   string
	Status Status
	// Detail says what was found.
	Detail string
	// Fix, for a warning or a failure, says how to put it right (may span
	// lines).
	Fix string
}

// Options is what Run checks against.
type Options struct {
	// Backend is the store's configuration, provider preset applied
	// (region and path style resolved).
	Backend backends.Config
	// CORSOrigins are the browser origins the broker serves
	// (server.cors_origins): the bucket's CORS rules must allow them.
	CORSOrigins []string
	// SessionTTL is sessions.ttl, compared with stores that purge
	// incomplete uploads themselves.
	SessionTTL time.Duration
	// HTTPClient sends the presigned requests; nil means a client with
	// a 30 s timeout.
	HTTPClient *http.Client
}

// Report is the outcome of Run.
type Report struct {
	Results []Result
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Results, func(x Result) bool { return x.Status == Fail })
}

// doctorPrefix starts the key of every object Run writes.
const doctorPrefix = "chute-doctor/"

// Run checks the store of opts. It stops after the first checks when the
// store can't be reached or refuses the credentials, since nothing else
// would tell more.
func Run(ctx context.Context, opts Options) Report {
	var rep Report
	add := func(r Result) { rep.Results = append(rep.Results, r) }

	preset, s3, failed := openBackend(opts.Backend)
	if failed != nil {
		add(*failed)
		return rep
	}
	secrets := []string{opts.Backend.SecretKey, opts.Backend.AccessKey}
	client := s3.Client()
	bucket := opts.Backend.Bucket
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}

	for _, r := range presetNotes(preset, opts.SessionTTL) {
		add(r)
	}

	// Credentials and bucket: one listing of at most one key.
	lctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	var listErr error
	for obj := range client.ListObjects(lctx, bucket, minio.ListObjectsOptions{MaxKeys: 1, Prefix: doctorPrefix}) {
		listErr = obj.Err
		break
	}
	cancel()
	listErr = backends.Translate("list objects", listErr, secrets...)
	switch {
	case listErr == nil:
		add(Result{Name: "credentials", Status: OK, Detail: "the store accepted a signed request"})
		add(Result{Name: "bucket", Status: OK, Detail: fmt.Sprintf("%q exists and can be listed", bucket)})
	case isCode(listErr, "NoSuchBucket"):
		add(Result{Name: "credentials", Status: OK, Detail: "the store accepted a signed request"})
		add(Result{Name: "bucket", Status: Fail, Detail: fmt.Sprintf("%q does not exist", bucket),
			Fix: fmt.Sprintf("create it (aws s3api create-bucket --bucket %s --endpoint-url %s, or in the provider's console), or correct backends.%s.bucket", bucket, opts.Backend.Endpoint, nameOf(opts.Backend))})
		return rep
	case errors.Is(listErr, backends.ErrAccessDenied):
		add(Result{Name: "credentials", Status: Fail, Detail: listErr.Error(), Fix: credentialsFix(listErr, opts.Backend, preset)})
		return rep
	case errors.Is(listErr, backends.ErrUnavailable):
		add(Result{Name: "credentials", Status: Fail, Detail: "could not reach the store: " + listErr.Error(),
			Fix: fmt.Sprintf("check backends.%s.endpoint (%s) and that the store is running and reachable from here", nameOf(opts.Backend), opts.Backend.Endpoint)})
		return rep
	default:
		add(Result{Name: "credentials", Status: Fail, Detail: listErr.Error(),
			Fix: "check endpoint, region and path_style of the backend (a virtual-host request to a path-style store fails like this)"})
		return rep
	}

	add(checkCORS(ctx, client, s3, hc, bucket, opts, preset, secrets))
	add(checkLifecycle(ctx, client, bucket, opts, preset, secrets))
	add(checkPut(ctx, s3, hc))
	add(checkLengthEnforced(ctx, s3, hc))
	add(checkMultipart(ctx, s3, hc))
	for _, r := range checkIntegrity(ctx, s3, preset) {
		add(r)
	}
	return rep
}

// presetNotes are the warnings the preset alone gives.
func presetNotes(p backends.Preset, sessionTTL time.Duration) []Result {
	var out []Result
	if p.PurgesIncompleteAfter > 0 && sessionTTL >= p.PurgesIncompleteAfter {
		out = append(out, Result{Name: "sessions", Status: Warn,
			Detail: fmt.Sprintf("%s purges incomplete multipart uploads after %s, but sessions.ttl is %s: an upload left open that long fails at complete", p.Title, p.PurgesIncompleteAfter, sessionTTL),
			Fix:    fmt.Sprintf("set sessions.ttl below %s (e.g. 12h)", p.PurgesIncompleteAfter)})
	}
	if !p.PostPolicy() {
		out = append(out, Result{Name: "post policy", Status: Warn,
			Detail: p.Title + " takes no POST policy uploads: Uppy's GET /s3/params gets a presigned PUT only when it sends size=, else a 400",
			Fix:    "use multipart uploads in Uppy (shouldUseMultipart: true) or the /v1 API, which presigns PUTs with the size"})
	}
	return out
}

// credentialsFix explains a refused request.
func credentialsFix(err error, b backends.Config, p backends.Preset) string {
	name := nameOf(b)
	switch {
	case isCode(err, "SignatureDoesNotMatch"):
		return fmt.Sprintf("the secret key does not match the access key: check backends.%s.secret_key (or CHUTE_BACKENDS_%s_SECRET_KEY)", name, envName(name))
	case isCode(err, "InvalidAccessKeyId"):
		return fmt.Sprintf("the store does not know this access key: check backends.%s.access_key", name)
	case isCode(err, "AuthorizationHeaderMalformed"):
		return fmt.Sprintf("the region is wrong: set backends.%s.region to the bucket's region (now %q)", name, b.Region)
	case isCode(err, "RequestTimeTooSkewed"):
		return "this machine's clock is off: synchronise it (NTP); signatures are valid for 15 minutes around the signing time"
	}
	return fmt.Sprintf("check backends.%s.access_key and secret_key, and that the key may list, read, write and delete in bucket %s", name, b.Bucket)
}

// isCode reports whether a translated error names the S3 code.
func isCode(err error, code string) bool {
	return err != nil && strings.Contains(err.Error(), code+" (HTTP")
}

func nameOf(b backends.Config) string {
	if b.Name == "" {
		return "NAME"
	}
	return b.Name
}

func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func timeoutOf(b backends.Config) time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return backends.DefaultTimeout
}

// checkCORS checks that a CORS rule lets the broker's origins PUT and
// read ETag. When the bucket has no rules, or they can't be read, it asks
// the store as a browser would (probeCORS): some stores answer CORS from
// a store-wide setting that no bucket rule shows.
func checkCORS(ctx context.Context, client *minio.Client, s3 *backends.S3, hc *http.Client, bucket string, opts Options, p backends.Preset, secrets []string) Result {
	const name = "cors"
	origins := opts.CORSOrigins
	if len(origins) == 0 {
		origins = []string{"*"}
	}
	rctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	defer cancel()
	cfg, err := client.GetBucketCors(rctx, bucket)
	err = backends.Translate("get bucket cors", err, secrets...)
	fix := corsFix(bucket, opts, p)
	probed := func(without string) (Result, bool) {
		pctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
		defer cancel()
		why, ok := probeCORS(pctx, s3, hc, origins)
		if ok {
			return Result{Name: name, Status: OK, Detail: fmt.Sprintf("%s, but the store answers browsers itself (a store-wide CORS setting): a preflight and a PUT from %s are allowed, ETag exposed", without, strings.Join(origins, ", "))}, true
		}
		return Result{Detail: "; as a browser: " + why}, false
	}
	switch {
	case backends.IsNotSupported(err):
		r, ok := probed("the store does not support GetBucketCors")
		if ok {
			return r
		}
		return Result{Name: name, Status: Warn, Detail: "the store does not support GetBucketCors; configure CORS where the store is set up (its console, config file or start flags) and make it expose ETag" + r.Detail, Fix: fix}
	case errors.Is(err, backends.ErrNotFound):
		cfg, err = nil, nil
	case err != nil:
		r, ok := probed("the CORS rules could not be read")
		if ok {
			return r
		}
		return Result{Name: name, Status: Warn, Detail: "could not read the CORS rules: " + err.Error() + r.Detail, Fix: fix}
	}
	if cfg == nil || len(cfg.CORSRules) == 0 {
		r, ok := probed("the bucket has no CORS rules")
		if ok {
			return r
		}
		return Result{Name: name, Status: Fail, Detail: "the bucket has no CORS rules: browsers can't upload to it" + r.Detail, Fix: fix}
	}
	var missing []string
	etag, contentType := false, false
	for _, o := range origins {
		ok := false
		for _, r := range cfg.CORSRules {
			if allowsOrigin(r, o) && hasFold(r.AllowedMethod, "PUT") {
				ok = true
				if hasFold(r.ExposeHeader, "ETag") || hasFold(r.ExposeHeader, "*") {
					etag = true
				}
				if hasFold(r.AllowedHeader, "*") || hasFold(r.AllowedHeader, "Content-Type") {
					contentType = true
				}
			}
		}
		if !ok {
			missing = append(missing, o)
		}
	}
	switch {
	case len(missing) > 0:
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("no CORS rule allows PUT from %s (server.cors_origins)", strings.Join(missing, ", ")), Fix: fix}
	case !etag:
		return Result{Name: name, Status: Fail, Detail: "the CORS rules do not expose ETag: browsers can't read part ETags, so multipart uploads can't complete", Fix: fix}
	case !contentType:
		return Result{Name: name, Status: Fail, Detail: "the CORS rules do not allow the Content-Type request header: browsers' preflight for a presigned PUT fails", Fix: fix}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("PUT allowed from %s, ETag exposed", strings.Join(origins, ", "))}
}

// allowsOrigin reports whether rule r allows origin o ("*" needs a "*"
// rule; a rule origin may hold one "*" wildcard).
func allowsOrigin(r cors.Rule, o string) bool {
	for _, a := range r.AllowedOrigin {
		if a == "*" || strings.EqualFold(a, o) {
			return true
		}
		if o != "*" {
			if before, after, ok := strings.Cut(a, "*"); ok && strings.HasPrefix(o, before) && strings.HasSuffix(o, after) && len(o) >= len(before)+len(after) {
				return true
			}
		}
	}
	return false
}

func hasFold(list []string, v string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), v) })
}

// corsFix is the CORS configuration to set, as AWS CLI JSON.
func corsFix(bucket string, opts Options, p backends.Preset) string {
	origins := opts.CORSOrigins
	if len(origins) == 0 {
		origins = []string{"*"}
	}
	quoted := make([]string, len(origins))
	for i, o := range origins {
		quoted[i] = strconv.Quote(o)
	}
	methods := `"GET", "PUT", "HEAD"`
	if p.PostPolicy() {
		methods = `"GET", "PUT", "POST", "HEAD"`
	}
	headers := `"*"`
	if p.Name == backends.ProviderR2 {
		// R2 is reported to refuse "*" as an allowed header: name them.
		headers = `"content-type", "x-amz-checksum-sha256"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "save as cors.json:\n")
	fmt.Fprintf(&b, "  {\"CORSRules\": [{\"AllowedOrigins\": [%s], \"AllowedMethods\": [%s],\n", strings.Join(quoted, ", "), methods)
	fmt.Fprintf(&b, "    \"AllowedHeaders\": [%s], \"ExposeHeaders\": [\"ETag\"], \"MaxAgeSeconds\": 3000}]}\n", headers)
	fmt.Fprintf(&b, "then: aws s3api put-bucket-cors --bucket %s --cors-configuration file://cors.json --endpoint-url %s", bucket, opts.Backend.Endpoint)
	switch p.Name {
	case backends.ProviderGCS:
		b.WriteString("\n(GCS: gcloud storage buckets update gs://" + bucket + " --cors-file=FILE, in GCS's own JSON format)")
	case backends.ProviderR2:
		b.WriteString("\n(R2: or the bucket's Settings > CORS policy in the Cloudflare dashboard)")
	case backends.ProviderVersityGW:
		b.WriteString("\n(versitygw: or start it with --cors-allow-origin and expose ETag)")
	}
	return b.String()
}

// checkLifecycle checks for an enabled rule aborting incomplete multipart
// uploads. Without one, abandoned parts stay (and are billed) until
// Chute's janitor or someone aborts them: a warning, not a failure.
func checkLifecycle(ctx context.Context, client *minio.Client, bucket string, opts Options, p backends.Preset, secrets []string) Result {
	const name = "lifecycle"
	fix := fmt.Sprintf("save as lifecycle.json:\n  {\"Rules\": [{\"ID\": \"chute-abort-incomplete\", \"Status\": \"Enabled\", \"Filter\": {\"Prefix\": \"\"},\n    \"AbortIncompleteMultipartUpload\": {\"DaysAfterInitiation\": 2}}]}\nthen: aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration file://lifecycle.json --endpoint-url %s",
		bucket, opts.Backend.Endpoint)
	if p.Name == backends.ProviderMinIO {
		return Result{Name: name, Status: OK, Detail: "MinIO purges incomplete multipart uploads itself (api stale_uploads_expiry, 24h by default)"}
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	defer cancel()
	cfg, err := client.GetBucketLifecycle(ctx, bucket)
	err = backends.Translate("get bucket lifecycle", err, secrets...)
	switch {
	case backends.IsNotSupported(err):
		return Result{Name: name, Status: Warn, Detail: "the store does not support GetBucketLifecycle; remove abandoned multipart uploads where the store is set up, or rely on Chute's janitor", Fix: fix}
	case errors.Is(err, backends.ErrNotFound):
		cfg = nil
	case err != nil:
		return Result{Name: name, Status: Warn, Detail: "could not read the lifecycle rules: " + err.Error(), Fix: fix}
	}
	if cfg != nil {
		for _, r := range cfg.Rules {
			if strings.EqualFold(r.Status, "Enabled") && r.AbortIncompleteMultipartUpload.DaysAfterInitiation > 0 {
				return Result{Name: name, Status: OK, Detail: fmt.Sprintf("rule %q aborts incomplete multipart uploads after %d days", r.ID, r.AbortIncompleteMultipartUpload.DaysAfterInitiation)}
			}
		}
	}
	detail := "no lifecycle rule aborts incomplete multipart uploads: abandoned parts stay in the bucket"
	if p.Name == backends.ProviderR2 {
		detail += " (R2 aborts them after 7 days by default)"
	}
	return Result{Name: name, Status: Warn, Detail: detail, Fix: fix}
}

// testKey returns a fresh key under doctorPrefix.
func testKey(suffix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return doctorPrefix + hex.EncodeToString(b[:]) + suffix
}

// send sends a presigned request with body and returns the response's
// status, ETag header and body (at most 1 MiB). Errors carry no URL.
func send(ctx context.Context, hc *http.Client, r backends.PresignedRequest, body []byte) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, errors.New("could not build the request")
	}
	if body == nil {
		req.Body = nil
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, "Content-Length") {
			continue // set from the body; a mismatch is what the store must refuse
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return 0, "", nil, fmt.Errorf("request failed: %v", uerr.Err)
		}
		return 0, "", nil, errors.New("request failed")
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("ETag"), data, nil
}

// checkPut is the single presigned upload: PUT with signed Content-Length
// and Content-Type, HEAD through the adapter, GET through a presigned
// URL, delete.
func checkPut(ctx context.Context, s3 *backends.S3, hc *http.Client) Result {
	const name = "presigned put"
	data := []byte("chute doctor " + time.Now().UTC().Format(time.RFC3339Nano) + "\n")
	key := testKey(".txt")
	defer func() { _ = s3.Remove(context.WithoutCancel(ctx), key) }()
	put, err := s3.PresignPut(ctx, key, int64(len(data)), backends.ObjectOptions{ContentType: "text/plain"}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error(), Fix: "check the backend's configuration"}
	}
	status, _, body, err := send(ctx, hc, put, data)
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: "PUT: " + err.Error(), Fix: "the presigned URL's host (public_endpoint, or endpoint) must be reachable from clients and from here"}
	}
	if status/100 != 2 {
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("PUT answered HTTP %d%s", status, s3Code(body)), Fix: "the store refused Chute's presigned PUT: check region and path_style (they are part of the signature) and that the key may write"}
	}
	info, err := s3.Stat(ctx, key)
	if err != nil || info.Size != int64(len(data)) {
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("HEAD after PUT: size %d, %v", info.Size, err), Fix: "the store did not keep the object as uploaded"}
	}
	get, err := s3.PresignGet(ctx, key, backends.GetOptions{}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error()}
	}
	status, _, body, err = send(ctx, hc, get, nil)
	switch {
	case err != nil:
		return Result{Name: name, Status: Fail, Detail: "GET: " + err.Error()}
	case status != http.StatusOK || !bytes.Equal(body, data):
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("GET answered HTTP %d with %d bytes, want 200 with the %d bytes put", status, len(body), len(data))}
	}
	if err := s3.Remove(ctx, key); err != nil {
		return Result{Name: name, Status: Warn, Detail: "upload and download work, but delete failed: " + err.Error(), Fix: "let the key delete objects (s3:DeleteObject): Chute removes objects that fail its checks"}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("PUT %d bytes, HEAD, GET and delete work", len(data))}
}

// checkLengthEnforced sends one byte more than the signed Content-Length:
// the store must refuse it, or max_size means nothing.
func checkLengthEnforced(ctx context.Context, s3 *backends.S3, hc *http.Client) Result {
	const name = "signed length"
	key := testKey("-length.bin")
	defer func() { _ = s3.Remove(context.WithoutCancel(ctx), key) }()
	put, err := s3.PresignPut(ctx, key, 4, backends.ObjectOptions{}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error()}
	}
	status, _, _, err := send(ctx, hc, put, []byte("12345"))
	switch {
	case err != nil:
		return Result{Name: name, Status: Warn, Detail: "could not test: " + err.Error()}
	case status/100 == 2:
		return Result{Name: name, Status: Fail, Detail: "the store accepted a body longer than the signed Content-Length: upload size limits are not enforced",
			Fix: "use a store that checks signed headers (see docs/compatibility.md)"}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("a body of the wrong length is refused (HTTP %d)", status)}
}

// checkMultipart creates a multipart upload, PUTs one small part through
// a presigned URL, completes it with the part's ETag, and deletes the
// object.
func checkMultipart(ctx context.Context, s3 *backends.S3, hc *http.Client) Result {
	const name = "multipart"
	key := testKey(".bin")
	data := []byte("chute doctor multipart part\n")
	id, err := s3.CreateMultipart(ctx, key, backends.ObjectOptions{})
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error(), Fix: "let the key create multipart uploads (s3:PutObject covers it on AWS)"}
	}
	done := false
	defer func() {
		if !done {
			_ = s3.AbortMultipart(context.WithoutCancel(ctx), key, id)
		}
		_ = s3.Remove(context.WithoutCancel(ctx), key)
	}()
	part, err := s3.PresignPart(ctx, key, id, 1, backends.PartOptions{Size: int64(len(data))}, 5*time.Minute)
	if err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error()}
	}
	status, etag, body, err := send(ctx, hc, part, data)
	switch {
	case err != nil:
		return Result{Name: name, Status: Fail, Detail: "part PUT: " + err.Error()}
	case status/100 != 2:
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("part PUT answered HTTP %d%s", status, s3Code(body))}
	case etag == "":
		return Result{Name: name, Status: Fail, Detail: "the part PUT answered no ETag header", Fix: "the store (or a proxy in front of it) must return ETag on part uploads"}
	}
	if _, err := s3.CompleteMultipart(ctx, key, id, []multipart.Part{{Number: 1, ETag: multipart.NormalizeETag(etag), Size: int64(len(data))}}, backends.CompleteOptions{}); err != nil {
		return Result{Name: name, Status: Fail, Detail: err.Error()}
	}
	done = true
	info, err := s3.Stat(ctx, key)
	if err != nil || info.Size != int64(len(data)) {
		return Result{Name: name, Status: Fail, Detail: fmt.Sprintf("HEAD after complete: size %d, %v", info.Size, err)}
	}
	return Result{Name: name, Status: OK, Detail: "create, presigned part PUT, complete and delete work"}
}

// s3Code extracts " (Code)" from an S3 XML error body, or "".
func s3Code(body []byte) string {
	_, rest, ok := bytes.Cut(body, []byte("<Code>"))
	if !ok {
		return ""
	}
	code, _, ok := bytes.Cut(rest, []byte("</Code>"))
	if !ok || len(code) > 64 {
		return ""
	}
	return " (" + string(code) + ")"
}

// Write prints the report under a heading line: one line per check with
// its mark, and the fix of every warning and failure indented below it.
func (r Report) Write(w io.Writer, heading string) {
	fmt.Fprintln(w, heading)
	for _, x := range r.Results {
		fmt.Fprintf(w, "  %s %s: %s\n", x.Status.Mark(), x.Name, x.Detail)
		if x.Status != OK && x.Fix != "" {
			for i, line := range strings.Split(x.Fix, "\n") {
				prefix := "         "
				if i == 0 {
					prefix = "    fix: "
				}
				fmt.Fprintf(w, "%s%s\n", prefix, line)
			}
		}
	}
}

// openBackend looks up b's provider preset and builds its store client;
// failed is the result to report when either is refused.
func openBackend(b backends.Config) (backends.Preset, *backends.S3, *Result) {
	preset, err := backends.LookupPreset(b.Provider)
	if err != nil {
		return preset, nil, &Result{Name: "provider", Status: Fail, Detail: err.Error(), Fix: "set provider to one of " + strings.Join(backends.Providers(), ", ")}
	}
	s3, err := backends.NewS3(b)
	if err != nil {
		return preset, nil, &Result{Name: "config", Status: Fail, Detail: err.Error(), Fix: "correct the backend's configuration (chute config check)"}
	}
	return preset, s3, nil
}
