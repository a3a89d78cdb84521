package companion

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// fakeUseCases records the calls the adapter makes and answers them from
// its fields. Only the upload "upl_1" of alice exists, at key "a/k".
type fakeUseCases struct {
	calls []string
	open  broker.OpenRequest
	n     int
	parts []broker.CompletePart
	err   error // returned by every use case but Locate
}

const (
	theID  = "upl_1"
	theKey = "a/k"
)

var (
	t0      = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	errDown = broker.Errorf(broker.CodeStorageUnavailable, "session store unavailable")
)

func (f *fakeUseCases) CreateOpen(_ context.Context, subject string, req broker.OpenRequest) (*broker.OpenUpload, error) {
	f.calls, f.open = append(f.calls, "CreateOpen "+subject), req
	if f.err != nil {
		return nil, f.err
	}
	return &broker.OpenUpload{ID: theID, Key: theKey, Bucket: "bkt"}, nil
}

func (f *fakeUseCases) SignPost(_ context.Context, subject string, req broker.OpenRequest) (*broker.PostUpload, error) {
	f.calls, f.open = append(f.calls, "SignPost "+subject), req
	if f.err != nil {
		return nil, f.err
	}
	return &broker.PostUpload{ID: theID, Key: theKey, Bucket: "bkt", URL: "http://s/bkt", Fields: map[string]string{"key": "x"},
		ExpiresAt: t0.Add(90*time.Second + 900*time.Millisecond)}, nil
}

func (f *fakeUseCases) SignPart(_ context.Context, subject, id string, n int) (*broker.PartURL, error) {
	f.calls, f.n = append(f.calls, "SignPart "+subject+" "+id), n
	if f.err != nil {
		return nil, f.err
	}
	return &broker.PartURL{PartNumber: n, Method: "PUT", URL: "http://s/part", Headers: map[string]string{"Content-Type": "video/mp4"}, ExpiresAt: t0.Add(-time.Second)}, nil
}

func (f *fakeUseCases) StoredParts(_ context.Context, subject, id string) ([]multipart.Part, error) {
	f.calls = append(f.calls, "StoredParts "+subject+" "+id)
	if f.err != nil {
		return nil, f.err
	}
	return []multipart.Part{{Number: 1, ETag: "abc", Size: 5 * multipart.MiB}, {Number: 2, ETag: `W/"def"`, Size: 3}}, nil
}

func (f *fakeUseCases) Complete(_ context.Context, subject, id string, req broker.CompleteRequest) (*broker.CompleteResult, error) {
	f.calls, f.parts = append(f.calls, "Complete "+subject+" "+id), req.Parts
	if f.err != nil {
		return nil, f.err
	}
	return &broker.CompleteResult{ID: id, Key: theKey, Download: &broker.Download{URL: "http://s/bkt/a/k?sig=1"}}, nil
}

func (f *fakeUseCases) Abort(_ context.Context, subject, id string) (*broker.Status, error) {
	f.calls = append(f.calls, "Abort "+subject+" "+id)
	return &broker.Status{ID: id}, f.err
}

func (f *fakeUseCases) Locate(_ context.Context, subject, id string) (*broker.Location, error) {
	f.calls = append(f.calls, "Locate "+subject+" "+id)
	if f.err == errDown {
		return nil, f.err
	}
	if subject != "alice" || id != theID {
		return nil, broker.Errorf(broker.CodeNotFound, "upload not found")
	}
	return &broker.Location{Key: theKey, Bucket: "bkt"}, nil
}

func newAdapter() (*Adapter, *fakeUseCases) {
	f := &fakeUseCases{}
	a := New(f)
	a.now = func() time.Time { return t0 }
	return a, f
}

func wantCode(t *testing.T, err error, code broker.Code) {
	t.Helper()
	if got := broker.ErrorCode(err); got != code {
		t.Fatalf("error %v (code %q), want code %q", err, got, code)
	}
}

func wantCalls(t *testing.T, f *fakeUseCases, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(f.calls, want) && !(len(f.calls) == 0 && len(want) == 0) {
		t.Fatalf("use cases called %q, want %q", f.calls, want)
	}
}

