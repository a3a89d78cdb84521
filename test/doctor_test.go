package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"

	"github.com/chute-dev/chute/test/containers"
)

// `chute doctor` against the run's store (versitygw or SeaweedFS, see
// containers.StartStore; the provider preset is the store's): a correct
// setup passes, a wrong secret key, a missing bucket and a bucket without
// CORS fail with a fix.

func doctorYAML(t *testing.T, s3 containers.S3, bucket string) string {
	t.Helper()
	yaml := fmt.Sprintf(`server:
  cors_origins: ["https://app.example.com"]
backends:
  main:
    provider: %s
    endpoint: %q
    region: %q
    bucket: %q
    access_key: %q
`, s3.Kind, "http://"+s3.Endpoint, s3.Region, bucket, s3.AccessKey)
	path := filepath.Join(t.TempDir(), "chute.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctor(t *testing.T) {
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "uploads")
	secretEnv := []string{"CHUTE_BACKENDS_MAIN_SECRET_KEY=" + s3.SecretKey}
	noLeak := func(t *testing.T, out string) {
		t.Helper()
		for _, leak := range []string{s3.SecretKey, "X-Amz-Signature", "X-Amz-Credential"} {
			if strings.Contains(out, leak) {
				t.Fatalf("doctor printed a secret or a presigned URL:\n%s", out)
			}
		}
	}

	t.Run("correct setup", func(t *testing.T) {
		code, out, errOut := runCLI(t, secretEnv, "doctor", "--config", doctorYAML(t, s3, s3.Bucket))
		t.Logf("chute doctor:\n%s%s", out, errOut)
		noLeak(t, out+errOut)
		if code != 0 {
			t.Fatalf("exit %d on a correct setup", code)
		}
		for _, want := range []string{"✓ credentials:", "✓ bucket:", "✓ cors: PUT allowed from https://app.example.com, ETag exposed",
			"✓ presigned put:", "✓ signed length:", "✓ multipart:",
			// Both CI stores check all five part checksums and honour
			// If-None-Match on complete, as their presets claim.
			"✓ checksums: part checksums verified by the store: CRC64NVME, CRC32C, CRC32, SHA256, SHA1;",
			"; whole-object (FULL_OBJECT) checks: CRC64NVME, CRC32C, CRC32\n",
			"✓ conditional writes: If-None-Match: * is honoured"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		// versitygw v1.8.0 answers GetBucketLifecycle with NotImplemented,
		// and the test bucket has no rule: a warning either way, never a
		// crash or a failure.
		if !strings.Contains(out, "! lifecycle: the store does not support GetBucketLifecycle") && !strings.Contains(out, "lifecycle: rule") && !strings.Contains(out, "! lifecycle: no lifecycle rule") {
			t.Errorf("no lifecycle line")
		}
		// The test objects are gone again.
		if keys := (&target{store: mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region), bucket: s3.Bucket}).objects(t, "chute-doctor/"); len(keys) != 0 {
			t.Errorf("doctor left objects behind: %v", keys)
		}
	})

	t.Run("wrong secret key", func(t *testing.T) {
		code, out, errOut := runCLI(t, []string{"CHUTE_BACKENDS_MAIN_SECRET_KEY=not-the-secret-key-at-all-0123"}, "doctor", "--config", doctorYAML(t, s3, s3.Bucket))
		t.Logf("chute doctor:\n%s%s", out, errOut)
		noLeak(t, out+errOut)
		if code != 1 || !strings.Contains(out, "✗ credentials:") || !strings.Contains(out, "fix: the secret key does not match the access key: check backends.main.secret_key") {
			t.Fatalf("exit %d; want 1 with a credentials failure and its fix", code)
		}
		if strings.Contains(out, "not-the-secret-key-at-all-0123") {
			t.Fatal("the wrong secret was printed")
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		code, out, errOut := runCLI(t, secretEnv, "doctor", "--config", doctorYAML(t, s3, "no-such-bucket"))
		t.Logf("chute doctor:\n%s%s", out, errOut)
		if code != 1 || !strings.Contains(out, `✗ bucket: "no-such-bucket" does not exist`) || !strings.Contains(out, "create-bucket --bucket no-such-bucket") {
			t.Fatalf("exit %d; want 1 with a bucket failure and its fix", code)
		}
	})

	t.Run("CORS without ETag", func(t *testing.T) {
		client := mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := client.MakeBucket(ctx, "no-etag", minio.MakeBucketOptions{Region: s3.Region}); err != nil {
			t.Fatal(err)
		}
		rules := cors.NewConfig([]cors.Rule{{AllowedOrigin: []string{"*"}, AllowedMethod: []string{"PUT", "GET"}, AllowedHeader: []string{"*"}}})
		if err := client.SetBucketCors(ctx, "no-etag", rules); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, secretEnv, "doctor", "--config", doctorYAML(t, s3, "no-etag"), "--backend", "main")
		t.Logf("chute doctor:\n%s%s", out, errOut)
		if code != 1 || !strings.Contains(out, "✗ cors: the CORS rules do not expose ETag") || !strings.Contains(out, `"ExposeHeaders": ["ETag"]`) {
			t.Fatalf("exit %d; want 1 with a CORS failure and the CORS JSON", code)
		}
	})
}
