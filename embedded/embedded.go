// Package embedded runs the stack behind `chute dev` inside the Chute
// process itself: a Redis-compatible session store (miniredis) and an
// S3-compatible object store (versitygw, as a library, on a local folder),
// both on loopback. No Redis, no S3 and no configuration are needed.
//
// What it owns: starting both servers, creating the bucket, and stopping
// them again. It hands back where they listen and the credentials to use
// (Stack); wiring them into the broker is cmd's job.
//
// Caveats, all of them consequences of the libraries used:
//
//   - One stack per process at a time. versitygw keeps package-level state
//     (bucket-name rules, debug logging, a "running" flag), so Start returns
//     ErrRunning while another stack is up. Tests should start one stack per
//     test binary (TestMain or one test with subtests).
//   - The working directory changes. versitygw's posix backend calls
//     os.Chdir to its root (DataDir/objects) and from then on resolves
//     buckets and objects relative to the working directory. Every path in
//     Options is made absolute before that; anything else in the process
//     that uses relative paths while the stack runs resolves them under
//     DataDir/objects, and nothing may Chdir elsewhere until Close, which
//     restores the previous working directory.
//   - Object metadata (ETags, content types, x-amz-meta-*) lives in
//     extended attributes when the filesystem under DataDir supports user
//     xattrs; when it doesn't (some tmpfs and network filesystems), Start
//     falls back to sidecar files under DataDir/sidecar and keeps using them
//     for that DataDir afterwards.
//   - The session store requires a password, random at every start and
//     known only to this process (in RedisURL): nothing else on the
//     machine can read or change sessions.
//   - Sessions are in memory only: they don't survive a restart, while the
//     objects under DataDir do. miniredis runs with ClockTTL, so key TTLs
//     run on the wall clock as in Redis.
//   - versitygw prints a line or two to stdout at start ("No IAM service
//     configured, enabling single account mode", and a note when it uses
//     sidecar metadata); its banner and per-request logging are off.
//   - Linking versitygw brings its dependency tree (Fiber v3 beside Fiber
//     v2, the AWS SDK, LDAP and Vault clients): this package's stripped test
//     binary is about 27 MB (config's is 4 MB), and a cold build of that
//     tree takes minutes on two cores.
package embedded

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// Defaults of Options.
const (
	DefaultS3Listen   = "127.0.0.1:0"
	DefaultBucket     = "uploads"
	DefaultRegion     = "us-east-1"
	DefaultCORSOrigin = "*"
	// HealthPath answers 200 to GET on the S3 endpoint without credentials.
	// The underscore keeps it from masking a bucket (bucket names can't
	// have one).
	HealthPath = "/_health"
)

// ErrRunning is returned by Start while another stack runs in the process.
var ErrRunning = errors.New("embedded: a stack is already running in this process (versitygw allows one gateway per process)")

// Options configures Start. Every field is optional.
type Options struct {
	// DataDir holds the objects (DataDir/objects) and, when the filesystem
	// has no extended attributes, their metadata (DataDir/sidecar). It is
	// created if missing. Default "chute-data" in the working directory.
	DataDir string
	// S3Listen is the host:port of the S3 endpoint. A port of 0 picks a
	// free one. Default "127.0.0.1:0".
	S3Listen string
	// Bucket is created on start if missing. Default "uploads".
	Bucket string
	// Region is the region the store reports and signs for.
	// Default "us-east-1".
	Region string
	// CORSOrigin is the Access-Control-Allow-Origin the store answers
	// browsers with (ETag is exposed to them). Default "*".
	CORSOrigin string
	// AccessKey and SecretKey are the store's root credentials. Default:
	// random ones, new at every start.
	AccessKey, SecretKey string
	// Logger receives the stack's own messages. Default slog.Default().
	Logger *slog.Logger
}

