// Package inprocess runs a real Chute broker inside the test process, with
// no Docker at all: the broker and its HTTP API, a Redis-compatible session
// store (miniredis) and an S3-compatible store (versitygw as a library) —
// the embedded stack `chute` runs with no configuration — on loopback
// ports picked at random. Start returns the same *chutetest.Chute as
// chutetest.Run and takes the same options, so a test helper written for
// one mode works with the other.
//
//	func TestAvatarUpload(t *testing.T) {
//		c := inprocess.Start(t, chutetest.WithProfile("avatars", chutetest.Profile{MaxSize: "2MiB"}))
//		token, _ := c.Token("alice")
//		// POST c.URL+"/v1/uploads" with "Authorization: Bearer "+token ...
//	}
//
// It is a separate package because it links the broker, the embedded store
// and their dependencies (versitygw brings Fiber v3, the AWS SDK and more:
// a cold build takes minutes, the test binary grows by about 30 MB); a test
// that only uses chutetest.Run doesn't pay for that.
//
// # Caveats
//
//   - The working directory changes while a stack runs: versitygw's posix
//     backend changes into its data folder and resolves objects from there.
//     Relative paths in the test (testdata/...) resolve under that folder
//     until the last Chute of the process is terminated, when the old
//     working directory comes back. Make paths absolute before Start
//     (filepath.Abs), and don't use t.Chdir in tests that use this package.
//   - One store per process: versitygw allows one gateway per process, so
//     every in-process Chute of a test binary shares one session store and
//     one object store, started by the first Start and stopped when the last
//     one is terminated. Each Chute has its own API port, JWT secret and
//     Redis database (RedisURL names it), and its own bucket when
//     WithBucket names different ones; Chutes given the same bucket name
//     share that bucket (upload keys don't collide: they contain the upload
//     ID). Tests may run in parallel.
//   - Not served in process: quotas (quotas.* and profiles.*.quotas),
//     tracing (tracing.enabled) and the Redis modes other than one server;
//     Start fails naming the key.
//     Webhooks, the authorizer, verify hooks, rate limits, the janitor and
//     /metrics are wired as `chute serve` wires them.
//   - The versitygw library prints a line to stdout when the store starts.
package inprocess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/chute-dev/chute/chutetest"
	"github.com/chute-dev/chute/chutetest/internal/bridge"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/embedded"
)

// startTimeout bounds Start.
const startTimeout = 60 * time.Second

// Start starts a Chute in the test process, configured by opts like
// chutetest.Run (WithImages has no effect here), and terminates it when t
// and its subtests are done. It fails t if Chute can't start.
func Start(t testing.TB, opts ...chutetest.Option) *chutetest.Chute {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := StartContext(ctx, opts...)
	if err != nil {
		t.Fatalf("chutetest/inprocess: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if logs, _ := c.Logs(context.Background()); logs != "" {
				t.Logf("chute log:\n%s", logs)
			}
		}
		if err := c.Terminate(context.Background()); err != nil {
			t.Errorf("chutetest/inprocess: terminate: %v", err)
		}
	})
	return c
}

// StartContext is Start without a testing.TB: the caller must call
// Terminate. ctx bounds the start only.
func StartContext(ctx context.Context, opts ...chutetest.Option) (_ *chutetest.Chute, err error) {
	s := bridge.Resolve(opts)
	stack, db, release, err := acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, release())
		}
	}()
	if err := ensureBucket(ctx, stack, s.Bucket); err != nil {
		return nil, err
	}

	cfg, err := loadConfig(stack, db, s)
	if err != nil {
		return nil, err
	}
	logs := &logBuffer{}
	lv := slog.LevelInfo
	_ = lv.UnmarshalText([]byte(cfg.Log.Level))
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: lv}))
	b, err := wire(cfg, log)
	if err != nil {
		return nil, err
	}
	addr, err := b.start()
	if err != nil {
		return nil, err
	}
	var (
		stopOnce sync.Once
		stopErr  error
	)
	stop := func(ctx context.Context) error {
		stopOnce.Do(func() { stopErr = errors.Join(b.stop(ctx), release()) })
		return stopErr
	}
	h := bridge.Handle{
		URL:        "http://" + addr,
		RedisURL:   cfg.Sessions.RedisURL,
		S3Endpoint: stack.S3Endpoint, Region: stack.Region, Bucket: s.Bucket,
		AccessKey: stack.AccessKey, SecretKey: stack.SecretKey,
		Secret: s.Secret,
		Logs:   logs.String,
		Stop:   stop,
	}
	return bridge.Wrap(h).(*chutetest.Chute), nil
}

