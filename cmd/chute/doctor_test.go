package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func doctorConfig(t *testing.T, endpoint, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chute.yaml")
	yaml := "backends:\n  main:\n    endpoint: " + endpoint + "\n    bucket: uploads\n    access_key: AKIDDOCTOR\n    secret_key: doctor-secret-0123456789\n    timeout: 2s\n" + extra
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDoctorCommandLine(t *testing.T) {
	t.Setenv("CHUTE_CONFIG", "")
	code, out, _ := runCmd(t, "doctor", "--help")
	if code != 0 || !strings.Contains(out, "Usage: chute doctor --config FILE [--backend NAME]") || !strings.Contains(out, "Exit status: 0") {
		t.Fatalf("doctor --help: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "doctor", "--nope"); code != 2 || !strings.Contains(errs, "nope") {
		t.Fatalf("bad flag: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "doctor", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 2 {
		t.Fatalf("missing config file: %d %q", code, errs)
	}
	bad := doctorConfig(t, "http://127.0.0.1:1", "    provider: s3\n")
	if code, _, errs := runCmd(t, "doctor", "--config", bad); code != 2 || !strings.Contains(errs, "backends.main.provider") {
		t.Fatalf("unknown provider: %d %q", code, errs)
	}
	good := doctorConfig(t, "http://127.0.0.1:1", "")
	if code, _, errs := runCmd(t, "doctor", "--config", good, "--backend", "other"); code != 2 || !strings.Contains(errs, `--backend "other" is not a configured backend`) {
		t.Fatalf("unknown backend: %d %q", code, errs)
	}
}

func TestDoctorFailureExitsOne(t *testing.T) {
	t.Setenv("CHUTE_CONFIG", "")
	// A store that refuses every signature.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>`))
	}))
	defer srv.Close()
	path := doctorConfig(t, srv.URL, "    provider: versitygw\n")
	code, out, errs := runCmd(t, "doctor", "--config", path)
	if code != 1 || !strings.Contains(out, "✗ credentials:") || !strings.Contains(out, "fix: the secret key does not match") || !strings.Contains(errs, "1 check failed") {
		t.Fatalf("doctor on a store refusing the key: %d\n%s\n%s", code, out, errs)
	}
	if strings.Contains(out+errs, "doctor-secret-0123456789") {
		t.Fatal("the secret key was printed")
	}
	if !strings.Contains(out, "backend main (Versity S3 Gateway, bucket uploads at "+srv.URL+")") {
		t.Errorf("heading: %q", out)
	}
}
