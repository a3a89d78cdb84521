// Package chutetest runs a real Chute broker in Docker for another project's
// integration tests: the Chute container, a Redis container for its
// sessions and an S3-compatible store (versitygw) holding one bucket, all on
// one private Docker network, through testcontainers-go.
//
//	c, err := chutetest.Run(ctx)
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { c.Terminate(context.Background()) })
//	token, _ := c.Token("alice")
//	// POST c.URL+"/v1/uploads" with "Authorization: Bearer "+token, PUT the
//	// bytes to the presigned URL it returns, then complete the upload.
//
// Package chutetest/inprocess starts the same Chute, with the same options
// and handle, inside the test process instead: no Docker needed.
//
// Chute runs `chute serve` with auth.mode jwt (HS256; Token mints tokens) and
// is configured entirely through CHUTE_* environment variables (WithEnv adds
// or overrides any of them). Presigned URLs point at the store's published
// port on 127.0.0.1, so the test process can use them directly; inside the
// network Chute reaches the store as s3:7070 and Redis as redis:6379.
//
// # Images
//
// By default Run starts public images, pulled by Docker when missing:
// DefaultChuteImage() (ghcr.io/chute-dev/chute tagged with the Chute
// release this binary is built with), DefaultRedisImage and DefaultS3Image.
// The environment variables CHUTETEST_CHUTE_IMAGE, CHUTETEST_REDIS_IMAGE and
// CHUTETEST_S3_IMAGE replace them (a pinned version, a registry mirror), and
// WithImages overrides both. WithLocalImages runs the images the Chute
// repository builds without any registry (`make image`,
// `scripts/build-images.sh`); a missing local image is an error that says
// how to build it.
//
// # Environment
//
// Published ports are bound to 127.0.0.1 only, and URLs use 127.0.0.1: the
// Docker daemon must run on the test's machine. testcontainers-go reads its
// own settings from the environment as usual; where its reaper image can't
// be pulled, set TESTCONTAINERS_RYUK_DISABLED=true (and always call
// Terminate). Where testcontainers mistakes the host for a container (a
// /.dockerenv file), set TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1.
package chutetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"strings"
	"sync"
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

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/chutetest/internal/bridge"
)

// DefaultBucket is the bucket created when WithBucket is not given.
const DefaultBucket = "uploads"

// Region is the region the store serves and Chute signs for.
const Region = "us-east-1"

// TokenTTL is the lifetime of the tokens Token mints.
const TokenTTL = time.Hour

const (
	chutePort    = "8080/tcp"
	redisPort    = "6379/tcp"
	s3Port       = "7070/tcp"
	redisAlias   = "redis"
	s3Alias      = "s3"
	startTimeout = 60 * time.Second
)

// Chute is a running Chute broker with its Redis and its store, in Docker
// (Run) or in the test process (package chutetest/inprocess). Its fields
// are for reading; Terminate removes everything.
type Chute struct {
	// URL is the base URL of the Chute API on the host,
	// "http://127.0.0.1:PORT" (routes under /v1, /healthz, /readyz).
	URL string
	// S3 is the store Chute uploads to, as the host reaches it.
	S3 S3
	// RedisURL is the session store as the host reaches it,
	// "redis://127.0.0.1:PORT/0" (for inspection; Chute owns its keys).
	RedisURL string

	secret     string
	network    *testcontainers.DockerNetwork
	containers []testcontainers.Container // in start order
	chute      testcontainers.Container

	// In process (chutetest/inprocess): what Logs and Terminate use
	// instead of the containers.
	inLogs func() string
	inStop func(ctx context.Context) error
}

func init() {
	bridge.Resolve = func(opts any) bridge.Settings {
		s := newSettings(opts.([]Option))
		return bridge.Settings{Secret: s.secret, Bucket: s.bucket, Env: optionEnv(&s)}
	}
	bridge.Wrap = func(h bridge.Handle) any {
		return &Chute{
			URL: h.URL, RedisURL: h.RedisURL, secret: h.Secret,
			S3:     S3{Endpoint: h.S3Endpoint, Region: h.Region, Bucket: h.Bucket, AccessKey: h.AccessKey, SecretKey: h.SecretKey},
			inLogs: h.Logs, inStop: h.Stop,
		}
	}
}

// S3 describes the store and the bucket Chute writes to.
type S3 struct {
	// Endpoint is the store's URL on the host, "http://127.0.0.1:PORT"
	// (path-style addressing, plain HTTP). Presigned URLs point here.
	Endpoint string
	// Region to sign requests for.
	Region string
	// Bucket is the bucket uploads land in; it allows CORS from any origin
	// and exposes ETag.
	Bucket string
	// AccessKey and SecretKey are the store's root credentials (random per
	// Run).
	AccessKey string
	SecretKey string
}

