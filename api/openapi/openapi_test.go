package openapi

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chute-dev/chute/api"
)

// checkedIn is the document /openapi.json serves (embedded by
// broker/httpapi).
const checkedIn = "../../broker/httpapi/openapi.json"

// TestDocumentIsGenerated fails when the checked-in document is not what
// the generator writes from the types of package api and the operation
// table: a field added to a type without regenerating, or the file edited
// by hand.
func TestDocumentIsGenerated(t *testing.T) {
	want, err := Generate("..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(checkedIn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is not what the generator writes (run go generate ./api); first difference at line %d (edit the types of package api or the table in api/openapi, never the file):\n  file:      %s\n  generated: %s", checkedIn, i+1, g, w)
			}
		}
	}
}

// TestEveryWireTypeIsDocumented checks that each struct type of package
// api is a schema of the document (a new body type must be wired into
// the operation table) and that every field carries its json name.
func TestEveryWireTypeIsDocumented(t *testing.T) {
	doc, err := Generate("..")
	if err != nil {
		t.Fatal(err)
	}
	types := []any{
		api.CreateRequest{}, api.ChecksumRequest{}, api.Checksum{}, api.PartURL{}, api.Upload{},
		api.CreateResult{}, api.PartURLsRequest{}, api.PartURLsResult{}, api.ReportRequest{},
		api.Part{}, api.CompletePart{}, api.CompleteRequest{}, api.Status{}, api.Download{},
		api.CompleteResult{}, api.Error{}, api.ErrorBody{},
	}
	for _, v := range types {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s has no json name", typ.Name(), typ.Field(i).Name)
				continue
			}
			if !bytes.Contains(doc, []byte(`"`+name+`": {`)) {
				t.Errorf("%s.%s (%q) is in no schema", typ.Name(), typ.Field(i).Name, name)
			}
		}
	}
	d, err := readDocs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range types {
		if d[reflect.TypeOf(v).Name()] == "" {
			t.Errorf("type %s has no doc comment", reflect.TypeOf(v).Name())
		}
	}
}

// TestTagErrors: the generator refuses what it cannot describe rather
// than writing a wrong schema.
func TestTagErrors(t *testing.T) {
	type anon struct {
		A struct{ B int } `json:"a"`
	}
	type badTag struct {
		A string `json:"a" oapi:"minlen=1"`
	}
	type intKeys struct {
		A map[int]string `json:"a"`
	}
	for _, v := range []any{anon{}, badTag{}, intKeys{}} {
		s := &schemas{docs: docs{}, out: map[string]obj{}}
		s.component(reflect.TypeOf(v))
		if s.err == nil {
			t.Errorf("%T: no error", v)
		}
	}
}
