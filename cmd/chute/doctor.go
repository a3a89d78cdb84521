package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/doctor"
	"github.com/chute-dev/chute/internal/wiring"
)

const doctorHelp = `Check that the object stores of the config file are set up the way Chute
needs them, with real calls to each store:

  credentials    a signed listing of at most one key is accepted
  bucket         the bucket exists
  cors           a CORS rule allows PUT from server.cors_origins and exposes ETag;
                 without bucket rules, a browser's preflight and PUT are tried
                 (stores with a store-wide CORS setting, as chute dev's)
  lifecycle      a rule aborts incomplete multipart uploads (a warning if not)
  presigned put  a presigned PUT of a few bytes, HEAD, GET and delete work
  signed length  a body longer than the signed Content-Length is refused
  multipart      create, presigned part PUT, complete and delete work

The test objects live under chute-doctor/ and are deleted again. Each line
is marked ✓ (passed), ! (warning: works, but see the fix) or ✗ (failed), and
every warning and failure says how to fix it. A store that does not
implement a call (CORS or lifecycle on some gateways) gives a warning.
No secret and no presigned URL is printed.

Exit status: 0 when nothing failed (warnings allowed), 1 when a check
failed, 2 for a wrong command line or an invalid config.`

// errChecksFailed makes run exit 1 after doctor printed its report.
type errChecksFailed int

func (e errChecksFailed) Error() string {
	if e == 1 {
		return "1 check failed"
	}
	return fmt.Sprintf("%d checks failed", int(e))
}

func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor --config FILE [--backend NAME]", doctorHelp, stdout, stderr)
	path := fs.String("config", "", "YAML config file (default $CHUTE_CONFIG; CHUTE_* variables apply)")
	only := fs.String("backend", "", "check only this backend (default: every backend)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(configPath(*path), os.Environ())
	if err != nil {
		return usageError{err.Error()}
	}
	if len(cfg.Backends) == 0 {
		return usageError{"no backends configured: add a backends section (see config.example.yaml)"}
	}
	names, err := backendNames(cfg, *only)
	if err != nil {
		return err
	}
	failed := 0
	for i, name := range names {
		b := cfg.Backends[name]
		bc := wiring.Backend(name, b)
		preset, _ := backends.LookupPreset(b.Provider) // validated by Load
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		rep := doctor.Run(ctx, doctor.Options{Backend: bc, CORSOrigins: cfg.Server.CORSOrigins, SessionTTL: time.Duration(cfg.Sessions.TTL)})
		rep.Write(stdout, fmt.Sprintf("backend %s (%s, bucket %s at %s)", name, preset.Title, b.Bucket, b.Endpoint))
		for _, r := range rep.Results {
			if r.Status == doctor.Fail {
				failed++
			}
		}
	}
	if failed > 0 {
		return errChecksFailed(failed)
	}
	return nil
}

// backendNames lists the configured backends in order, or only the one
// --backend names (a usage error when it is not configured).
func backendNames(cfg *config.Config, only string) ([]string, error) {
	names := make([]string, 0, len(cfg.Backends))
	for name := range cfg.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	if only != "" {
		if _, ok := cfg.Backends[only]; !ok {
			return nil, usageError{fmt.Sprintf("--backend %q is not a configured backend (have: %v)", only, names)}
		}
		names = []string{only}
	}
	return names, nil
}
