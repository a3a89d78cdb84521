package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGCCommandLine(t *testing.T) {
	if code, out, _ := runCmd(t, "help", "gc"); code != 0 || !strings.Contains(out, "Exit codes") || !strings.Contains(out, "-apply") {
		t.Fatalf("help gc: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "gc", "--older-than", "-1h"); code != 2 || !strings.Contains(errs, "--older-than") {
		t.Fatalf("negative --older-than: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "gc", "extra"); code != 2 {
		t.Fatalf("extra argument: %d %q", code, errs)
	}
	// No Redis in the config: gc cannot tell live uploads from orphans.
	path := filepath.Join(t.TempDir(), "c.yaml")
	cfg := "backends:\n  main:\n    endpoint: http://127.0.0.1:1\n    bucket: uploads\n    access_key: k\n    secret_key: s\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "gc", "--config", path); code != 1 || !strings.Contains(errs, "redis_url") {
		t.Fatalf("gc without Redis: %d %q", code, errs)
	}
	t.Setenv("CHUTE_SESSIONS_REDIS_URL", "redis://127.0.0.1:1/0")
	if code, _, errs := runCmd(t, "gc", "--config", path, "--backend", "other"); code != 2 || !strings.Contains(errs, `"other"`) {
		t.Fatalf("gc --backend other: %d %q", code, errs)
	}
}
