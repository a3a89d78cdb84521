package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/backends"
)

func TestWarnPreset(t *testing.T) {
	logged := func(provider string, ttl time.Duration) string {
		var buf bytes.Buffer
		p, err := backends.LookupPreset(provider)
		if err != nil {
			t.Fatal(err)
		}
		warnPreset(slog.New(slog.NewTextHandler(&buf, nil)), "main", p, ttl)
		return buf.String()
	}
	if out := logged("minio", 24*time.Hour); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "purges incomplete multipart uploads") || !strings.Contains(out, "backend=main") {
		t.Errorf("minio with 24h sessions: %q", out)
	}
	if out := logged("minio", 12*time.Hour); out != "" {
		t.Errorf("minio with 12h sessions: %q", out)
	}
	if out := logged("r2", time.Hour); !strings.Contains(out, "takes no POST policy uploads") {
		t.Errorf("r2: %q", out)
	}
	if out := logged("", 48*time.Hour); out != "" {
		t.Errorf("generic: %q", out)
	}
}