// Host returns Endpoint without its scheme, "127.0.0.1:PORT", as some S3
// clients (minio-go) take it.
func (s S3) Host() string {
	return strings.TrimPrefix(s.Endpoint, "http://")
}

// Profile is an upload profile for WithProfile. Empty fields take Chute's
// defaults. Sizes are written as Chute reads them ("16MiB", "5GiB"),
// durations as Go writes them ("15m") or in days ("7d").
type Profile struct {
	MaxSize      string
	PartSize     string
	SingleMax    string
	AllowedTypes []string
	URLTTL       string
	KeyTemplate  string
}

// Option changes what Run starts.
type Option func(*settings)

type settings struct {
	images   images // as the options set them; "" = not set
	secret   string
	bucket   string
	profiles map[string]Profile
	env      map[string]string
}

// newSettings applies opts to the defaults.
func newSettings(opts []Option) settings {
	s := settings{
		bucket:   DefaultBucket,
		profiles: map[string]Profile{},
		env:      map[string]string{},
	}
	for _, o := range opts {
		o(&s)
	}
	if s.secret == "" {
		s.secret = rand.Text() + rand.Text()
	}
	return s
}

// WithImages names the images to run, over the environment variables
// (EnvChuteImage, ...) and the defaults; an empty name leaves that image to
// them. See the package documentation for what each image must do.
func WithImages(chute, redis, s3 string) Option {
	return func(s *settings) {
		if chute != "" {
			s.images.chute = chute
		}
		if redis != "" {
			s.images.redis = redis
		}
		if s3 != "" {
			s.images.s3 = s3
		}
	}
}

// WithJWTSecret sets the HS256 secret Chute accepts tokens for (at least 32
// bytes). Without it Run picks a random one; Token signs with it either way.
func WithJWTSecret(secret string) Option {
	return func(s *settings) { s.secret = secret }
}

// WithBucket sets the bucket to create and upload to (3-63 characters:
// a-z, 0-9, '.', '-'). Default DefaultBucket.
func WithBucket(bucket string) Option {
	return func(s *settings) { s.bucket = bucket }
}

// WithProfile adds or changes the upload profile name ("default" is the one
// used when a request names none). It may be given once per name.
func WithProfile(name string, p Profile) Option {
	return func(s *settings) { s.profiles[name] = p }
}

// WithEnv sets environment variables of the Chute container, after (and so
// over) those Run sets: any CHUTE_* configuration key, e.g.
// CHUTE_LOG_LEVEL=debug.
func WithEnv(env map[string]string) Option {
	return func(s *settings) { maps.Copy(s.env, env) }
}

// Run starts Redis and the store, creates the bucket, then starts Chute
// configured for both and waits until its /readyz answers. On error
// everything already started is removed again. The context bounds the
// start only, not the containers' life: call Terminate when done.
func Run(ctx context.Context, opts ...Option) (_ *Chute, err error) {
	s := newSettings(opts)
	c := &Chute{secret: s.secret}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Terminate(context.WithoutCancel(ctx)))
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, 3*startTimeout)
	defer cancel()
	img := resolveImages(s.images, os.Getenv)
	for _, img := range []string{img.redis, img.s3, img.chute} {
		if err := requireImage(ctx, img); err != nil {
			return nil, err
		}
	}
	if c.network, err = network.New(ctx); err != nil {
		return nil, fmt.Errorf("chutetest: create network: %w", err)
	}

	// Redis and the store start side by side; Chute needs the store's
	// published port for its presigned URLs, so it starts after them.
	c.S3 = S3{Region: Region, Bucket: s.bucket, AccessKey: rand.Text()[:20], SecretKey: rand.Text() + rand.Text()}
	var (
		wg                 sync.WaitGroup
		redis, store       testcontainers.Container
		redisErr, storeErr error
		redisHost, s3Host  string
	)
	wg.Go(func() {
		redis, redisHost, redisErr = c.start(ctx, img.redis, redisPort, redisAlias,
			testcontainers.WithCmd(redisArgs...),
			testcontainers.WithWaitStrategyAndDeadline(startTimeout, wait.ForLog("Ready to accept connections")))
	})
	wg.Go(func() {
		store, s3Host, storeErr = c.start(ctx, img.s3, s3Port, s3Alias,
			testcontainers.WithEnv(storeEnv(c.S3)),
			testcontainers.WithWaitStrategyAndDeadline(startTimeout, wait.ForHTTP("/health").WithPort(s3Port)))
	})
	wg.Wait()
	c.addContainer(redis)
	c.addContainer(store)
	if err := errors.Join(redisErr, storeErr); err != nil {
		return nil, err
	}
	c.RedisURL = "redis://" + redisHost + "/0"
	c.S3.Endpoint = "http://" + s3Host
	if err := c.prepareBucket(ctx); err != nil {
		return nil, err
	}

	env := chuteEnv(&s, c.S3)
	var chuteHost string
	c.chute, chuteHost, err = c.start(ctx, img.chute, chutePort, "chute",
		testcontainers.WithEnv(env),
		testcontainers.WithCmd("serve"),
		testcontainers.WithWaitStrategyAndDeadline(startTimeout,
			wait.ForHTTP("/readyz").WithPort(chutePort).WithStatusCodeMatcher(func(status int) bool { return status == 200 })))
	c.addContainer(c.chute)
	if err != nil {
		if logs := c.logs(context.WithoutCancel(ctx)); logs != "" {
			err = fmt.Errorf("%w\nchute container log:\n%s", err, logs)
		}
		return nil, err
	}
	c.URL = "http://" + chuteHost
	return c, nil
}

