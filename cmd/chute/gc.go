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

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/gc"
	"github.com/chute-dev/chute/internal/wiring"
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
	if cfg.Sessions.RedisMode() == config.RedisModeNone {
		return errors.New("sessions.redis_url is empty: gc needs the Redis of the sessions to know which uploads are live (set sessions.redis_url, sessions.redis_cluster or sessions.redis_sentinel)")
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
	var bs []gc.Backend
	for _, name := range names {
		s3, err := backends.NewS3(wiring.Backend(name, cfg.Backends[name]))
		if err != nil {
			return fmt.Errorf("backends.%s: %w", name, err)
		}
		bs = append(bs, gc.Backend{Name: name, Store: gcStore{s3}})
	}

	// The same Redis client as chute serve's: any Redis mode, with its
	// timeouts.
	rc, err := newRedis(cfg.Sessions)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	rs := sessions.NewRedisStore(rc, sessions.WithKeyPrefix(cfg.Sessions.KeyPrefix))

	res, err := gc.Run(ctx, bs, rs, gc.Options{OlderThan: *olderThan, Prefix: *prefix, Apply: *apply})
	if err != nil {
		for _, f := range res.Failures {
			fmt.Fprintf(stderr, "chute gc: %v\n", f)
		}
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, o := range res.Orphans {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Backend, o.Key, o.UploadID,
			o.Initiated.UTC().Format(time.RFC3339), o.Age.Truncate(time.Second), o.Status)
	}
	_ = tw.Flush()
	switch {
	case *apply:
		fmt.Fprintf(stdout, "%d orphaned uploads older than %v: %d aborted\n", len(res.Orphans), *olderThan, res.Aborted)
	default:
		fmt.Fprintf(stdout, "%d orphaned uploads older than %v (dry run: pass --apply to abort them)\n", len(res.Orphans), *olderThan)
	}
	if len(res.Failures) > 0 {
		for _, err := range res.Failures {
			fmt.Fprintf(stderr, "chute gc: %v\n", err)
		}
		return fmt.Errorf("%d failures", len(res.Failures))
	}
	return nil
}

// gcStore adapts the S3 adapter to gc.Store.
type gcStore struct{ s3 *backends.S3 }

func (g gcStore) ListUploads(ctx context.Context, prefix string) ([]gc.Upload, error) {
	ups, err := g.s3.ListUploads(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]gc.Upload, len(ups))
	for i, u := range ups {
		out[i] = gc.Upload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated}
	}
	return out, nil
}

func (g gcStore) AbortUpload(ctx context.Context, key, uploadID string) error {
	err := g.s3.AbortMultipart(ctx, key, uploadID)
	if errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("%w: %w", gc.ErrGone, err)
	}
	return err
}
