package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
)

// The client commands of the chute binary (upload, status, abort) against
// a real Chute.

func TestCLIDev(t *testing.T) { cliFlows(t, startDev(t)) }

func TestCLIServe(t *testing.T) { cliFlows(t, startServe(t)) }

// runCLI runs the chute binary and returns its exit code, stdout and
// stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatal(err)
		return 0, "", ""
	}
}

var keyLine = regexp.MustCompile(`(?m)^\s+key:\s+(\S+)$`)

func cliFlows(t *testing.T, tg *target) {
	tok := tg.token(t, "alice")
	dir := t.TempDir()
	big := randomBytes(t, 20<<20) // multipart: 2 parts
	small := randomBytes(t, 300<<10)
	bigPath, smallPath := filepath.Join(dir, "big.bin"), filepath.Join(dir, "small.png")
	if err := os.WriteFile(bigPath, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(smallPath, small, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("upload", func(t *testing.T) {
		// Checksums are on by default (CRC64NVME).
		code, out, errOut := runCLI(t, nil, "upload", bigPath, smallPath, "--server", tg.base, "--token", tok, "--parallel", "2")
		if code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		keys := keyLine.FindAllStringSubmatch(out, -1)
		if len(keys) != 2 || strings.Count(out, "download: http") != 2 {
			t.Fatalf("stdout: %s", out)
		}
		for i, data := range [][]byte{big, small} {
			if storedSHA(t, tg, keys[i][1]) != sha256.Sum256(data) {
				t.Fatalf("file %d: stored object differs", i)
			}
		}
		if !strings.Contains(errOut, "--resume upl_") {
			t.Fatalf("no session id for resuming on stderr: %s", errOut)
		}
		if !strings.HasSuffix(keys[1][1], ".png") {
			t.Fatalf("key %q lost the extension", keys[1][1])
		}
		// Each file's whole checksum is printed as verified where the
		// store verifies CRC64NVME (its preset); otherwise the output
		// says it was not, and why.
		preset, err := backends.LookupPreset(tg.provider)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{big, small} {
			line := "  checksum: CRC64NVME " + checksum.CRC64NVME.Sum(data) + " (verified)\n"
			if slices.Contains(preset.PartChecksums, checksum.CRC64NVME) != strings.Contains(out, line) {
				t.Errorf("store preset %q: stdout has %q: %v\n%s", tg.provider, line, strings.Contains(out, line), out)
			}
		}
		if !slices.Contains(preset.PartChecksums, checksum.CRC64NVME) && (strings.Count(out, "checksum: not verified: ") != 2 || !strings.Contains(errOut, "was not verified")) {
			t.Errorf("unverified uploads not said so:\nstdout: %s\nstderr: %s", out, errOut)
		}
	})

	t.Run("checksum flag", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "upload", smallPath, "--server", tg.base, "--token", tok, "--checksum", "crc32c")
		if code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		preset, _ := backends.LookupPreset(tg.provider)
		want := "checksum: CRC32C " + checksum.CRC32C.Sum(small) + " (verified)"
		if !slices.Contains(preset.PartChecksums, checksum.CRC32C) {
			want = "checksum: not verified: uploaded without a checksum: Chute refused CRC32C"
		}
		if !strings.Contains(out, want) {
			t.Errorf("--checksum crc32c: stdout %s, want %q", out, want)
		}
		code, out, errOut = runCLI(t, nil, "upload", smallPath, "--server", tg.base, "--token", tok, "--checksum", "none")
		if code != 0 || strings.Contains(out, "checksum:") {
			t.Errorf("--checksum none: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		if code, _, errOut = runCLI(t, nil, "upload", smallPath, "--checksum", "md5"); code != 2 || !strings.Contains(errOut, "md5") {
			t.Errorf("--checksum md5: exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("env and status", func(t *testing.T) {
		env := []string{"CHUTE_SERVER=" + tg.base, "CHUTE_TOKEN=" + tok}
		code, out, errOut := runCLI(t, env, "upload", smallPath)
		if code != 0 || !strings.Contains(out, "download: http") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		id := regexp.MustCompile(`upl_[a-z0-9]+`).FindString(errOut)
		if id == "" {
			t.Fatalf("no session id in %s", errOut)
		}
		code, out, errOut = runCLI(t, env, "status", id, "--json")
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, errOut)
		}
		var st struct {
			ID, State string
			Size      int64
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || st.ID != id || st.State != "completed" || st.Size != int64(len(small)) {
			t.Fatalf("status JSON %s (%v)", out, err)
		}
		code, out, _ = runCLI(t, env, "status", id)
		if code != 0 || !strings.Contains(out, "state:    completed") {
			t.Fatalf("status summary: exit %d: %s", code, out)
		}
	})

	t.Run("abort", func(t *testing.T) {
		c := create(t, tg, tok, "later.bin", "application/octet-stream", 40<<20)
		code, out, errOut := runCLI(t, nil, "abort", c.ID, "--server", tg.base, "--token", tok)
		if code != 0 || strings.TrimSpace(out) != c.ID+" aborted" {
			t.Fatalf("abort: exit %d: %s %s", code, out, errOut)
		}
		if keys := tg.incomplete(t, c.Key); len(keys) != 0 {
			t.Fatalf("multipart upload still in the store: %v", keys)
		}
		code, out, _ = runCLI(t, nil, "status", c.ID, "--server", tg.base, "--token", tok)
		if code != 0 || !strings.Contains(out, "state:    aborted") {
			t.Fatalf("status after abort: exit %d: %s", code, out)
		}
	})

	t.Run("resume", func(t *testing.T) {
		// A session with part 1 already stored, as after an interruption.
		c := create(t, tg, tok, "big.bin", "application/octet-stream", int64(len(big)))
		if st, _ := put(t, "PUT", c.Parts[0].URL, c.Parts[0].Headers, big[:c.PartSize]); st != 200 {
			t.Fatalf("PUT part 1: %d", st)
		}
		code, out, errOut := runCLI(t, nil, "upload", bigPath, "--resume", c.ID, "--server", tg.base, "--token", tok)
		if code != 0 {
			t.Fatalf("resume: exit %d: %s", code, errOut)
		}
		if m := keyLine.FindStringSubmatch(out); m == nil || m[1] != c.Key {
			t.Fatalf("resume printed %s, want key %s", out, c.Key)
		}
		if storedSHA(t, tg, c.Key) != sha256.Sum256(big) {
			t.Fatal("resumed object differs")
		}
	})

	t.Run("failures", func(t *testing.T) {
		code, _, errOut := runCLI(t, nil, "upload", bigPath, "--server", tg.base, "--token", "not-a-token")
		if code == 0 || !strings.Contains(errOut, "unauthorized") {
			t.Fatalf("bad token: exit %d: %s", code, errOut)
		}
		code, _, errOut = runCLI(t, nil, "upload", filepath.Join(dir, "missing.bin"), "--server", tg.base, "--token", tok)
		if code != 1 || !strings.Contains(errOut, "missing.bin") {
			t.Fatalf("missing file: exit %d: %s", code, errOut)
		}
		if code, _, _ = runCLI(t, nil, "upload", "--server", tg.base); code != 2 {
			t.Fatalf("no file: exit %d, want 2", code)
		}
		code, _, errOut = runCLI(t, nil, "status", "upl_nope", "--server", tg.base, "--token", tok)
		if code != 1 || !strings.Contains(errOut, "not_found") {
			t.Fatalf("status of unknown session: exit %d: %s", code, errOut)
		}
		// The token never shows in the output.
		if strings.Contains(errOut, tok) {
			t.Fatal("token in the output")
		}
	})
}