// chuteEnv returns the Chute container's environment: its whole
// configuration for the network's Redis and store (s3 as the host reaches
// it, for presigned URLs), then optionEnv.
func chuteEnv(s *settings, s3 S3) map[string]string {
	env := map[string]string{
		"CHUTE_SERVER_LISTEN":                 "0.0.0.0:8080",
		"CHUTE_SESSIONS_REDIS_URL":            "redis://" + redisAlias + ":6379/0",
		"CHUTE_BACKENDS_MAIN_PROVIDER":        "versitygw",
		"CHUTE_BACKENDS_MAIN_ENDPOINT":        "http://" + s3Alias + ":7070",
		"CHUTE_BACKENDS_MAIN_PUBLIC_ENDPOINT": s3.Endpoint,
		"CHUTE_BACKENDS_MAIN_REGION":          s3.Region,
		"CHUTE_BACKENDS_MAIN_BUCKET":          s3.Bucket,
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY":      s3.AccessKey,
		"CHUTE_BACKENDS_MAIN_SECRET_KEY":      s3.SecretKey,
		"CHUTE_BACKENDS_MAIN_PATH_STYLE":      "true",
		"CHUTE_LOG_FORMAT":                    "json",
	}
	maps.Copy(env, optionEnv(s))
	return env
}

// optionEnv returns the configuration the options make, in both modes:
// JWT auth with the secret, the profiles, then the caller's WithEnv.
func optionEnv(s *settings) map[string]string {
	env := map[string]string{
		"CHUTE_AUTH_MODE":       "jwt",
		"CHUTE_AUTH_JWT_SECRET": s.secret,
	}
	for name, p := range s.profiles {
		maps.Copy(env, profileEnv(name, p))
	}
	maps.Copy(env, s.env)
	return env
}

// redisArgs is the Redis container's command: options only, which both
// kinds of image take. The official image's entrypoint
// (docker-entrypoint.sh) puts redis-server in front of arguments that start
// with "-"; LocalRedisImage's entrypoint is redis-server itself with these
// same options, which may be given twice. Test data is not persisted, and
// protected mode is off (connections come from the Docker network and the
// host's bridge, never from 127.0.0.1 inside the container).
var redisArgs = []string{"--protected-mode", "no", "--save", "", "--appendonly", "no"}

// storeEnv is the versitygw container's environment for s3. versitygw reads
// its root credentials, port, region and health path from these variables;
// the official image's entrypoint (docker-entrypoint.sh, run without
// arguments) builds the command line from VGW_BACKEND and VGW_BACKEND_ARG
// (/tmp/vgw exists in that image). LocalS3Image runs versitygw with the same
// settings as flags (posix /data), which take precedence over the
// variables, so one environment fits both.
func storeEnv(s3 S3) map[string]string {
	return map[string]string{
		"ROOT_ACCESS_KEY_ID":     s3.AccessKey,
		"ROOT_SECRET_ACCESS_KEY": s3.SecretKey,
		"VGW_BACKEND":            "posix",
		"VGW_BACKEND_ARG":        "/tmp/vgw",
		"VGW_PORT":               ":7070",
		"VGW_REGION":             Region,
		"VGW_HEALTH":             "/health",
	}
}

// profileEnv returns the CHUTE_PROFILES_* variables for p.
func profileEnv(name string, p Profile) map[string]string {
	prefix := "CHUTE_PROFILES_" + strings.ToUpper(name) + "_"
	env := map[string]string{}
	set := func(key, val string) {
		if val != "" {
			env[prefix+key] = val
		}
	}
	// The backend is named so that a profile with every field empty still
	// creates the entry.
	set("BACKEND", "main")
	set("MAX_SIZE", p.MaxSize)
	set("PART_SIZE", p.PartSize)
	set("SINGLE_MAX", p.SingleMax)
	set("ALLOWED_TYPES", strings.Join(p.AllowedTypes, ","))
	set("URL_TTL", p.URLTTL)
	set("KEY_TEMPLATE", p.KeyTemplate)
	return env
}

