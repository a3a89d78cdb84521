package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandLine(t *testing.T) {
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "chute ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "chute serve --config FILE") {
		t.Fatalf("help: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "help", "dev"); code != 0 || !strings.Contains(out, "-jwt-secret") {
		t.Fatalf("help dev: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "bogus"); code != 2 || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "serve", "--nope"); code != 2 || !strings.Contains(errs, "nope") {
		t.Fatalf("bad flag: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "token", "--sub", "a"); code != 2 || !strings.Contains(errs, "--secret") {
		t.Fatalf("token without secret: %d %q", code, errs)
	}
	if code, out, _ := runCmd(t, "token", "--secret", "0123456789abcdef0123456789abcdef", "--sub", "a"); code != 0 || strings.Count(out, ".") != 2 {
		t.Fatalf("token: %d %q", code, out)
	}
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chute.yaml")
	cfg := `backends:
  main: { endpoint: "http://127.0.0.1:9000", bucket: uploads, access_key: ak, secret_key: "very-secret-value" }
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCmd(t, "config", "check", "--config", path); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("check: %d %q %q", code, out, errs)
	}
	code, out, _ := runCmd(t, "config", "print", "--config", path)
	if code != 0 || strings.Contains(out, "very-secret-value") || !strings.Contains(out, "REDACTED") {
		t.Fatalf("print must redact the secret: %d %q", code, out)
	}
	if err := os.WriteFile(path, []byte("server: { lissten: x }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "config", "check", "--config", path); code != 1 || !strings.Contains(errs, "server.lissten") {
		t.Fatalf("typo: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "serve", "--config", filepath.Join(dir, "missing.yaml")); code != 1 || errs == "" {
		t.Fatalf("missing file: %d %q", code, errs)
	}
}

// TestConfigPrintWithoutFile: with no config file, print shows the
// defaults (and the environment), secrets redacted, exit 0, and says on
// stderr that it could not serve yet; check still fails.
func TestConfigPrintWithoutFile(t *testing.T) {
	t.Setenv("CHUTE_CONFIG", "")
	t.Setenv("CHUTE_AUTH_MODE", "jwt")
	t.Setenv("CHUTE_AUTH_JWT_SECRET", "a-jwt-secret-that-must-not-print-0123")
	code, out, errs := runCmd(t, "config", "print")
	if code != 0 || !strings.Contains(out, "listen: 127.0.0.1:8080") || !strings.Contains(out, "max_size: 5GiB") || !strings.Contains(out, "mode: jwt") {
		t.Fatalf("config print without a file: %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, "a-jwt-secret-that-must-not-print") || !strings.Contains(out, "REDACTED") {
		t.Fatalf("the secret is not redacted:\n%s", out)
	}
	if !strings.Contains(errs, "backends: at least one backend is required") {
		t.Errorf("print does not say the config cannot serve yet: %q", errs)
	}
	if code, _, errs := runCmd(t, "config", "check"); code != 1 || !strings.Contains(errs, "backend") {
		t.Errorf("config check without a file: %d %q", code, errs)
	}
	t.Setenv("CHUTE_SERVER_LISSTEN", "x")
	if code, _, errs := runCmd(t, "config", "print"); code != 1 || !strings.Contains(errs, "CHUTE_SERVER_LISSTEN") {
		t.Errorf("an unknown variable: %d %q", code, errs)
	}
}