func TestParamsMapsTheQuery(t *testing.T) {
	a, f := newAdapter()
	got, err := a.Params(context.Background(), "alice", ParamsQuery{
		Filename: "clip.mp4", Type: "video/mp4", Profile: "videos", Size: "",
		Metadata: map[string]any{"name": "clip.mp4", "Title": "x", "relativePath": "d/clip.mp4"},
	}, map[string]string{"x-tenant": "t1"})
	if err != nil {
		t.Fatal(err)
	}
	want := broker.OpenRequest{Filename: "clip.mp4", ContentType: "video/mp4", Profile: "videos",
		Metadata: map[string]string{"title": "x"}, ClientHeaders: map[string]string{"x-tenant": "t1"}}
	if !reflect.DeepEqual(f.open, want) {
		t.Fatalf("SignPost got %+v, want %+v", f.open, want)
	}
	// A POST policy, its expiry in whole seconds from now.
	if got.Method != "POST" || got.URL != "http://s/bkt" || got.Fields["key"] != "x" || got.Expires != 90 {
		t.Fatalf("answer %+v", got)
	}

	// size= is passed on when told.
	if _, err := a.Params(context.Background(), "alice", ParamsQuery{Filename: "a", Type: "t", Size: "12"}, nil); err != nil {
		t.Fatal(err)
	}
	if f.open.Size == nil || *f.open.Size != 12 || f.open.Metadata != nil {
		t.Fatalf("SignPost got %+v", f.open)
	}
}

func TestParamsRefusesBeforeCallingTheUseCase(t *testing.T) {
	for name, q := range map[string]ParamsQuery{
		"negative size": {Size: "-1"},
		"size in words": {Size: "ten"},
		"size 1e3":      {Size: "1e3"},
		"object value":  {Metadata: map[string]any{"tags": map[string]any{}}},
	} {
		t.Run(name, func(t *testing.T) {
			a, f := newAdapter()
			_, err := a.Params(context.Background(), "alice", q, nil)
			wantCode(t, err, broker.CodeInvalidRequest)
			wantCalls(t, f)
		})
	}
}

func TestCreateMapsTheBody(t *testing.T) {
	a, f := newAdapter()
	got, err := a.Create(context.Background(), "alice", CreateBody{Filename: "a.bin", Type: "application/octet-stream", Profile: "p",
		Metadata: map[string]any{"n": float64(3), "ok": true, "gone": nil}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got != (Upload{Key: theKey, UploadID: theID, Bucket: "bkt"}) {
		t.Fatalf("answer %+v", got)
	}
	want := broker.OpenRequest{Filename: "a.bin", ContentType: "application/octet-stream", Profile: "p", Metadata: map[string]string{"n": "3", "ok": "true"}}
	if !reflect.DeepEqual(f.open, want) {
		t.Fatalf("CreateOpen got %+v, want %+v", f.open, want)
	}

	// The use case's error is the answer, as it is.
	a, f = newAdapter()
	f.err = broker.Errorf(broker.CodeRateLimited, "too many open uploads")
	_, err = a.Create(context.Background(), "alice", CreateBody{Filename: "a.bin"}, nil)
	if err != f.err {
		t.Fatalf("error %v, want the use case's", err)
	}
}

// TestEveryUploadCallChecksTheKey: an upload is named by (uploadId, key);
// a missing key is refused and a wrong one answered as an unknown upload,
// before any use case but Locate runs.
func TestEveryUploadCallChecksTheKey(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(a *Adapter, subject, id, key string) error{
		"sign part": func(a *Adapter, subject, id, key string) error {
			_, err := a.SignPart(ctx, subject, id, key, "3")
			return err
		},
		"list parts": func(a *Adapter, subject, id, key string) error {
			_, err := a.ListParts(ctx, subject, id, key)
			return err
		},
		"complete": func(a *Adapter, subject, id, key string) error {
			_, err := a.Complete(ctx, subject, id, key, CompleteBody{})
			return err
		},
		"abort": func(a *Adapter, subject, id, key string) error {
			return a.Abort(ctx, subject, id, key)
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			a, f := newAdapter()
			wantCode(t, call(a, "alice", theID, ""), broker.CodeInvalidRequest)
			wantCalls(t, f)

			a, f = newAdapter()
			wantCode(t, call(a, "alice", theID, theKey+"x"), broker.CodeNotFound)
			wantCalls(t, f, "Locate alice "+theID)

			a, f = newAdapter()
			wantCode(t, call(a, "bob", theID, theKey), broker.CodeNotFound)
			wantCalls(t, f, "Locate bob "+theID)

			a, f = newAdapter()
			f.err = errDown
			wantCode(t, call(a, "alice", theID, theKey), broker.CodeStorageUnavailable)
			wantCalls(t, f, "Locate alice "+theID)

			a, f = newAdapter()
			if err := call(a, "alice", theID, theKey); err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != 2 || f.calls[0] != "Locate alice "+theID {
				t.Fatalf("use cases called %q, want Locate then the call", f.calls)
			}
		})
	}
}

func TestSignPart(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"0", "00001", "123456", "-1", "+1", "x", "1.5", ""} {
		a, f := newAdapter()
		_, err := a.SignPart(ctx, "alice", theID, theKey, bad)
		wantCode(t, err, broker.CodeInvalidRequest)
		wantCalls(t, f)
	}
	a, f := newAdapter()
	got, err := a.SignPart(ctx, "alice", theID, theKey, "10000")
	if err != nil {
		t.Fatal(err)
	}
	if f.n != 10000 {
		t.Fatalf("signed part %d, want 10000", f.n)
	}
	// An expiry in the past is 0 seconds, never negative.
	if got.URL != "http://s/part" || got.Expires != 0 || got.Headers["Content-Type"] != "video/mp4" {
		t.Fatalf("answer %+v", got)
	}
	a, f = newAdapter()
	f.err = broker.Errorf(broker.CodeConflict, "upload is completed")
	_, err = a.SignPart(ctx, "alice", theID, theKey, "1")
	wantCode(t, err, broker.CodeConflict)
}

