package sessions_test

import (
	"sort"
	"testing"
	"time"

	"github.com/chute-dev/chute/sessions"
)

func TestScanUploads(t *testing.T) {
	ctx := t.Context()
	_, client := newMiniredis(t)
	store := sessions.NewRedisStore(client)
	other := sessions.NewRedisStore(client, sessions.WithKeyPrefix("other"))
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"a", "b", "c"} {
		if err := store.Create(ctx, session(id, exp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Create(ctx, session("x", exp)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Transition(ctx, "b", sessions.Change{From: []sessions.State{sessions.StatePending}, To: sessions.StateAborted}); err != nil {
		t.Fatal(err)
	}
	var got []sessions.KnownUpload
	if err := store.ScanUploads(ctx, func(k sessions.KnownUpload) { got = append(got, k) }); err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if len(got) != 3 {
		t.Fatalf("ScanUploads = %+v, want a, b, c (not the other prefix's x)", got)
	}
	want := []sessions.State{sessions.StatePending, sessions.StateAborted, sessions.StatePending}
	for i, k := range got {
		if k.ID != []string{"a", "b", "c"}[i] || k.State != want[i] || k.UploadID != "u1" || k.Backend != "main" || k.Key != "alice/"+k.ID {
			t.Errorf("ScanUploads[%d] = %+v", i, k)
		}
	}
}
