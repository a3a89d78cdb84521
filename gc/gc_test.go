package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

// fakeStore is an in-memory bucket of unfinished uploads.
type fakeStore struct {
	mu       sync.Mutex
	uploads  []Upload
	listErr  error
	abortErr map[string]error // by upload id
	aborted  []string
	prefixes []string
}

func (f *fakeStore) ListUploads(_ context.Context, prefix string) ([]Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prefixes = append(f.prefixes, prefix)
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []Upload
	for _, u := range f.uploads {
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeStore) AbortUpload(ctx context.Context, key, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("abort without a deadline")
	}
	if err := f.abortErr[id]; err != nil {
		return err
	}
	f.aborted = append(f.aborted, key+" "+id)
	return nil
}

// fakeSessions is a session store's scan.
type fakeSessions struct {
	known []sessions.KnownUpload
	err   error
	// onScan runs before the scan (to create a session "meanwhile").
	onScan func()
}

func (f *fakeSessions) ScanUploads(_ context.Context, fn func(sessions.KnownUpload)) error {
	if f.onScan != nil {
		f.onScan()
	}
	for _, k := range f.known {
		fn(k)
	}
	return f.err
}

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func up(key, id string, age time.Duration) Upload {
	return Upload{Key: key, UploadID: id, Initiated: now.Add(-age)}
}

func keys(os []Orphan) []string {
	var out []string
	for _, o := range os {
		out = append(out, fmt.Sprintf("%s:%s:%s", o.Backend, o.UploadID, o.Status))
	}
	return out
}

func TestRunFindsOrphans(t *testing.T) {
	old := 72 * time.Hour
	main := &fakeStore{uploads: []Upload{
		up("a/live-pending", "u1", old),
		up("a/live-uploading", "u2", old),
		up("a/live-completing", "u3", old),
		up("a/completed", "u4", old),
		up("a/aborted", "u5", old),
		up("a/expired", "u6", old),
		up("a/rejected", "u10", old),
		up("a/unknown-to-redis", "u7", old),
		up("a/young", "u8", time.Hour),
		up("b/future-state", "u9", old),
	}}
	ss := &fakeSessions{known: []sessions.KnownUpload{
		{ID: "upl_1", UploadID: "u1", State: sessions.StatePending},
		{ID: "upl_2", UploadID: "u2", State: sessions.StateUploading},
		{ID: "upl_3", UploadID: "u3", State: sessions.StateCompleting},
		{ID: "upl_4", UploadID: "u4", State: sessions.StateCompleted},
		{ID: "upl_5", UploadID: "u5", State: sessions.StateAborted},
		{ID: "upl_6", UploadID: "u6", State: sessions.StateExpired},
		{ID: "upl_10", UploadID: "u10", State: sessions.StateRejected},
		{ID: "upl_9", UploadID: "u9", State: "paused"}, // a state this gc does not know: live
		{ID: "upl_s", UploadID: "", State: sessions.StatePending},
	}}
	res, err := Run(context.Background(), []Backend{{"main", main}}, ss, Options{OlderThan: 48 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"main:u4:orphan", "main:u5:orphan", "main:u6:orphan", "main:u10:orphan", "main:u7:orphan"}
	if got := keys(res.Orphans); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("orphans %v, want %v", got, want)
	}
	if res.Orphans[0].Age != old || res.Orphans[0].Key != "a/completed" {
		t.Fatalf("first orphan %+v", res.Orphans[0])
	}
	if len(main.aborted) != 0 || res.Aborted != 0 || len(res.Failures) != 0 {
		t.Fatalf("a dry run aborted %v (%d), failures %v", main.aborted, res.Aborted, res.Failures)
	}

	// OlderThan 0: the young upload is an orphan too.
	res, err = Run(context.Background(), []Backend{{"main", main}}, ss, Options{Now: func() time.Time { return now }})
	if err != nil || len(res.Orphans) != 6 || res.Orphans[5].UploadID != "u8" {
		t.Fatalf("OlderThan 0: %v %v", keys(res.Orphans), err)
	}
}