func TestListPartsQuotesETags(t *testing.T) {
	a, _ := newAdapter()
	got, err := a.ListParts(context.Background(), "alice", theID, theKey)
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{{PartNumber: 1, ETag: `"abc"`, Size: 5 * multipart.MiB}, {PartNumber: 2, ETag: `"def"`, Size: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parts %+v, want %+v", got, want)
	}
}

func TestCompleteMapsTheParts(t *testing.T) {
	ctx := context.Background()
	a, f := newAdapter()
	got, err := a.Complete(ctx, "alice", theID, theKey, CompleteBody{Parts: []CompletePart{{PartNumber: 1, ETag: `"e1"`}, {PartNumber: 2, ETag: "e2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.parts, []broker.CompletePart{{PartNumber: 1, ETag: `"e1"`}, {PartNumber: 2, ETag: "e2"}}) {
		t.Fatalf("Complete got parts %+v", f.parts)
	}
	if *got != (Completed{Location: "http://s/bkt/a/k?sig=1", Key: theKey, Bucket: "bkt"}) {
		t.Fatalf("answer %+v", got)
	}
	// No parts in the body is an empty list, never "use the reported
	// parts" (a nil list): the broker refuses it for an open-ended upload.
	a, f = newAdapter()
	if _, err := a.Complete(ctx, "alice", theID, theKey, CompleteBody{}); err != nil {
		t.Fatal(err)
	}
	if f.parts == nil || len(f.parts) != 0 {
		t.Fatalf("Complete got parts %#v, want an empty list", f.parts)
	}
	a, f = newAdapter()
	f.err = broker.Errorf(broker.CodeIncomplete, "parts missing: 2")
	_, err = a.Complete(ctx, "alice", theID, theKey, CompleteBody{})
	wantCode(t, err, broker.CodeIncomplete)
}

func TestAbortPassesTheError(t *testing.T) {
	a, f := newAdapter()
	f.err = broker.Errorf(broker.CodeConflict, "upload is completed")
	wantCode(t, a.Abort(context.Background(), "alice", theID, theKey), broker.CodeConflict)
	wantCalls(t, f, "Locate alice "+theID, "Abort alice "+theID)
}

func TestMetadata(t *testing.T) {
	got, err := Metadata(map[string]any{"Name": "n", "TYPE": "t", "relativepath": "r", "A": "1", "b": float64(2.5), "c": false, "d": nil})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "1", "b": "2.5", "c": "false"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, err := Metadata(map[string]any{"name": "n"}); got != nil || err != nil {
		t.Fatalf("only Uppy's own fields: %v, %v; want nil", got, err)
	}
	_, err = Metadata(map[string]any{"a-very-long-key-that-goes-on-and-on-and-on": []any{1}})
	wantCode(t, err, broker.CodeInvalidRequest)
	var be *broker.Error
	if want := `metadata: "a-very-long-key-that-goes-on-and…" must be a string, number or boolean`; !errors.As(err, &be) || be.Message != want {
		t.Errorf("error %v, want the message %q", err, want)
	}
}
