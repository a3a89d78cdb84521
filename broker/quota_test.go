package broker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
	"github.com/chute-dev/chute/sessions"
)

// fakeQuotas keeps reservations and settled bytes in memory, with open
// limits only (the Redis implementation is tested in package sessions).
type fakeQuotas struct {
	mu       sync.Mutex
	open     map[string]map[string]int64 // scope -> id -> bytes
	settled  map[string]int64            // scope -> bytes
	released []string
}

func newFakeQuotas() *fakeQuotas {
	return &fakeQuotas{open: map[string]map[string]int64{}, settled: map[string]int64{}}
}

func (f *fakeQuotas) used(scope string) int64 {
	var n int64
	for _, b := range f.open[scope] {
		n += b
	}
	return n
}

func (f *fakeQuotas) Reserve(_ context.Context, _, id string, bytes int64, _ time.Time, limits []QuotaLimit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range limits {
		if u := f.used(l.Scope); l.OpenBytes > 0 && u+bytes > l.OpenBytes {
			return &QuotaExceeded{Scope: l.Scope, Quota: QuotaOpenBytes, Limit: l.OpenBytes, Used: u}
		}
	}
	for _, l := range limits {
		if f.open[l.Scope] == nil {
			f.open[l.Scope] = map[string]int64{}
		}
		f.open[l.Scope][id] = bytes
	}
	return nil
}

func (f *fakeQuotas) Settle(_ context.Context, _, id string, bytes int64, scopes []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sc := range scopes {
		if _, ok := f.open[sc][id]; ok {
			delete(f.open[sc], id)
			f.settled[sc] += bytes
		}
	}
	return nil
}

func (f *fakeQuotas) Release(_ context.Context, _, id string, scopes []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, sc := range scopes {
		delete(f.open[sc], id)
	}
	f.released = append(f.released, id)
	return nil
}