func TestRunApply(t *testing.T) {
	old := 72 * time.Hour
	refused := errors.New("AccessDenied")
	main := &fakeStore{uploads: []Upload{up("k1", "u1", old), up("k2", "u2", old), up("k3", "u3", old)},
		abortErr: map[string]error{"u2": refused, "u3": fmt.Errorf("abort: %w", ErrGone)}}
	other := &fakeStore{uploads: []Upload{up("k4", "u4", old), up("k5", "live", old)}}
	ss := &fakeSessions{known: []sessions.KnownUpload{{UploadID: "live", State: sessions.StateUploading}}}
	res, err := Run(context.Background(), []Backend{{"main", main}, {"other", other}}, ss, Options{OlderThan: time.Hour, Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"main:u1:aborted", "main:u2:abort failed", "main:u3:aborted", "other:u4:aborted"}
	if got := keys(res.Orphans); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("orphans %v, want %v", got, want)
	}
	if res.Aborted != 3 {
		t.Fatalf("aborted %d, want 3", res.Aborted)
	}
	if len(res.Failures) != 1 || !errors.Is(res.Failures[0], refused) || !strings.Contains(res.Failures[0].Error(), "k2") {
		t.Fatalf("failures %v", res.Failures)
	}
	if fmt.Sprint(main.aborted) != "[k1 u1]" || fmt.Sprint(other.aborted) != "[k4 u4]" {
		t.Fatalf("aborted in the stores: %v %v", main.aborted, other.aborted)
	}
}

func TestRunListingFailureSkipsOnlyThatBackend(t *testing.T) {
	broken := &fakeStore{listErr: errors.New("connection refused")}
	ok := &fakeStore{uploads: []Upload{up("k", "u", 72*time.Hour)}}
	res, err := Run(context.Background(), []Backend{{"broken", broken}, {"ok", ok}}, &fakeSessions{}, Options{Prefix: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys(res.Orphans)) != "[ok:u:orphan]" || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Error(), "backend broken") {
		t.Fatalf("%v %v", keys(res.Orphans), res.Failures)
	}
	if fmt.Sprint(broken.prefixes, ok.prefixes) != "[k] [k]" {
		t.Fatalf("prefixes passed: %v %v", broken.prefixes, ok.prefixes)
	}
}

func TestRunSessionsUnreadableAbortsNothing(t *testing.T) {
	main := &fakeStore{uploads: []Upload{up("k", "u", 72*time.Hour)}}
	down := errors.New("redis: connection refused")
	_, err := Run(context.Background(), []Backend{{"main", main}}, &fakeSessions{err: down}, Options{Apply: true})
	if !errors.Is(err, down) || !strings.Contains(err.Error(), "read sessions") {
		t.Fatalf("err %v", err)
	}
	if len(main.aborted) != 0 {
		t.Fatalf("aborted %v although the sessions could not be read", main.aborted)
	}
}

// The stores are listed before the sessions are read: an upload whose
// session appears between the two is protected.
func TestRunListsStoresBeforeSessions(t *testing.T) {
	main := &fakeStore{}
	ss := &fakeSessions{}
	ss.onScan = func() {
		main.uploads = append(main.uploads, up("late", "u-late", 72*time.Hour))
		ss.known = append(ss.known, sessions.KnownUpload{UploadID: "u-early", State: sessions.StatePending})
	}
	main.uploads = []Upload{up("early", "u-early", 72*time.Hour)}
	res, err := Run(context.Background(), []Backend{{"main", main}}, ss, Options{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Orphans) != 0 || len(main.aborted) != 0 {
		t.Fatalf("orphans %v, aborted %v", keys(res.Orphans), main.aborted)
	}
}

func TestRunRejectsNegativeAge(t *testing.T) {
	if _, err := Run(context.Background(), nil, &fakeSessions{}, Options{OlderThan: -time.Second}); err == nil {
		t.Fatal("negative OlderThan accepted")
	}
}
