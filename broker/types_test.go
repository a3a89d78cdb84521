package broker

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chute-dev/chute/api"
	"github.com/chute-dev/chute/checksum"
)

// TestNewCreateRequestCopiesEveryField fills every field of the wire body
// and checks that the use case's input carries each one: a field added to
// api.CreateRequest and forgotten here (or in NewCreateRequest) fails.
func TestNewCreateRequestCopiesEveryField(t *testing.T) {
	size := int64(7)
	w := api.CreateRequest{
		Filename: "a.mp4", ContentType: "video/mp4", Size: &size, Profile: "p",
		Metadata: map[string]string{"k": "v"}, Checksum: &api.ChecksumRequest{Algorithm: "SHA256", Value: "x"},
	}
	wv := reflect.ValueOf(w)
	for i := range wv.NumField() {
		if wv.Field(i).IsZero() {
			t.Fatalf("the test leaves api.CreateRequest.%s zero: fill it", wv.Type().Field(i).Name)
		}
	}
	got := reflect.ValueOf(NewCreateRequest(w, map[string]string{"X-Tenant": "t"}))
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		f := got.FieldByName(name)
		if !f.IsValid() {
			t.Errorf("CreateRequest has no field %s", name)
			continue
		}
		if !reflect.DeepEqual(f.Interface(), wv.Field(i).Interface()) {
			t.Errorf("CreateRequest.%s = %v, want %v", name, f.Interface(), wv.Field(i).Interface())
		}
	}
	if got.FieldByName("ClientHeaders").Len() != 1 {
		t.Error("ClientHeaders not kept")
	}
}

// constsOf returns the values of the string constants of type typ
// declared in the Go files of dir, in source order.
func constsOf(t *testing.T, dir, typ string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typ {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

// TestWireEnumsMatchTheDomain holds the enums the OpenAPI document
// publishes (package api) to the domain's own constants: a new error code,
// state or strategy, or a checksum algorithm, fails here until api lists
// it (and the document is regenerated).
func TestWireEnumsMatchTheDomain(t *testing.T) {
	var algs []string
	for _, a := range checksum.All {
		algs = append(algs, string(a))
	}
	for _, c := range []struct {
		name       string
		wire, have []string
	}{
		{"ErrorCodes", api.ErrorCodes, constsOf(t, ".", "Code")},
		{"States", api.States, constsOf(t, "session", "State")},
		{"Strategies", api.Strategies, constsOf(t, "session", "Strategy")},
		{"ChecksumAlgorithms", api.ChecksumAlgorithms, algs},
	} {
		if len(c.have) == 0 {
			t.Fatalf("%s: found no constants", c.name)
		}
		w, h := slices.Sorted(slices.Values(c.wire)), slices.Sorted(slices.Values(c.have))
		if !slices.Equal(w, h) {
			t.Errorf("api.%s = %v, the domain has %v", c.name, w, h)
		}
	}
}
