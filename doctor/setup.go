package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/chute-dev/chute/backends"
)

// SetupOptions is what Setup prepares.
type SetupOptions struct {
	// Backend is the store's configuration, as for Run.
	Backend backends.Config
	// CORSOrigins are the browser origins the broker serves
	// (server.cors_origins); empty means "*".
	CORSOrigins []string
	// AbortAfterDays is the age, in days, after which the lifecycle rule
	// Setup adds aborts an incomplete multipart upload. 0 means 7.
	AbortAfterDays int
	// Wait is how long Setup retries while the store can't be reached
	// (a store container still starting). 0 tries once.
	Wait time.Duration
}

// setupRuleID names the lifecycle rule Setup adds.
const setupRuleID = "chute-abort-incomplete-uploads"

// Setup prepares the bucket of opts for Chute: it creates the bucket when
// it is missing, adds a CORS rule when the bucket's rules don't already
// let browsers from opts.CORSOrigins PUT with the ETag exposed, and adds a
// lifecycle rule aborting incomplete multipart uploads when there is none.
// Rules already in place are kept: Setup only appends. It is idempotent.
//
// A store that does not implement CORS or lifecycle configuration gives a
// warning (configure it where the store is set up); anything else that
// goes wrong is a failure. Like Run, nothing it returns holds a secret.
// The credentials need s3:CreateBucket (only when the bucket is missing),
// s3:GetBucketCORS, s3:PutBucketCORS, s3:GetLifecycleConfiguration and
// s3:PutLifecycleConfiguration.
func Setup(ctx context.Context, opts SetupOptions) Report {
	var rep Report
	add := func(r Result) { rep.Results = append(rep.Results, r) }

	preset, s3, failed := openBackend(opts.Backend)
	if failed != nil {
		add(*failed)
		return rep
	}
	client := s3.Client()
	secrets := []string{opts.Backend.SecretKey, opts.Backend.AccessKey}
	origins := opts.CORSOrigins
	if len(origins) == 0 {
		origins = []string{"*"}
	}
	days := opts.AbortAfterDays
	if days <= 0 {
		days = 7
	}

	r := setupBucket(ctx, client, opts, secrets)
	add(r)
	if r.Status == Fail {
		return rep
	}
	add(setupCORS(ctx, client, opts, preset, origins, secrets))
	add(setupLifecycle(ctx, client, opts, preset, days, secrets))
	return rep
}

