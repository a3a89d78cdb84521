// Package containers starts the real services that Chute's integration tests
// run against — Redis and an S3-compatible store (versitygw or SeaweedFS) —
// as Docker containers through testcontainers-go, and removes them when the
// test ends.
//
// Tests start "the store" with StartStore / StartStoreOn: CHUTE_TEST_STORE
// (versitygw, the default, or seaweedfs) picks the implementation for the
// whole run, so the same tests run against both (scripts/test.sh runs the
// suite once per store). StartVersityGW / StartSeaweedFS start one store
// specifically.
//
// The images are built locally FROM scratch by ./scripts/build-images.sh
// (this machine reaches no container registry); nothing is ever pulled. A
// missing image is an error that says so.
//
// Call RequireDocker first in every test that uses this package: it sets the
// testcontainers defaults this environment needs (no Ryuk reaper, published
// ports on 127.0.0.1) before testcontainers reads its configuration, and
// decides what a missing Docker daemon means. With CHUTE_REQUIRE_DOCKER=1
// (set by ./scripts/test.sh, so in CI) the test fails; otherwise it is
// skipped with a hint.
//
// Published ports are bound to 127.0.0.1 only. Containers are terminated in
// t.Cleanup; orphans from killed runs carry the label org.testcontainers=true
// and ./scripts/test.sh removes them.
package containers

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/moby/moby/api/types/container"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Image names built by ./scripts/build-images.sh.
const (
	RedisImage     = "chute-test/redis:local"
	VersityGWImage = "chute-test/versitygw:local"
	SeaweedFSImage = "chute-test/seaweedfs:local"
)

// S3Region is the region the store containers serve.
const S3Region = "us-east-1"

const (
	redisPort     = "6379/tcp"
	versityGWPort = "7070/tcp"
	seaweedFSPort = "8333/tcp"
	startTimeout  = 60 * time.Second
)

// envDefaults are set in the process when absent. testcontainers reads its
// configuration once, at first use, so they must be set before any
// testcontainers call: RequireDocker and the Start functions do it first.
var envDefaults = map[string]string{
	// The reaper image cannot be pulled here.
	"TESTCONTAINERS_RYUK_DISABLED": "true",
	// This host has /.dockerenv, so testcontainers would otherwise report a
	// bridge gateway address instead of the loopback the ports are bound to.
	"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
}

func setEnvDefaults() {
	for k, v := range envDefaults {
		if _, ok := os.LookupEnv(k); !ok {
			os.Setenv(k, v)
		}
	}
}

// RequireDocker checks that the Docker daemon answers. If it does not, the
// test fails when CHUTE_REQUIRE_DOCKER=1 and is skipped otherwise.
func RequireDocker(t testing.TB) {
	t.Helper()
	setEnvDefaults()
	checkDocker(t, dockerHealth)
}

// checkDocker makes RequireDocker's decision given a health check.
func checkDocker(t testing.TB, health func(context.Context) error) {
	t.Helper()
	err := health(t.Context())
	if err == nil {
		return
	}
	if os.Getenv("CHUTE_REQUIRE_DOCKER") == "1" {
		t.Fatalf("Docker is required (CHUTE_REQUIRE_DOCKER=1) but not reachable: %v", err)
		return
	}
	t.Skipf("Docker is not reachable (%v); run ./scripts/test.sh, which installs and starts it and builds the test images", err)
}

// dockerHealth reports whether testcontainers can reach a healthy daemon.
func dockerHealth(ctx context.Context) (err error) {
	defer func() {
		// testcontainers may panic when no Docker host can be found at all.
		if r := recover(); r != nil {
			err = fmt.Errorf("no Docker host: %v", r)
		}
	}()
	provider, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return err
	}
	defer provider.Close()
	return provider.Health(ctx)
}

// Network names a user-defined Docker network (see network.New) and the alias
// under which other containers on it reach the started container.
type Network struct {
	Network *testcontainers.DockerNetwork
	Alias   string
}

// Redis describes a started Redis container.
type Redis struct {
	// URL is for clients on the host: redis://127.0.0.1:PORT/0.
	URL string
	// NetworkURL is for containers on the Network given at start
	// (redis://ALIAS:6379/0); empty without one.
	NetworkURL string
}

// StartRedis starts a Redis container with args appended to redis-server's
// command line and returns its URL, redis://127.0.0.1:PORT/0.
func StartRedis(t testing.TB, args ...string) (url string) {
	t.Helper()
	return StartRedisOn(t, nil, args...).URL
}

// StartRedisOn is StartRedis that also attaches the container to nw, when nw
// is not nil.
func StartRedisOn(t testing.TB, nw *Network, args ...string) Redis {
	t.Helper()
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmdArgs(args...),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForLog("Ready to accept connections")),
	}
	port := start(t, RedisImage, redisPort, nw, opts...)
	r := Redis{URL: fmt.Sprintf("redis://127.0.0.1:%s/0", port)}
	if nw != nil {
		r.NetworkURL = fmt.Sprintf("redis://%s:6379/0", nw.Alias)
	}
	return r
}

