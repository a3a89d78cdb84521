package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chute-dev/chute/embedded"
)

// TestDoctorAgainstDevStore runs chute doctor against the store chute dev
// embeds. That store answers CORS from a store-wide setting and has no
// bucket rules, so doctor must find CORS by asking as a browser would
// rather than report the missing rules as a failure.
func TestDoctorAgainstDevStore(t *testing.T) {
	t.Setenv("CHUTE_CONFIG", "")
	emb, err := embedded.Start(t.Context(), embedded.Options{DataDir: t.TempDir(), S3Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	for _, origins := range []string{"", `  cors_origins: ["https://app.example.com", "http://localhost:5173"]` + "\n"} {
		yaml := fmt.Sprintf("server:\n  listen: 127.0.0.1:8080\n%sbackends:\n  main:\n    provider: versitygw\n    endpoint: %s\n    region: %s\n    bucket: %s\n    access_key: %s\n    secret_key: %s\n    path_style: true\n",
			origins, emb.S3Endpoint, emb.Region, emb.Bucket, emb.AccessKey, emb.SecretKey)
		path := filepath.Join(t.TempDir(), "chute.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCmd(t, "doctor", "--config", path)
		if code != 0 || !strings.Contains(out, "✓ cors: the bucket has no CORS rules, but the store answers browsers itself") {
			t.Errorf("doctor against the dev store (%q): exit %d\n%s\n%s", origins, code, out, errs)
		}
		if strings.Contains(out+errs, emb.SecretKey) {
			t.Error("the secret key was printed")
		}
	}
}