// Stack is a running embedded stack. Its fields tell how to reach it.
type Stack struct {
	// RedisURL is the session store, "redis://:PASSWORD@127.0.0.1:PORT/0".
	// The password is random, new at every start, and required: keep the
	// URL out of logs.
	RedisURL string
	// S3Endpoint is the object store, "http://127.0.0.1:PORT" (path-style).
	S3Endpoint string
	// Region, Bucket, AccessKey and SecretKey are the store's settings.
	Region, Bucket, AccessKey, SecretKey string
	// DataDir is the absolute data folder.
	DataDir string

	redis     *miniredis.Miniredis
	cancel    context.CancelFunc
	gwDone    chan error
	oldWD     string
	closeOnce sync.Once
	closeErr  error
}

var (
	runMu   sync.Mutex
	running bool
)

// Start starts the session store and the object store, creates the bucket
// and returns once both answer. ctx bounds the start only; the stack runs
// until Close. Start returns ErrRunning while another stack runs in the
// process.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	runMu.Lock()
	if running {
		runMu.Unlock()
		return nil, ErrRunning
	}
	running = true
	runMu.Unlock()

	s, err := start(ctx, opts)
	if err != nil {
		runMu.Lock()
		running = false
		runMu.Unlock()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, opts Options) (_ *Stack, err error) {
	o := withDefaults(opts)
	log := o.Logger
	if len(o.Bucket) < 3 {
		return nil, fmt.Errorf("embedded: bucket name %q: needs at least 3 characters", o.Bucket)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data dir: %w", err)
	}
	root := filepath.Join(dataDir, "objects")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: data dir: %w", err)
	}
	if o.AccessKey == "" {
		o.AccessKey = "CHUTE" + rand.Text()[:15]
	}
	if o.SecretKey == "" {
		o.SecretKey = rand.Text() + rand.Text()[:14]
	}

	s := &Stack{
		Region: o.Region, Bucket: o.Bucket, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		DataDir: dataDir,
	}
	defer func() {
		if err != nil {
			s.shutdown()
		}
	}()

	// Sessions.
	s.redis = miniredis.NewMiniRedis()
	if err := s.redis.StartAddr("127.0.0.1:0"); err != nil {
		s.redis = nil
		return nil, fmt.Errorf("embedded: start session store: %w", err)
	}
	s.redis.ClockTTL(true)
	// A random password: the store listens on loopback, where any local
	// process — or a web page sending a cross-protocol request to
	// 127.0.0.1 — could otherwise read and rewrite sessions. Only this
	// process needs it, so it is printed nowhere.
	pw := rand.Text()
	s.redis.RequireAuth(pw)
	s.RedisURL = "redis://:" + pw + "@" + s.redis.Addr() + "/0"

	// Objects.
	ms, sidecar, err := chooseMeta(dataDir, root)
	if err != nil {
		return nil, err
	}
	if sidecar != "" {
		log.Warn("embedded: the filesystem has no user xattrs; object metadata goes to sidecar files", "dir", sidecar)
	}
	addr, err := resolveListen(o.S3Listen)
	if err != nil {
		return nil, err
	}
	if s.oldWD, err = os.Getwd(); err != nil {
		return nil, fmt.Errorf("embedded: working directory: %w", err)
	}
	// CopyObjectThreshold: S3's 5 GiB; the zero value refuses every copy, and
	// staged single uploads are copied into place (broker/staging.go).
	be, err := posix.New(root, ms, posix.PosixOpts{SideCarDir: sidecar, ValidateBucketNames: true, CopyObjectThreshold: 5 << 30})
	if err != nil {
		return nil, fmt.Errorf("embedded: object store backend: %w", err)
	}
	gwCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.gwDone = make(chan error, 1)
	cfg := &embedgw.Config{
		RootUserAccess:    o.AccessKey,
		RootUserSecret:    o.SecretKey,
		Region:            o.Region,
		Ports:             []string{addr},
		MaxConnections:    1024,
		MaxRequests:       256,
		MultipartMaxParts: 10000,
		CORSAllowOrigin:   o.CORSOrigin,
		Quiet:             true,
		KeepAlive:         true,
		HealthPath:        HealthPath,
	}
	go func() { s.gwDone <- embedgw.RunVersityGW(gwCtx, be, cfg) }()
	s.S3Endpoint = "http://" + addr
	if err := s.waitHealthy(ctx); err != nil {
		return nil, err
	}
	if err := s.makeBucket(ctx); err != nil {
		return nil, err
	}
	log.Info("embedded stack started", "s3", s.S3Endpoint, "bucket", s.Bucket, "redis", s.redis.Addr(), "data_dir", dataDir)
	return s, nil
}