// S3 describes a started S3-compatible store holding one bucket.
type S3 struct {
	// Endpoint is host:port for clients on the host (127.0.0.1:PORT), plain HTTP.
	Endpoint string
	// NetworkEndpoint is ALIAS:7070 for containers on the Network given at
	// start; empty without one.
	NetworkEndpoint string
	Region          string
	Bucket          string
	AccessKey       string
	SecretKey       string
	// Kind is the implementation: KindVersityGW or KindSeaweedFS.
	Kind string
}

// Client returns a minio-go client for s on the host endpoint, Region set so
// that presigning makes no network call.
func (s S3) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: false,
		Region: s.Region,
	})
}

// StartVersityGW starts versitygw with fresh random root credentials, creates
// bucket (at least 3 characters) and gives it a permissive CORS rule that
// exposes ETag to browsers.
func StartVersityGW(t testing.TB, bucket string) S3 {
	t.Helper()
	return StartVersityGWOn(t, nil, bucket)
}

// StartVersityGWOn is StartVersityGW that also attaches the container to nw,
// when nw is not nil.
func StartVersityGWOn(t testing.TB, nw *Network, bucket string) S3 {
	t.Helper()
	s := newS3(KindVersityGW, bucket)
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEnv(map[string]string{
			"ROOT_ACCESS_KEY_ID":     s.AccessKey,
			"ROOT_SECRET_ACCESS_KEY": s.SecretKey,
		}),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForHTTP("/health").WithPort(versityGWPort)),
	}
	port := start(t, VersityGWImage, versityGWPort, nw, opts...)
	s.Endpoint = "127.0.0.1:" + port
	if nw != nil {
		s.NetworkEndpoint = nw.Alias + ":7070"
	}

	client, err := s.Client()
	if err != nil {
		t.Fatalf("versitygw client: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("versitygw: create bucket %q: %v", bucket, err)
	}
	setCORS(ctx, t, client, s)
	return s
}

// newS3 describes a store of kind holding bucket, with fresh random
// credentials.
func newS3(kind, bucket string) S3 {
	return S3{
		Kind:      kind,
		Region:    S3Region,
		Bucket:    bucket,
		AccessKey: rand.Text()[:20],
		SecretKey: rand.Text() + rand.Text(),
	}
}

// setCORS gives s.Bucket a permissive CORS rule that exposes ETag.
func setCORS(ctx context.Context, t testing.TB, client *minio.Client, s S3) {
	t.Helper()
	rules := cors.NewConfig([]cors.Rule{{
		AllowedOrigin: []string{"*"},
		AllowedMethod: []string{"GET", "PUT", "POST", "HEAD", "DELETE"},
		AllowedHeader: []string{"*"},
		ExposeHeader:  []string{"ETag"},
		MaxAgeSeconds: 3000,
	}})
	if err := client.SetBucketCors(ctx, s.Bucket, rules); err != nil {
		t.Fatalf("%s: set CORS on %q: %v", s.Kind, s.Bucket, err)
	}
}

// start runs image with containerPort published on 127.0.0.1, registers its
// termination with t.Cleanup and returns the host port.
func start(t testing.TB, image, containerPort string, nw *Network, opts ...testcontainers.ContainerCustomizer) string {
	t.Helper()
	setEnvDefaults()
	ctx, cancel := context.WithTimeout(t.Context(), 2*startTimeout)
	defer cancel()
	ctr, port, err := run(ctx, image, containerPort, nw, opts...)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// runDetached is start for a container that outlives the test that asked
// for it: the caller terminates it.
func runDetached(image, containerPort string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, string, error) {
	setEnvDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()
	ctr, port, err := run(ctx, image, containerPort, nil, opts...)
	if err != nil && ctr != nil {
		_ = ctr.Terminate(context.Background())
		ctr = nil
	}
	return ctr, port, err
}

// run starts image with containerPort published on 127.0.0.1 and returns the
// container (also on error, when one was created) and the host port.
func run(ctx context.Context, image, containerPort string, nw *Network, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, string, error) {
	if err := requireImage(ctx, image); err != nil {
		return nil, "", err
	}
	port := mobynetwork.MustParsePort(containerPort)
	opts = append(opts,
		testcontainers.WithExposedPorts(containerPort),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = mobynetwork.PortMap{}
			}
			hc.PortBindings[port] = []mobynetwork.PortBinding{{
				HostIP: netip.MustParseAddr("127.0.0.1"),
			}}
		}),
	)
	if nw != nil {
		opts = append(opts, network.WithNetwork([]string{nw.Alias}, nw.Network))
	}
	ctr, err := testcontainers.Run(ctx, image, opts...)
	if err != nil {
		return ctr, "", fmt.Errorf("start %s: %w", image, err)
	}
	mapped, err := ctr.MappedPort(ctx, containerPort)
	if err != nil {
		return ctr, "", fmt.Errorf("%s: mapped port %s: %w", image, containerPort, err)
	}
	return ctr, mapped.Port(), nil
}

// requireImage returns an error naming the build script when image is not
// present locally (it could not be pulled anyway).
func requireImage(ctx context.Context, image string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("image %s not found: run ./scripts/build-images.sh", image)
		}
		return fmt.Errorf("inspect image %s: %w (run ./scripts/build-images.sh if it is missing)", image, err)
	}
	return nil
}
