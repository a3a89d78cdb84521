package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequestBodies pins the JSON the API methods send: the api types
// must encode exactly what the client sent before it used them.
func TestRequestBodies(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c := New(srv.URL)
	ctx := context.Background()
	calls := []func() error{
		func() error {
			_, err := c.Create(ctx, CreateRequest{Filename: "a.bin", ContentType: "a/b", Size: new(int64(0)), Checksum: &ChecksumRequest{Algorithm: "CRC32"}})
			return err
		},
		func() error { _, err := c.PartURLs(ctx, "upl_1", []int{1, 2}, map[int]string{2: "x"}); return err },
		func() error { _, err := c.ReportPart(ctx, "upl_1", 3, `"e"`, 0); return err },
		func() error { _, err := c.Complete(ctx, "upl_1", nil); return err },
		func() error { _, err := c.Complete(ctx, "upl_1", []CompletePart{}); return err },
		func() error {
			_, err := c.Complete(ctx, "upl_1", []CompletePart{{PartNumber: 1, ETag: "e"}})
			return err
		},
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`POST /v1/uploads {"filename":"a.bin","content_type":"a/b","size":0,"checksum":{"algorithm":"CRC32"}}`,
		`POST /v1/uploads/upl_1/part-urls {"part_numbers":[1,2],"checksums":{"2":"x"}}`,
		`PUT /v1/uploads/upl_1/parts/3 {"etag":"\"e\"","size":0}`,
		`POST /v1/uploads/upl_1/complete {}`,
		`POST /v1/uploads/upl_1/complete {"parts":[]}`,
		`POST /v1/uploads/upl_1/complete {"parts":[{"part_number":1,"etag":"e"}]}`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requests: %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
