package test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"

	"github.com/chute-dev/chute/test/containers"
)

// `chute setup-bucket` (what deploy/compose.yaml runs before Chute starts)
// against the run's store: it creates a missing bucket, adds a CORS rule
// that `chute doctor` accepts, keeps rules already there, and changes
// nothing when run again.
func TestSetupBucket(t *testing.T) {
	containers.RequireDocker(t)
	s3 := containers.StartStore(t, "uploads")
	env := []string{"CHUTE_BACKENDS_MAIN_SECRET_KEY=" + s3.SecretKey}
	client := mustClient(t, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region)
	noLeak := func(t *testing.T, out string) {
		t.Helper()
		if strings.Contains(out, s3.SecretKey) {
			t.Fatalf("setup-bucket printed the secret key:\n%s", out)
		}
	}
	rulesOf := func(t *testing.T, bucket string) []cors.Rule {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cfg, err := client.GetBucketCors(ctx, bucket)
		if err != nil {
			t.Fatalf("GetBucketCors %s: %v", bucket, err)
		}
		if cfg == nil {
			return nil
		}
		return cfg.CORSRules
	}

	t.Run("fresh bucket", func(t *testing.T) {
		cfg := doctorYAML(t, s3, "fresh-bucket")
		code, out, errOut := runCLI(t, env, "setup-bucket", "--config", cfg)
		t.Logf("chute setup-bucket:\n%s%s", out, errOut)
		noLeak(t, out+errOut)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{`✓ bucket: created bucket "fresh-bucket"`, "✓ cors: added a rule", "lifecycle:"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if ok, err := client.BucketExists(ctx, "fresh-bucket"); err != nil || !ok {
			t.Fatalf("bucket not there after setup (exists %v, %v)", ok, err)
		}
		rules := rulesOf(t, "fresh-bucket")
		if len(rules) != 1 || !hasValue(rules[0].ExposeHeader, "ETag") || !hasValue(rules[0].AllowedOrigin, "https://app.example.com") || !hasValue(rules[0].AllowedMethod, "PUT") {
			t.Fatalf("CORS rules after setup: %+v", rules)
		}
		// What doctor checks is what setup set up.
		code, out, errOut = runCLI(t, env, "doctor", "--config", cfg)
		t.Logf("chute doctor:\n%s%s", out, errOut)
		if code != 0 || !strings.Contains(out, "✓ cors: PUT allowed from https://app.example.com, ETag exposed") {
			t.Fatalf("doctor after setup-bucket: exit %d", code)
		}

		// Again: nothing changes.
		code, out, errOut = runCLI(t, env, "setup-bucket", "--config", cfg)
		t.Logf("chute setup-bucket (again):\n%s%s", out, errOut)
		if code != 0 || !strings.Contains(out, `✓ bucket: bucket "fresh-bucket" exists`) || !strings.Contains(out, "✓ cors: the bucket's rules already allow PUT from https://app.example.com") {
			t.Fatalf("second run: exit %d", code)
		}
		if again := rulesOf(t, "fresh-bucket"); len(again) != 1 {
			t.Fatalf("a second run changed the CORS rules: %+v", again)
		}
	})

	t.Run("keeps rules already there", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := client.MakeBucket(ctx, "has-rules", minio.MakeBucketOptions{Region: s3.Region}); err != nil {
			t.Fatal(err)
		}
		other := cors.Rule{AllowedOrigin: []string{"https://other.example.com"}, AllowedMethod: []string{"GET"}}
		if err := client.SetBucketCors(ctx, "has-rules", cors.NewConfig([]cors.Rule{other})); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, env, "setup-bucket", "--config", doctorYAML(t, s3, "has-rules"))
		t.Logf("chute setup-bucket:\n%s%s", out, errOut)
		if code != 0 || !strings.Contains(out, `✓ bucket: bucket "has-rules" exists`) || !strings.Contains(out, "✓ cors: added a rule") {
			t.Fatalf("exit %d", code)
		}
		rules := rulesOf(t, "has-rules")
		if len(rules) != 2 || !hasValue(rules[0].AllowedOrigin, "https://other.example.com") || !hasValue(rules[1].ExposeHeader, "ETag") {
			t.Fatalf("CORS rules: %+v; want the old rule, then Chute's", rules)
		}
	})

	t.Run("store unreachable", func(t *testing.T) {
		// A port nothing listens on: setup-bucket retries for --wait, then fails.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		down := s3
		down.Endpoint = addr
		start := time.Now()
		code, out, errOut := runCLI(t, env, "setup-bucket", "--config", doctorYAML(t, down, "fresh-bucket"), "--wait", "2s")
		took := time.Since(start)
		t.Logf("chute setup-bucket (%v):\n%s%s", took, out, errOut)
		if code != 1 || !strings.Contains(out, "✗ bucket:") {
			t.Fatalf("exit %d; want 1 with a bucket failure", code)
		}
		if took < 2*time.Second {
			t.Fatalf("gave up after %v; --wait 2s asks for retries", took)
		}
	})

	t.Run("lifecycle rule not shorter than sessions", func(t *testing.T) {
		cfg := doctorYAML(t, s3, "fresh-bucket")
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg = filepath.Join(t.TempDir(), "ttl.yaml")
		if err := os.WriteFile(cfg, append(b, []byte("sessions: {ttl: 3d}\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, env, "setup-bucket", "--config", cfg, "--abort-after", "3")
		if code != 2 || !strings.Contains(errOut, "not longer than sessions.ttl") {
			t.Fatalf("exit %d (%s); want 2: a rule aborting uploads Chute still tracks", code, errOut)
		}
	})
}

func hasValue(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
