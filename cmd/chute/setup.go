package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/doctor"
	"github.com/chute-dev/chute/internal/wiring"
)

const setupHelp = `Prepare the buckets of the config file's object stores for Chute:

  bucket     create it (in the backend's region) when it is missing
  cors       add a rule letting browsers from server.cors_origins GET, PUT
             and HEAD (POST too where the store takes POST policy uploads),
             send any header and read ETag, unless a rule already does
  lifecycle  add a rule aborting incomplete multipart uploads after
             --abort-after days, unless an enabled rule already does

Rules already on the bucket are kept (setup-bucket only appends), so it is
safe to run at every start, as deploy/compose.yaml does. A store that does
not implement CORS or lifecycle rules gives a warning. Check the result with
chute doctor. No secret is printed.

Exit status: 0 when nothing failed (warnings allowed), 1 when a step
failed, 2 for a wrong command line or an invalid config.`

func cmdSetupBucket(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("setup-bucket --config FILE [--backend NAME]", setupHelp, stdout, stderr)
	path := fs.String("config", "", "YAML config file (default $CHUTE_CONFIG; CHUTE_* variables apply)")
	only := fs.String("backend", "", "prepare only this backend (default: every backend)")
	abortAfter := fs.Int("abort-after", 7, "days after which the lifecycle rule aborts an incomplete multipart upload")
	wait := fs.Duration("wait", 0, "keep trying this long while a store can't be reached (a container still starting)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *abortAfter < 1 {
		return usageError{"--abort-after must be at least 1 (day)"}
	}
	cfg, err := config.Load(configPath(*path), os.Environ())
	if err != nil {
		return usageError{err.Error()}
	}
	if len(cfg.Backends) == 0 {
		return usageError{"no backends configured: add a backends section (see config.example.yaml)"}
	}
	// The rule must not abort uploads Chute still tracks.
	if keep := time.Duration(cfg.Sessions.TTL) + time.Duration(cfg.Sessions.Retention); time.Duration(*abortAfter)*24*time.Hour <= keep {
		return usageError{fmt.Sprintf("--abort-after %d days is not longer than sessions.ttl + sessions.retention (%s): the store would abort uploads Chute still tracks", *abortAfter, keep)}
	}
	names, err := backendNames(cfg, *only)
	if err != nil {
		return err
	}
	failed := 0
	for i, name := range names {
		b := cfg.Backends[name]
		preset, _ := backends.LookupPreset(b.Provider) // validated by Load
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		rep := doctor.Setup(ctx, doctor.SetupOptions{
			Backend: wiring.Backend(name, b), CORSOrigins: cfg.Server.CORSOrigins,
			AbortAfterDays: *abortAfter, Wait: *wait,
		})
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
