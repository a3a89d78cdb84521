package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// gc builds its Redis client as chute serve does: Cluster and Sentinel
// configs are accepted (and then tried: nothing listens here, so the run
// fails reading the sessions, within seconds). test/gc_test.go and
// test/sentinel_test.go run gc against a real cluster and real sentinels.
func TestGCRedisModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	cfg := "backends:\n  main:\n    endpoint: http://127.0.0.1:1\n    bucket: uploads\n    access_key: k\n    secret_key: s\n    timeout: 2s\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][2]string{
		{"CHUTE_SESSIONS_REDIS_URL", "redis://127.0.0.1:1/0"},
		{"CHUTE_SESSIONS_REDIS_CLUSTER_ADDRS", "127.0.0.1:1,127.0.0.1:2"},
		{"CHUTE_SESSIONS_REDIS_SENTINEL_ADDRS", "127.0.0.1:1,127.0.0.1:2"},
	} {
		t.Run(env[0], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			t.Setenv("CHUTE_SESSIONS_REDIS_SENTINEL_MASTER", "mymaster")
			start := time.Now()
			code, _, errs := runCmd(t, "gc", "--config", path)
			if code != 1 || !strings.Contains(errs, "read sessions") || strings.Contains(errs, "redis_url is empty") {
				t.Fatalf("gc: %d %q", code, errs)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("gc took %v to fail", d)
			}
		})
	}
}