// setupBucket creates the bucket unless it exists, retrying for opts.Wait
// while the store is unreachable.
func setupBucket(ctx context.Context, client *minio.Client, opts SetupOptions, secrets []string) Result {
	const name = "bucket"
	bucket := opts.Backend.Bucket
	deadline := time.Now().Add(opts.Wait)
	var exists bool
	for {
		cctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
		ok, err := client.BucketExists(cctx, bucket)
		cancel()
		err = backends.Translate("head bucket", err, secrets...)
		if err == nil {
			exists = ok
			break
		}
		if !errors.Is(err, backends.ErrUnavailable) || time.Now().After(deadline) || ctx.Err() != nil {
			return Result{Name: name, Status: Fail, Detail: err.Error(), Fix: fmt.Sprintf("check backends.%s.endpoint (%s), the credentials, and that the store is running and reachable from here", nameOf(opts.Backend), opts.Backend.Endpoint)}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	if exists {
		return Result{Name: name, Status: OK, Detail: fmt.Sprintf("bucket %q exists", bucket)}
	}
	cctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	defer cancel()
	err := client.MakeBucket(cctx, bucket, minio.MakeBucketOptions{Region: opts.Backend.Region})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou":
		return Result{Name: name, Status: OK, Detail: fmt.Sprintf("bucket %q exists", bucket)}
	}
	if err = backends.Translate("create bucket", err, secrets...); err != nil {
		return Result{Name: name, Status: Fail, Detail: "could not create the bucket: " + err.Error(), Fix: "create it in the provider's console, or give the credentials s3:CreateBucket"}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("created bucket %q in region %s", bucket, opts.Backend.Region)}
}

// setupCORS appends a rule for origins unless the bucket's rules already
// serve them (PUT allowed, Content-Type allowed, ETag exposed).
func setupCORS(ctx context.Context, client *minio.Client, opts SetupOptions, p backends.Preset, origins []string, secrets []string) Result {
	const name = "cors"
	bucket := opts.Backend.Bucket
	fix := corsFix(bucket, Options{Backend: opts.Backend, CORSOrigins: origins}, p)
	cctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	defer cancel()
	cfg, err := client.GetBucketCors(cctx, bucket)
	err = backends.Translate("get bucket cors", err, secrets...)
	switch {
	case backends.IsNotSupported(err):
		return Result{Name: name, Status: Warn, Detail: "the store does not support bucket CORS rules; configure CORS where the store is set up and expose ETag", Fix: fix}
	case errors.Is(err, backends.ErrNotFound):
		cfg = nil
	case err != nil:
		return Result{Name: name, Status: Fail, Detail: "could not read the CORS rules: " + err.Error(), Fix: fix}
	}
	var rules []cors.Rule
	if cfg != nil {
		rules = cfg.CORSRules
	}
	if corsServes(rules, origins) {
		return Result{Name: name, Status: OK, Detail: fmt.Sprintf("the bucket's rules already allow PUT from %s and expose ETag", strings.Join(origins, ", "))}
	}
	methods := []string{"GET", "PUT", "HEAD"}
	if p.PostPolicy() {
		methods = append(methods, "POST")
	}
	headers := []string{"*"}
	if p.Name == backends.ProviderR2 {
		headers = []string{"content-type", "x-amz-checksum-sha256"}
	}
	rules = append(rules, cors.Rule{
		ID:            "chute",
		AllowedOrigin: origins,
		AllowedMethod: methods,
		AllowedHeader: headers,
		ExposeHeader:  []string{"ETag"},
		MaxAgeSeconds: 3000,
	})
	if err := client.SetBucketCors(cctx, bucket, cors.NewConfig(rules)); err != nil {
		err = backends.Translate("put bucket cors", err, secrets...)
		if backends.IsNotSupported(err) {
			return Result{Name: name, Status: Warn, Detail: "the store does not support bucket CORS rules; configure CORS where the store is set up and expose ETag", Fix: fix}
		}
		return Result{Name: name, Status: Fail, Detail: "could not set the CORS rules: " + err.Error(), Fix: fix}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("added a rule: %s from %s, ETag exposed", strings.Join(methods, ", "), strings.Join(origins, ", "))}
}

// corsServes reports whether rules let a browser from each origin PUT
// with a Content-Type header and read the ETag.
func corsServes(rules []cors.Rule, origins []string) bool {
	for _, o := range origins {
		ok := false
		for _, r := range rules {
			if allowsOrigin(r, o) && hasFold(r.AllowedMethod, "PUT") &&
				(hasFold(r.ExposeHeader, "ETag") || hasFold(r.ExposeHeader, "*")) &&
				(hasFold(r.AllowedHeader, "*") || hasFold(r.AllowedHeader, "Content-Type")) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// setupLifecycle appends a rule aborting incomplete multipart uploads
// after days unless an enabled rule already does.
func setupLifecycle(ctx context.Context, client *minio.Client, opts SetupOptions, p backends.Preset, days int, secrets []string) Result {
	const name = "lifecycle"
	if p.Name == backends.ProviderMinIO {
		return Result{Name: name, Status: OK, Detail: "MinIO purges incomplete multipart uploads itself (api stale_uploads_expiry, 24h by default)"}
	}
	bucket := opts.Backend.Bucket
	unsupported := Result{Name: name, Status: Warn,
		Detail: "the store does not support lifecycle rules; Chute's janitor aborts the uploads of expired sessions, and `chute gc --apply` those no session knows"}
	cctx, cancel := context.WithTimeout(ctx, timeoutOf(opts.Backend))
	defer cancel()
	cfg, err := client.GetBucketLifecycle(cctx, bucket)
	err = backends.Translate("get bucket lifecycle", err, secrets...)
	switch {
	case backends.IsNotSupported(err):
		return unsupported
	case errors.Is(err, backends.ErrNotFound):
		cfg = nil
	case err != nil:
		return Result{Name: name, Status: Fail, Detail: "could not read the lifecycle rules: " + err.Error()}
	}
	if cfg == nil {
		cfg = lifecycle.NewConfiguration()
	}
	for _, r := range cfg.Rules {
		if strings.EqualFold(r.Status, "Enabled") && r.AbortIncompleteMultipartUpload.DaysAfterInitiation > 0 {
			return Result{Name: name, Status: OK, Detail: fmt.Sprintf("rule %q already aborts incomplete multipart uploads after %d days", r.ID, r.AbortIncompleteMultipartUpload.DaysAfterInitiation)}
		}
	}
	cfg.Rules = append(cfg.Rules, lifecycle.Rule{
		ID:                             setupRuleID,
		Status:                         "Enabled",
		RuleFilter:                     lifecycle.Filter{Prefix: ""},
		AbortIncompleteMultipartUpload: lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: lifecycle.ExpirationDays(days)},
	})
	if err := client.SetBucketLifecycle(cctx, bucket, cfg); err != nil {
		err = backends.Translate("put bucket lifecycle", err, secrets...)
		if backends.IsNotSupported(err) {
			return unsupported
		}
		return Result{Name: name, Status: Fail, Detail: "could not set the lifecycle rules: " + err.Error()}
	}
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf("added rule %q: incomplete multipart uploads are aborted after %d days", setupRuleID, days)}
}