// Token returns an HS256 token for subject that Chute accepts, valid for
// TokenTTL; send it as "Authorization: Bearer TOKEN".
func (c *Chute) Token(subject string) (string, error) {
	return auth.SignHS256(c.secret, subject, TokenTTL, "", "")
}

// Logs returns what Chute has logged so far (JSON lines): the container's
// output, or in process what the broker logged.
func (c *Chute) Logs(ctx context.Context) (string, error) {
	if c.inLogs != nil {
		return c.inLogs(), nil
	}
	if c.chute == nil {
		return "", errors.New("chutetest: chute container not started")
	}
	r, err := c.chute.Logs(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func (c *Chute) logs(ctx context.Context) string {
	s, _ := c.Logs(ctx)
	return s
}

// Terminate stops and removes the containers and the network (in process:
// stops the broker and lets go of the embedded stores). It may be called
// more than once.
func (c *Chute) Terminate(ctx context.Context) error {
	if c.inStop != nil {
		return c.inStop(ctx)
	}
	var errs []error
	for i := len(c.containers) - 1; i >= 0; i-- {
		if err := c.containers[i].Terminate(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.containers = nil
	if c.network != nil {
		if err := c.network.Remove(ctx); err != nil {
			errs = append(errs, err)
		}
		c.network = nil
	}
	return errors.Join(errs...)
}

func (c *Chute) addContainer(ctr testcontainers.Container) {
	if ctr != nil {
		c.containers = append(c.containers, ctr)
	}
}

// start runs image on the network under alias with port published on
// 127.0.0.1 and returns the container (also when it failed to become ready,
// so that it can be removed) and the published "127.0.0.1:PORT".
func (c *Chute) start(ctx context.Context, image, port, alias string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, string, error) {
	p := mobynetwork.MustParsePort(port)
	opts = append(opts,
		testcontainers.WithExposedPorts(port),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			if hc.PortBindings == nil {
				hc.PortBindings = mobynetwork.PortMap{}
			}
			hc.PortBindings[p] = []mobynetwork.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
		}),
		network.WithNetwork([]string{alias}, c.network),
	)
	ctr, err := testcontainers.Run(ctx, image, opts...)
	var out testcontainers.Container
	if ctr != nil {
		out = ctr
	}
	if err != nil {
		return out, "", fmt.Errorf("chutetest: start %s: %w", image, err)
	}
	mapped, err := ctr.MappedPort(ctx, port)
	if err != nil {
		return out, "", fmt.Errorf("chutetest: %s: published port of %s: %w", image, port, err)
	}
	return out, "127.0.0.1:" + mapped.Port(), nil
}

// prepareBucket creates the bucket and lets browsers on any origin upload
// to it and read the ETag of a part.
func (c *Chute) prepareBucket(ctx context.Context) error {
	client, err := minio.New(c.S3.Host(), &minio.Options{
		Creds:  credentials.NewStaticV4(c.S3.AccessKey, c.S3.SecretKey, ""),
		Region: c.S3.Region,
	})
	if err != nil {
		return fmt.Errorf("chutetest: store client: %w", err)
	}
	if err := client.MakeBucket(ctx, c.S3.Bucket, minio.MakeBucketOptions{Region: c.S3.Region}); err != nil {
		return fmt.Errorf("chutetest: create bucket %q: %w", c.S3.Bucket, err)
	}
	rules := cors.NewConfig([]cors.Rule{{
		AllowedOrigin: []string{"*"},
		AllowedMethod: []string{"GET", "PUT", "POST", "HEAD"},
		AllowedHeader: []string{"*"},
		ExposeHeader:  []string{"ETag"},
	}})
	if err := client.SetBucketCors(ctx, c.S3.Bucket, rules); err != nil {
		return fmt.Errorf("chutetest: CORS on bucket %q: %w", c.S3.Bucket, err)
	}
	return nil
}

// requireImage checks that one of the Chute repository's local images
// (or any image tagged "local") is present, and says how to build it when
// it isn't: those can't be pulled. Any other image that is missing is left
// to testcontainers, which pulls it.
func requireImage(ctx context.Context, image string) error {
	hint := buildHint(image)
	if hint == "" {
		return nil
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("chutetest: docker client: %w", err)
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	if err == nil {
		return nil
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("chutetest: image %s not found: %s", image, hint)
	}
	return fmt.Errorf("chutetest: inspect image %s: %w (%s if it is missing)", image, err, hint)
}
