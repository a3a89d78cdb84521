package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/sessions"
)

const gcSynopsis = `List the incomplete multipart uploads in each backend's bucket that no live
Chute session knows and that were started longer ago than --older-than; with
--apply, abort them. Dry run by default: nothing is changed without --apply.

A session is live while it is pending, uploading or completing; the uploads of
sessions that ended (completed, aborted, expired) or that Redis no longer
holds are orphans. The sessions are read with SCAN MATCH <prefix>:{*}:s over
the whole Redis (a maintenance command: it reads every key), after the store
listing, so an upload created during the run is protected by --older-than.
The janitor (janitor.enabled) ends expired sessions on its own; gc is for what
it cannot see: uploads left after a Redis loss, a crash between the store and
Redis, or an abort the store refused. Keep --older-than above sessions.ttl.

Output: one line per orphan (backend, key, upload id, initiated, age), then a
summary line.

Exit codes: 0 done (orphans listed, or aborted with --apply; also when there
are none), 1 failure (config, Redis, a store listing, or an abort failed:
the others are still tried), 2 wrong command line.`

func cmdGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gc --config FILE [--backend NAME] [--older-than 48h] [--prefix P] [--apply]", gcSynopsis, stdout, stderr)
	path := fs.String("config", "", "YAML config file (default $CHUTE_CONFIG; the same as chute serve's)")
	only := fs.String("backend", "", "only this backend (default: every backend of the config)")
	olderThan := fs.Duration("older-than", 48*time.Hour, "only uploads initiated longer ago than this")
	prefix := fs.String("prefix", "", "only uploads whose key starts with this")
	apply := fs.Bool("apply", false, "abort the orphaned uploads (default: only list them)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *olderThan < 0 {
		return usageError{"--older-than must not be negative"}
	}
	cfg, err := config.Load(configPath(*path), os.Environ())
	if err != nil {
		return err
	}
	if cfg.Sessions.RedisURL == "" {
		return errors.New("sessions.redis_url is empty: gc needs the Redis of the sessions to know which uploads are live")
	}
	names := make([]string, 0, len(cfg.Backends))
	for n := range cfg.Backends {
		if *only == "" || n == *only {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		if *only != "" {
			return usageError{fmt.Sprintf("--backend %q is not a backend of the config", *only)}
		}
		return errors.New("no backends configured")
	}
	sort.Strings(names)

	ropts, err := redis.ParseURL(cfg.Sessions.RedisURL)
	if err != nil {
		return fmt.Errorf("sessions.redis_url: %s", redactedURLError(err))
	}
	rc := redis.NewClient(ropts)
	defer func() { _ = rc.Close() }()
	rs := sessions.NewRedisStore(rc, sessions.WithKeyPrefix(cfg.Sessions.KeyPrefix))

	// The store listings first, then the sessions: an upload whose session
	// is created meanwhile is then seen with it.
	type listed struct {
		backend string
		store   *backends.S3
		uploads []backends.Upload
	}
	var lists []listed
	var failed []error
	for _, name := range names {
		s3, err := gcBackend(name, cfg.Backends[name])
		if err != nil {
			return fmt.Errorf("backends.%s: %w", name, err)
		}
		ups, err := s3.ListUploads(ctx, *prefix)
		if err != nil {
			failed = append(failed, fmt.Errorf("backend %s: %w", name, err))
			continue
		}
		lists = append(lists, listed{backend: name, store: s3, uploads: ups})
	}
	live := map[string]bool{} // upload ids of live sessions, in any backend
	if err := rs.ScanUploads(ctx, func(k sessions.KnownUpload) {
		switch k.State {
		case sessions.StateCompleted, sessions.StateAborted, sessions.StateExpired:
		default:
			if k.UploadID != "" {
				live[k.UploadID] = true
			}
		}
	}); err != nil {
		return fmt.Errorf("read sessions: %w", err)
	}

	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	found, aborted := 0, 0
	for _, l := range lists {
		for _, u := range l.uploads {
			age := now.Sub(u.Initiated)
			if live[u.UploadID] || age < *olderThan {
				continue
			}
			found++
			status := "orphan"
			if *apply {
				actx, cancel := context.WithTimeout(ctx, time.Minute)
				err := l.store.AbortMultipart(actx, u.Key, u.UploadID)
				cancel()
				switch {
				case err == nil || errors.Is(err, backends.ErrNotFound):
					status = "aborted"
					aborted++
				default:
					status = "abort failed"
					failed = append(failed, fmt.Errorf("abort %s in backend %s: %w", u.Key, l.backend, err))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.backend, u.Key, u.UploadID,
				u.Initiated.UTC().Format(time.RFC3339), age.Truncate(time.Second), status)
		}
	}
	_ = tw.Flush()
	switch {
	case *apply:
		fmt.Fprintf(stdout, "%d orphaned uploads older than %v: %d aborted\n", found, *olderThan, aborted)
	default:
		fmt.Fprintf(stdout, "%d orphaned uploads older than %v (dry run: pass --apply to abort them)\n", found, *olderThan)
	}
	if len(failed) > 0 {
		for _, err := range failed {
			fmt.Fprintf(stderr, "chute gc: %v\n", err)
		}
		return fmt.Errorf("%d failures", len(failed))
	}
	return nil
}

// gcBackend is the store adapter of one backend, as chute serve builds it.
func gcBackend(name string, b config.Backend) (*backends.S3, error) {
	return backends.NewS3(backendConfig(name, b))
}