// loadConfig makes Chute's configuration the way the container mode does:
// CHUTE_* variables for the stores (the embedded ones, database db of the
// session store), then those of the options, loaded and validated by
// config.Load.
func loadConfig(stack *embedded.Stack, db int, s bridge.Settings) (*config.Config, error) {
	env := map[string]string{
		"CHUTE_SERVER_LISTEN":            "127.0.0.1:0",
		"CHUTE_SESSIONS_REDIS_URL":       redisDB(stack.RedisURL, db),
		"CHUTE_BACKENDS_MAIN_PROVIDER":   "versitygw",
		"CHUTE_BACKENDS_MAIN_ENDPOINT":   stack.S3Endpoint,
		"CHUTE_BACKENDS_MAIN_REGION":     stack.Region,
		"CHUTE_BACKENDS_MAIN_BUCKET":     s.Bucket,
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY": stack.AccessKey,
		"CHUTE_BACKENDS_MAIN_SECRET_KEY": stack.SecretKey,
		"CHUTE_BACKENDS_MAIN_PATH_STYLE": "true",
		"CHUTE_LOG_FORMAT":               "json",
	}
	for k, v := range s.Env {
		env[k] = v
	}
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load("", environ)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// redisDB returns url (".../0") with database db instead.
func redisDB(url string, db int) string {
	if n := len(url); n >= 2 && url[n-2:] == "/0" {
		return url[:n-1] + strconv.Itoa(db)
	}
	return url
}

// The stack the process shares: versitygw runs one gateway per process.
var shared struct {
	sync.Mutex
	stack  *embedded.Stack
	dir    string
	users  int
	nextDB int
}

// acquire returns the shared stack, starting it if no Chute uses it, a
// Redis database of its own for the caller, and the function that lets go
// of the stack (stopping it, and removing its data, after the last user).
func acquire(ctx context.Context) (*embedded.Stack, int, func() error, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.stack == nil {
		dir, err := os.MkdirTemp("", "chutetest-inprocess-")
		if err != nil {
			return nil, 0, nil, err
		}
		st, err := embedded.Start(ctx, embedded.Options{
			DataDir: dir,
			Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, 0, nil, fmt.Errorf("embedded stores: %w", err)
		}
		shared.stack, shared.dir, shared.nextDB = st, dir, 0
	}
	shared.users++
	db := shared.nextDB
	shared.nextDB++
	var once sync.Once
	var err error
	release := func() error {
		once.Do(func() {
			shared.Lock()
			defer shared.Unlock()
			shared.users--
			if shared.users > 0 {
				return
			}
			err = shared.stack.Close()
			err = errors.Join(err, os.RemoveAll(shared.dir))
			shared.stack, shared.dir = nil, ""
		})
		return err
	}
	return shared.stack, db, release, nil
}

// ensureBucket creates bucket in the shared store unless it exists.
func ensureBucket(ctx context.Context, st *embedded.Stack, bucket string) error {
	mc, err := minio.New(st.S3Endpoint[len("http://"):], &minio.Options{
		Creds:        credentials.NewStaticV4(st.AccessKey, st.SecretKey, ""),
		Region:       st.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return fmt.Errorf("store client: %w", err)
	}
	err = mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: st.Region})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil
	}
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", bucket, err)
	}
	return nil
}

// logBuffer keeps what the broker logs, for Logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
