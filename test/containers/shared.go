package containers

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/testcontainers/testcontainers-go"
)

// A SeaweedFS container takes several seconds to start (master, volume,
// filer and S3 gateway, then a first volume), ten times what versitygw
// takes, and most tests need only a bucket of their own. A test binary that
// calls ShareSeaweedFS gets one SeaweedFS container for all its tests:
// StartSeaweedFS (and StartStore with CHUTE_TEST_STORE=seaweedfs) then
// creates a fresh bucket in it, named after the one asked for plus a random
// suffix, and returns it with the container's credentials. Tests that attach
// the store to a network still get a container of their own.
var shared struct {
	mu      sync.Mutex
	enabled bool
	ctr     testcontainers.Container
	s3      S3 // endpoint and credentials; Bucket unused
	err     error
}

// ShareSeaweedFS turns sharing on for this process (call it from TestMain,
// before m.Run) and returns the function that removes the shared container
// (call it after m.Run).
func ShareSeaweedFS() (stop func()) {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	return func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		shared.enabled = false
		if shared.ctr != nil {
			_ = shared.ctr.Terminate(context.Background())
			shared.ctr = nil
		}
	}
}

// sharedSeaweedFS returns a fresh bucket in the shared container, starting
// the container on first use. ok is false when sharing is off.
func sharedSeaweedFS(t testing.TB, bucket string) (S3, bool) {
	t.Helper()
	shared.mu.Lock()
	if !shared.enabled {
		shared.mu.Unlock()
		return S3{}, false
	}
	if shared.ctr == nil && shared.err == nil {
		shared.ctr, shared.s3, shared.err = startSharedSeaweedFS()
	}
	s, err := shared.s3, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("shared seaweedfs: %v", err)
	}
	s.Bucket = uniqueBucket(bucket)
	prepareSeaweedFSBucket(t, s)
	return s, true
}

// startSharedSeaweedFS starts the container outside any test, so that no
// test's cleanup ends it.
func startSharedSeaweedFS() (testcontainers.Container, S3, error) {
	s := newS3(KindSeaweedFS, "")
	config, err := seaweedFSConfig(s)
	if err != nil {
		return nil, S3{}, err
	}
	ctr, port, err := runDetached(SeaweedFSImage, seaweedFSPort, seaweedFSOptions(config)...)
	if err != nil {
		return nil, S3{}, err
	}
	s.Endpoint = "127.0.0.1:" + port
	return ctr, s, nil
}

// uniqueBucket appends a random suffix to name, within S3's 63 characters.
func uniqueBucket(name string) string {
	suffix := strings.ToLower(rand.Text()[:10])
	if len(name) > 63-len(suffix)-1 {
		name = name[:63-len(suffix)-1]
	}
	return fmt.Sprintf("%s-%s", name, suffix)
}
