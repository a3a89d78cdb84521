package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chute-dev/chute/broker/auth"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/embedded"
)

func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("CHUTE_CONFIG")
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve --config FILE", "Serve the broker against the Redis and S3-compatible stores of the config file.\nEvery key can be overridden by a CHUTE_* environment variable.", stdout, stderr)
	path := fs.String("config", "", "YAML config file (default $CHUTE_CONFIG; see config.example.yaml)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(configPath(*path), os.Environ())
	if err != nil {
		return err
	}
	if len(cfg.Backends) == 0 {
		return fmt.Errorf("no backends configured: add a backends section (see config.example.yaml) or use `chute dev`")
	}
	log := newLogger(cfg.Log.Format, cfg.Log.Level)
	st, err := wire(cfg, log)
	if err != nil {
		return err
	}
	return st.run(ctx, func(addr string) {
		log.Info("chute serving", "version", versionString(), "listen", addr, "public_url", cfg.Server.PublicURL,
			"auth", cfg.Auth.Mode, "backends", len(cfg.Backends), "profiles", len(cfg.Profiles))
	})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", "Run Chute with everything embedded: an in-process session store (miniredis)\nand an S3-compatible store (versitygw) on loopback, objects under --data.\nNo Redis, no S3 and no config needed. Auth is off: for local development only.", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the Chute API")
	s3Listen := fs.String("s3-listen", "127.0.0.1:0", "address of the embedded S3 store (port 0 picks a free one)")
	data := fs.String("data", envOr("CHUTE_DATA_DIR", "chute-data"), "folder for the stored objects")
	jwtSecret := fs.String("jwt-secret", "", "turn auth on: accept HS256 tokens signed with this secret (see `chute token`)")
	s3Key := fs.String("s3-access-key", "", "access key of the embedded S3 store (default: random)")
	s3Secret := fs.String("s3-secret-key", "", "secret key of the embedded S3 store (default: random)")
	unsafeNoAuth := fs.Bool("unsafe-no-auth", false, "allow --listen on a non-loopback address without --jwt-secret (anyone who reaches it may upload)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *jwtSecret == "" && !*unsafeNoAuth && !config.LoopbackListen(*listen) {
		return fmt.Errorf("--listen %s is not a loopback address and auth is off: anyone who reaches it could upload; pass --jwt-secret, or --unsafe-no-auth to accept that", *listen)
	}
	dir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	log := newLogger("text", "info")
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	emb, err := embedded.Start(startCtx, embedded.Options{
		DataDir: dir, S3Listen: *s3Listen, AccessKey: *s3Key, SecretKey: *s3Secret, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("embedded stack: %w", err)
	}
	defer emb.Close()

	cfg := config.Default()
	cfg.Server.Listen = *listen
	cfg.Server.PublicURL = "http://" + *listen
	cfg.Sessions.RedisURL = emb.RedisURL
	cfg.Backends = map[string]config.Backend{"main": {
		Provider: "versitygw", Endpoint: emb.S3Endpoint, Region: emb.Region, Bucket: emb.Bucket,
		AccessKey: emb.AccessKey, SecretKey: emb.SecretKey, PathStyle: new(true),
		Timeout: config.Duration(30 * time.Second),
	}}
	cfg.Auth.AllowInsecureNone = *unsafeNoAuth
	authNote := "auth off"
	if *jwtSecret != "" {
		cfg.Auth.Mode = config.AuthJWT
		cfg.Auth.JWT.Secret = *jwtSecret
		authNote = "auth: HS256 JWT"
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, err := wire(&cfg, log)
	if err != nil {
		return err
	}
	return st.run(ctx, func(addr string) {
		fmt.Fprintf(stdout, `Chute %s (dev mode: embedded stores, %s)
  demo page  http://%s/
  API        http://%s/v1
  health     http://%s/healthz
  S3 store   %s  bucket %q
  data       %s
Stop with Ctrl-C.
`, versionString(), authNote, addr, addr, addr, emb.S3Endpoint, emb.Bucket, emb.DataDir)
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "print" && args[0] != "check") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprint(stdout, "Usage: chute config print|check [--config FILE]\n\n  print  the effective configuration (file + CHUTE_* environment), secrets redacted\n  check  validate it and exit 0, or list every problem and exit 1\n")
			return nil
		}
		return usageError{"use `chute config print` or `chute config check`"}
	}
	sub := args[0]
	fs := newFlags("config "+sub+" [--config FILE]", "Load the configuration (file, then CHUTE_* environment) and "+sub+" it.", stdout, stderr)
	path := fs.String("config", "", "YAML config file (default $CHUTE_CONFIG)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if sub == "check" {
		if _, err := config.Load(configPath(*path), os.Environ()); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "configuration is valid")
		return nil
	}
	// print shows the configuration even when it could not run yet (no
	// file at all: the defaults), and says so on stderr.
	cfg, err := config.LoadUnchecked(configPath(*path), os.Environ())
	if err != nil {
		return err
	}
	red := cfg.Redacted()
	out, err := red.YAML()
	if err != nil {
		return err
	}
	if _, err := stdout.Write(out); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "chute config print: not valid for chute serve yet (chute config check lists why): %v\n", err)
	}
	return nil
}

func cmdToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token --secret SECRET --sub SUBJECT", "Mint an HS256 JWT for auth.mode jwt (development and tests).", stdout, stderr)
	secret := fs.String("secret", os.Getenv("CHUTE_AUTH_JWT_SECRET"), "HS256 secret (default $CHUTE_AUTH_JWT_SECRET)")
	sub := fs.String("sub", "", "subject (owner of the uploads)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	iss := fs.String("iss", "", "issuer claim")
	aud := fs.String("aud", "", "audience claim")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secret == "" || *sub == "" {
		return usageError{"--secret and --sub are required"}
	}
	tok, err := auth.SignHS256(*secret, *sub, *ttl, *iss, *aud)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
