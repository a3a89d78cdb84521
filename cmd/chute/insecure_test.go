package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoAuthOffLoopback: without authentication, neither serve nor dev
// starts on a non-loopback address unless told it is on purpose. Both
// refuse before opening any listener or store.
func TestNoAuthOffLoopback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chute.yaml")
	cfg := `server: { listen: "0.0.0.0:0" }
sessions: { redis_url: "redis://127.0.0.1:1/0" }
backends:
  main: { endpoint: "http://127.0.0.1:1", bucket: uploads, access_key: ak, secret_key: sk }
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, "serve", "--config", path)
	if code != 1 || !strings.Contains(errs, "loopback") || !strings.Contains(errs, "auth.allow_insecure_none") {
		t.Fatalf("serve on 0.0.0.0 with auth none: %d %q, want a refusal naming auth.allow_insecure_none", code, errs)
	}
	code, _, errs = runCmd(t, "config", "check", "--config", path)
	if code != 1 || !strings.Contains(errs, "loopback") {
		t.Fatalf("config check: %d %q", code, errs)
	}
	code, _, errs = runCmd(t, "dev", "--listen", "0.0.0.0:0", "--data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "--unsafe-no-auth") || !strings.Contains(errs, "--jwt-secret") {
		t.Fatalf("dev on 0.0.0.0 without --jwt-secret: %d %q, want a refusal naming --unsafe-no-auth", code, errs)
	}
}
