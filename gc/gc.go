// Package gc finds the orphaned multipart uploads of Chute's object stores
// and, when asked, aborts them: the logic behind `chute gc`.
//
// An upload is an orphan when no live session knows its upload id and it
// was initiated longer ago than Options.OlderThan. A session is live while
// it is pending, uploading or completing (or in a state this package does
// not know, to be safe); the uploads of sessions that ended (completed,
// aborted, expired) or that the session store no longer holds are
// orphans.
//
// Run lists every store first and reads the sessions afterwards, so an
// upload whose session is created during the run is seen with its
// session; an upload created after the listing is not looked at at all.
// OlderThan protects the uploads whose sessions are being created while
// the store is listed.
//
// The package talks to its stores and to the session store through the
// small interfaces below; cmd/chute adapts the S3 adapter and the Redis
// session store to them. It needs permission to list multipart uploads
// and, with Options.Apply, to abort them.
package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chute-dev/chute/sessions"
)

// Upload is an unfinished multipart upload in a store.
type Upload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// Store is one backend's bucket: the uploads it holds, and how to end one.
type Store interface {
	// ListUploads returns the unfinished multipart uploads whose keys
	// start with prefix.
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)
	// AbortUpload aborts one upload. An upload the store no longer
	// knows is not an error: the adapter returns nil (or an error
	// wrapping ErrGone).
	AbortUpload(ctx context.Context, key, uploadID string) error
}

// ErrGone may be wrapped by Store.AbortUpload for an upload that the
// store no longer knows; it counts as aborted.
var ErrGone = errors.New("upload is gone")

// Sessions reads every session the session store holds.
// *sessions.RedisStore implements it.
type Sessions interface {
	ScanUploads(ctx context.Context, fn func(sessions.KnownUpload)) error
}

// Backend is a named store.
type Backend struct {
	Name  string
	Store Store
}

// Options are the settings of one run.
type Options struct {
	// OlderThan: only uploads initiated longer ago than this are
	// orphans. Zero means every upload no live session knows.
	OlderThan time.Duration
	// Prefix: only uploads whose keys start with it are looked at.
	Prefix string
	// Apply aborts the orphans; without it Run only lists them.
	Apply bool
	// AbortTimeout bounds each abort (default one minute).
	AbortTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Status is what happened to an orphan.
type Status string

// The statuses of an orphan.
const (
	StatusOrphan      Status = "orphan"       // listed only (dry run)
	StatusAborted     Status = "aborted"      // aborted, or already gone
	StatusAbortFailed Status = "abort failed" // the store refused the abort
)

// Orphan is an upload no live session knows.
type Orphan struct {
	Backend string
	Upload
	// Age is how long ago the upload was initiated, at the time of the run.
	Age    time.Duration
	Status Status
}

// Result is the outcome of a run.
type Result struct {
	// Orphans in the order of the backends given to Run, then the order
	// each store listed them.
	Orphans []Orphan
	// Aborted counts the orphans whose status is StatusAborted.
	Aborted int
	// Failures are the store listings and aborts that failed; the other
	// backends and orphans were still handled.
	Failures []error
}

// Run lists the orphaned uploads of the backends (aborting them with
// opts.Apply). A store whose listing fails is reported in
// Result.Failures and skipped. An error is returned only when the
// sessions cannot be read: then no upload can be told live or orphaned,
// and nothing is aborted.
func Run(ctx context.Context, bs []Backend, ss Sessions, opts Options) (Result, error) {
	if opts.OlderThan < 0 {
		return Result{}, errors.New("gc: OlderThan must not be negative")
	}
	if opts.AbortTimeout <= 0 {
		opts.AbortTimeout = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var res Result

	// The store listings first, then the sessions: an upload whose
	// session is created meanwhile is then seen with it.
	type listed struct {
		Backend
		uploads []Upload
	}
	lists := make([]listed, 0, len(bs))
	for _, b := range bs {
		ups, err := b.Store.ListUploads(ctx, opts.Prefix)
		if err != nil {
			res.Failures = append(res.Failures, fmt.Errorf("backend %s: %w", b.Name, err))
			continue
		}
		lists = append(lists, listed{Backend: b, uploads: ups})
	}
	live, err := LiveUploads(ctx, ss)
	if err != nil {
		return res, err
	}

	now := opts.Now()
	for _, l := range lists {
		for _, u := range l.uploads {
			age := now.Sub(u.Initiated)
			if live[u.UploadID] || age < opts.OlderThan {
				continue
			}
			o := Orphan{Backend: l.Name, Upload: u, Age: age, Status: StatusOrphan}
			if opts.Apply {
				actx, cancel := context.WithTimeout(ctx, opts.AbortTimeout)
				err := l.Store.AbortUpload(actx, u.Key, u.UploadID)
				cancel()
				if err == nil || errors.Is(err, ErrGone) {
					o.Status = StatusAborted
					res.Aborted++
				} else {
					o.Status = StatusAbortFailed
					res.Failures = append(res.Failures, fmt.Errorf("abort %s in backend %s: %w", u.Key, l.Name, err))
				}
			}
			res.Orphans = append(res.Orphans, o)
		}
	}
	return res, nil
}

// LiveUploads returns the upload ids of the live sessions in ss.
func LiveUploads(ctx context.Context, ss Sessions) (map[string]bool, error) {
	live := map[string]bool{}
	err := ss.ScanUploads(ctx, func(k sessions.KnownUpload) {
		if k.UploadID != "" && Live(k.State) {
			live[k.UploadID] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	return live, nil
}

// Live reports whether a session in state s may still use its upload:
// every state but the terminal ones (sessions.State.Terminal: completed,
// aborted, expired, rejected); an unknown state counts as live, so that gc
// never aborts what a newer Chute uses.
func Live(s sessions.State) bool {
	return !s.Terminal()
}
