package broker

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoAdapterInTheDomain keeps the domain free of its adapters: the
// broker owns its ports (ports.go, capabilities.go, broker/session) and
// no store client, Redis client or HTTP framework may be linked into it.
func TestNoAdapterInTheDomain(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./session").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/minio/minio-go", "github.com/redis/go-redis", "github.com/gofiber/fiber", "github.com/valyala/fasthttp", "github.com/chute-dev/chute/sessions", "github.com/chute-dev/chute/backends"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("broker depends on %s", pkg)
			}
		}
	}
}