// newQuotaService has a global open quota of 30 MiB and one of 12 MiB
// on profile "video", and a cap of 3 open sessions.
func newQuotaService(t *testing.T) (*Service, *fakeStore, *fakeQuotas) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	fs := newFakeStore()
	fq := newFakeQuotas()
	base := Profile{Backend: "main", MaxSize: 20 * multipart.MiB, PartSize: 5 * multipart.MiB,
		SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"*/*"}, URLTTL: 15 * time.Minute,
		KeyTemplate: "{subject}/{id}{ext}"}
	def, video := base, base
	def.Name, video.Name = "default", "video"
	svc, err := New(Config{
		Profiles:        map[string]Profile{"default": def, "video": video},
		Backends:        map[string]ObjectStore{"main": fs},
		Sessions:        sessions.NewRedisStore(rc),
		TTL:             time.Hour,
		MaxOpenSessions: 3,
		Quotas:          fq,
		QuotaLimits:     []QuotaLimit{{OpenBytes: 30 * multipart.MiB}, {Scope: "video", OpenBytes: 12 * multipart.MiB}, {Scope: "default"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, fs, fq
}

func TestQuotaCreateSettleRelease(t *testing.T) {
	svc, fs, fq := newQuotaService(t)
	ctx := context.Background()
	create := func(profile string, n int64) (*CreateResult, error) {
		return svc.Create(ctx, "alice", CreateRequest{Filename: "a.bin", ContentType: "application/octet-stream", Size: sizeOf(n), Profile: profile})
	}
	a, err := create("video", 1*multipart.MiB)
	if err != nil {
		t.Fatal(err)
	}
	b, err := create("video", 10*multipart.MiB)
	if err != nil {
		t.Fatal(err)
	}
	if fq.used("") != 11*multipart.MiB || fq.used("video") != 11*multipart.MiB {
		t.Fatalf("reserved %d global, %d video; want 11 MiB in both", fq.used(""), fq.used("video"))
	}
	if _, ok := fq.open["default"]; ok {
		t.Errorf("a scope without limits holds reservations")
	}
	uploads := len(fs.uploads)
	_, err = create("video", 2*multipart.MiB)
	wantPolicyCode(t, err, CodeQuotaExceeded, `your profile "video" open_bytes quota is 12582912 bytes (12 MiB); 11534336 bytes (11 MiB) reserved by open uploads; this upload needs 2097152 bytes (2 MiB)`)
	if len(fs.uploads) != uploads {
		t.Errorf("a refused create left a multipart upload in the store")
	}
	// The refusal gave back the open-session slot it had taken: a and b
	// hold two of the cap of 3, so one more create fits.
	if _, err := create("default", 1); err != nil {
		t.Fatalf("create after a quota refusal: %v (its open-session slot was not given back?)", err)
	}

	// The global quota counts every profile.
	_, err = create("default", 19*multipart.MiB)
	wantPolicyCode(t, err, CodeRateLimited, "too many open uploads") // the cap of 3 comes first

	// Complete settles the real size; abort releases.
	fs.putObject(a.Key, 1*multipart.MiB, "application/octet-stream")
	if _, err := svc.Complete(ctx, "alice", a.ID, CompleteRequest{}); err != nil {
		t.Fatal(err)
	}
	if fq.settled["video"] != 1*multipart.MiB || fq.settled[""] != 1*multipart.MiB {
		t.Fatalf("settled %v, want 1 MiB in both scopes", fq.settled)
	}
	if _, err := svc.Abort(ctx, "alice", b.ID); err != nil {
		t.Fatal(err)
	}
	if fq.used("video") != 0 || fq.settled["video"] != 1*multipart.MiB {
		t.Fatalf("after abort: %d reserved, %d settled; want 0 and 1 MiB", fq.used("video"), fq.settled["video"])
	}
	if _, err := create("video", 12*multipart.MiB); err != nil {
		t.Fatalf("create after the quota freed: %v", err)
	}
}

func TestQuotaUnknownSizeReservesMaxSize(t *testing.T) {
	svc, _, fq := newQuotaService(t)
	ctx := context.Background()
	up, err := svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fq.open[""][up.ID]; got != 20*multipart.MiB {
		t.Fatalf("an upload of unknown size reserved %d, want the profile's max_size (20 MiB)", got)
	}
	_, err = svc.CreateOpen(ctx, "alice", OpenRequest{Filename: "b.bin", ContentType: "application/octet-stream", Profile: "video"})
	wantPolicyCode(t, err, CodeQuotaExceeded, "an upload of unknown size reserves the profile's max_size, 20971520 bytes (20 MiB)")
	if err := abortErr(ctx, svc, "alice", up.ID); err != nil {
		t.Fatal(err)
	}
	if fq.used("") != 0 {
		t.Fatalf("%d bytes still reserved after the abort", fq.used(""))
	}
}

func TestQuotaConfigChecked(t *testing.T) {
	profiles := map[string]Profile{"default": {}}
	for _, c := range []struct {
		limits []QuotaLimit
		store  Quotas
		want   string
	}{
		{[]QuotaLimit{{Scope: "nope", OpenBytes: 1}}, newFakeQuotas(), "unknown profile"},
		{[]QuotaLimit{{OpenBytes: 1}, {DailyBytes: 2}}, newFakeQuotas(), "twice"},
		{[]QuotaLimit{{OpenBytes: -1}}, newFakeQuotas(), "negative"},
		{[]QuotaLimit{{OpenBytes: 1}}, nil, "no quota store"},
	} {
		_, err := newQuotaPolicy(c.store, c.limits, profiles)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.limits, err, c.want)
		}
	}
	p, err := newQuotaPolicy(nil, []QuotaLimit{{Scope: "default"}}, profiles)
	if err != nil || p.store != nil {
		t.Errorf("limits of 0 need no store: %+v %v", p, err)
	}
}

func TestRetryAfterOfDailyRefusal(t *testing.T) {
	qe := &QuotaExceeded{Quota: QuotaDailyBytes, Limit: 100, Used: 90, Need: 20, RetryAfter: 1500 * time.Millisecond}
	err := &Error{Code: CodeQuotaExceeded, Message: quotaMessage(qe, false), Err: qe}
	if d := RetryAfter(err); d != 2*time.Second {
		t.Errorf("RetryAfter %v, want 2s (rounded up)", d)
	}
	if !strings.Contains(err.Message, "daily_bytes quota is 100 bytes per rolling day; 90 bytes completed in the last 24 h or reserved by open uploads; this upload needs 20 bytes; retry after 2 s") {
		t.Errorf("message %q", err.Message)
	}
	if RetryAfter(Errorf(CodeRateLimited, "x")) != 0 {
		t.Error("RetryAfter of another error")
	}
}

// TestQuotaReleasedAtExpiry: the janitor's expiry gives the reservation
// back, counting nothing.
func TestQuotaReleasedAtExpiry(t *testing.T) {
	e := newJanitorEnv(t)
	fq := newFakeQuotas()
	svc, err := New(Config{
		Profiles: map[string]Profile{"default": {Name: "default", Backend: "main", MaxSize: 5 * multipart.GiB,
			PartSize: 5 * multipart.MiB, SingleMax: 5 * multipart.MiB, AllowedTypes: []string{"application/octet-stream"},
			URLTTL: 15 * time.Minute, KeyTemplate: "{subject}/{id}{ext}"}},
		Backends:    map[string]ObjectStore{"main": e.store},
		Sessions:    sessions.NewRedisStore(e.rc),
		TTL:         time.Hour,
		Now:         e.clk.now,
		Quotas:      fq,
		QuotaLimits: []QuotaLimit{{OpenBytes: 20 * multipart.MiB}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mp := e.createMultipart(t, svc)
	if fq.used("") != 12*multipart.MiB {
		t.Fatalf("reserved %d, want 12 MiB", fq.used(""))
	}
	e.clk.add(61 * time.Minute)
	if res, err := svc.ExpireDue(t.Context(), JanitorConfig{}); err != nil || res.Expired != 1 {
		t.Fatalf("tick = %+v, %v; want one expired", res, err)
	}
	if fq.used("") != 0 || fq.settled[""] != 0 {
		t.Fatalf("after expiry of %s: %d reserved, %d settled; want 0 and 0", mp.ID, fq.used(""), fq.settled[""])
	}
}