func withDefaults(o Options) Options {
	if o.DataDir == "" {
		o.DataDir = "chute-data"
	}
	if o.S3Listen == "" {
		o.S3Listen = DefaultS3Listen
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.CORSOrigin == "" {
		o.CORSOrigin = DefaultCORSOrigin
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// chooseMeta picks xattr metadata when the filesystem under root supports
// it, else sidecar files in dataDir/sidecar. A sidecar folder left by an
// earlier start is kept, so metadata isn't split between the two.
func chooseMeta(dataDir, root string) (meta.MetadataStorer, string, error) {
	sidecar := filepath.Join(dataDir, "sidecar")
	_, statErr := os.Stat(sidecar)
	if statErr != nil && (meta.XattrMeta{}).Test(root) == nil {
		return meta.XattrMeta{}, "", nil
	}
	if err := os.MkdirAll(sidecar, 0o755); err != nil {
		return nil, "", fmt.Errorf("embedded: sidecar dir: %w", err)
	}
	sc, err := meta.NewSideCar(sidecar)
	if err != nil {
		return nil, "", fmt.Errorf("embedded: sidecar metadata: %w", err)
	}
	return sc, sidecar, nil
}

// resolveListen returns host:port with a concrete port: a port of 0 is
// replaced by a free one. (The gateway doesn't report the port it bound,
// so it is picked here; another process could take it in between, which
// then fails Start.)
func resolveListen(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("embedded: S3 listen address %q: %w", listen, err)
	}
	if port != "0" {
		return listen, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("embedded: pick a port on %q: %w", host, err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// waitHealthy polls the health path until it answers 200, the gateway
// exits, or ctx ends (or 30s pass).
func (s *Stack) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.S3Endpoint+HealthPath, nil)
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.gwDone:
			s.gwDone <- err // let shutdown see it too
			if err == nil {
				err = errors.New("stopped at once")
			}
			return fmt.Errorf("embedded: object store: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("embedded: object store didn't answer on %s: %w", s.S3Endpoint, ctx.Err())
		case <-tick.C:
		}
	}
}

// makeBucket creates the bucket unless the store already has it.
func (s *Stack) makeBucket(ctx context.Context) error {
	mc, err := s.client()
	if err != nil {
		return err
	}
	err = mc.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region})
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil
	}
	return fmt.Errorf("embedded: create bucket %q: %w", s.Bucket, err)
}

// client returns a minio-go client for the store, with the root
// credentials and path-style addressing.
func (s *Stack) client() (*minio.Client, error) {
	host := s.S3Endpoint[len("http://"):]
	mc, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: S3 client: %w", err)
	}
	return mc, nil
}

// Close stops both servers, waits for the object store to finish, and
// restores the working directory Start found. The objects stay in DataDir;
// the sessions are gone. Close is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.shutdown()
		runMu.Lock()
		running = false
		runMu.Unlock()
	})
	return s.closeErr
}

// shutdown stops whatever start got running.
func (s *Stack) shutdown() error {
	var errs []error
	if s.cancel != nil {
		s.cancel()
		select {
		case err := <-s.gwDone:
			if err != nil {
				errs = append(errs, fmt.Errorf("embedded: object store: %w", err))
			}
		case <-time.After(30 * time.Second):
			errs = append(errs, errors.New("embedded: object store did not stop within 30s"))
		}
		s.cancel = nil
	}
	if s.redis != nil {
		s.redis.Close()
		s.redis = nil
	}
	if s.oldWD != "" {
		if err := os.Chdir(s.oldWD); err != nil {
			errs = append(errs, fmt.Errorf("embedded: restore working directory: %w", err))
		}
		s.oldWD = ""
	}
	return errors.Join(errs...)
}
