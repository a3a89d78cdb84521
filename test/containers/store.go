package containers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Store kinds, the values of CHUTE_TEST_STORE and S3.Kind.
const (
	KindVersityGW = "versitygw"
	KindSeaweedFS = "seaweedfs"
)

// StoreEnv names the variable that picks the store for StartStore.
const StoreEnv = "CHUTE_TEST_STORE"

// StoreKind returns the store the run uses: CHUTE_TEST_STORE, lower-cased,
// or KindVersityGW when it is unset or empty. It does not validate the
// value; StartStore fails the test on an unknown one.
func StoreKind() string {
	k := strings.ToLower(strings.TrimSpace(os.Getenv(StoreEnv)))
	if k == "" {
		return KindVersityGW
	}
	return k
}

// StartStore starts the store CHUTE_TEST_STORE picks (see StoreKind) with
// fresh random credentials, creates bucket (at least 3 characters) and gives
// it a permissive CORS rule that exposes ETag to browsers.
func StartStore(t testing.TB, bucket string) S3 {
	t.Helper()
	return StartStoreOn(t, nil, bucket)
}

// StartStoreOn is StartStore that also attaches the container to nw, when nw
// is not nil. On the network the store answers at S3.NetworkEndpoint.
func StartStoreOn(t testing.TB, nw *Network, bucket string) S3 {
	t.Helper()
	switch k := StoreKind(); k {
	case KindVersityGW:
		return StartVersityGWOn(t, nw, bucket)
	case KindSeaweedFS:
		return StartSeaweedFSOn(t, nw, bucket)
	default:
		t.Fatalf("%s=%q: want %s or %s", StoreEnv, k, KindVersityGW, KindSeaweedFS)
		return S3{}
	}
}

// StartSeaweedFS starts a single-node SeaweedFS (master, volume, filer and
// S3 gateway in one container) whose only S3 identity has fresh random
// keys, creates bucket and gives it the same CORS rule as StartVersityGW. It
// returns once the store has taken and deleted a probe object, so the first
// upload of a test does not race the volume server's registration.
func StartSeaweedFS(t testing.TB, bucket string) S3 {
	t.Helper()
	return StartSeaweedFSOn(t, nil, bucket)
}

// StartSeaweedFSOn is StartSeaweedFS that also attaches the container to nw,
// when nw is not nil.
func StartSeaweedFSOn(t testing.TB, nw *Network, bucket string) S3 {
	t.Helper()
	if nw == nil {
		if s, ok := sharedSeaweedFS(t, bucket); ok {
			return s
		}
	}
	s := newS3(KindSeaweedFS, bucket)
	config, err := seaweedFSConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	port := start(t, SeaweedFSImage, seaweedFSPort, nw, seaweedFSOptions(config)...)
	s.Endpoint = "127.0.0.1:" + port
	if nw != nil {
		s.NetworkEndpoint = nw.Alias + ":8333"
	}

	prepareSeaweedFSBucket(t, s)
	return s
}

// prepareSeaweedFSBucket creates s.Bucket with the CORS rule and returns once
// the store has taken and deleted a probe object in it.
func prepareSeaweedFSBucket(t testing.TB, s S3) {
	t.Helper()
	bucket := s.Bucket
	client, err := s.Client()
	if err != nil {
		t.Fatalf("seaweedfs client: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	if err := retry(ctx, func() error {
		err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.Region})
		if minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
			return nil // an earlier try went through
		}
		return err
	}); err != nil {
		t.Fatalf("seaweedfs: create bucket %q: %v", bucket, err)
	}
	setCORS(ctx, t, client, s)
	// A first write needs a volume the master may not have yet.
	const probe = ".chute-probe"
	if err := retry(ctx, func() error {
		_, err := client.PutObject(ctx, bucket, probe, bytes.NewReader([]byte("probe")), 5, minio.PutObjectOptions{})
		return err
	}); err != nil {
		t.Fatalf("seaweedfs: first write to %q: %v", bucket, err)
	}
	if err := client.RemoveObject(ctx, bucket, probe, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("seaweedfs: remove probe object: %v", err)
	}
}

// seaweedFSOptions gives the container its identities file (config) and
// waits for the S3 gateway's health check.
func seaweedFSOptions(config []byte) []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		// The image reads its identities from this file and refuses to start
		// without it (see test/images/seaweedfs/Dockerfile).
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader:            bytes.NewReader(config),
			ContainerFilePath: "/etc/seaweedfs/s3.json",
			FileMode:          0o600,
		}),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForHTTP("/healthz").WithPort(seaweedFSPort)),
	}
}

// seaweedFSConfig renders the -s3.config file: one identity with s's keys and
// every action, so SeaweedFS checks every request's signature against them.
func seaweedFSConfig(s S3) ([]byte, error) {
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	b, err := json.Marshal(map[string][]identity{"identities": {{
		Name:        "chute-test",
		Credentials: []credential{{AccessKey: s.AccessKey, SecretKey: s.SecretKey}},
		Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	if err != nil {
		return nil, fmt.Errorf("seaweedfs config: %w", err)
	}
	return b, nil
}

// retry calls f until it succeeds or ctx ends, and returns the last error.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
