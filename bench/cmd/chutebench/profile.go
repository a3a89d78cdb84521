package main

import (
	"bufio"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/broker/httpapi"
	"github.com/chute-dev/chute/internal/jsonlog"
	"github.com/chute-dev/chute/sessions"
)

// serveProfile runs the broker wired as `chute serve` wires it (Redis
// session store, S3 adapter, HS256 JWT, the Fiber HTTP layer with its
// JSON access log) in this process, with a CPU profile written to
// -cpuprofile when it gets SIGTERM. The suite uses it to explain where
// sign-part time goes.
func serveProfile(args []string) error {
	fs := flag.NewFlagSet("serve-profile", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	redisAddr := fs.String("redis", "", "redis host:port")
	endpoint := fs.String("endpoint", "", "store URL")
	out := fs.String("cpuprofile", "cpu.pprof", "CPU profile file")
	logFile := fs.String("log", os.DevNull, "access log file")
	_ = fs.Parse(args)

	lf, err := os.Create(*logFile)
	if err != nil {
		return err
	}
	defer lf.Close()
	// As chute serve logs (cmd/chute/logbuf.go): lines written in batches
	// at least every 50 ms, and at the end.
	lw := &batchWriter{w: bufio.NewWriterSize(lf, 64<<10)}
	defer lw.flush()
	stopFlush := make(chan struct{})
	defer close(stopFlush)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				lw.flush()
			case <-stopFlush:
				return
			}
		}
	}()
	log := slog.New(jsonlog.New(lw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Pool as chute serve sets it (cmd/chute/wire.go).
	rc := redis.NewClient(&redis.Options{Addr: *redisAddr, DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, PoolSize: 64})
	s3, err := backends.NewS3(backends.Config{Name: "main", Endpoint: *endpoint, Region: region, Bucket: benchBucket,
		AccessKey: benchAK, SecretKey: benchSK, PathStyle: true})
	if err != nil {
		return err
	}
	svc, err := broker.New(broker.Config{
		Profiles: map[string]broker.Profile{"default": {Name: "default", Backend: "main", MaxSize: 5 << 30, PartSize: 16 << 20,
			SingleMax: 16 << 20, AllowedTypes: []string{"*/*"}, URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}"}},
		Backends: map[string]broker.ObjectStore{"main": s3},
		Sessions: sessions.NewRedisStore(rc, sessions.WithKeyPrefix("chute")),
		TTL:      24 * time.Hour,
		Logger:   log,
	})
	if err != nil {
		return err
	}
	authn, err := auth.NewJWT(auth.JWTConfig{Secret: jwtSecret})
	if err != nil {
		return err
	}
	srv := httpapi.New(svc, authn, httpapi.Options{Logger: log})

	pf, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		return err
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.App().Shutdown()
	}()
	err = srv.App().Listen(*addr)
	pprof.StopCPUProfile()
	pf.Close()
	return err
}

// batchWriter is a bufio.Writer safe for concurrent use.
type batchWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *batchWriter) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}
