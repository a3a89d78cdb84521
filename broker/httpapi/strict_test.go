package httpapi

import (
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chute-dev/chute/api"
	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/broker/auth"
)

// TestStrictBodies sends each /v1 route a body with a field it does not
// know, at the top and nested: 400 invalid_request naming the field,
// before any session is looked up. The same bodies without the field get
// past the decoder (to the down store's 503, or the unknown session's 404).
func TestStrictBodies(t *testing.T) {
	s := newTestServer(t, io.Discard)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	const sess = "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	cases := []struct {
		name, method, path, body, field string
		okStatus                        int // the answer without the unknown field
	}{
		{"create", "POST", "/v1/uploads", `{"filename":"a.txt","content_type":"text/plain","sizee":5}`, "sizee", 0},
		{"create after known fields", "POST", "/v1/uploads", `{"filename":"a.txt","content_type":"text/plain","size":5,"metdata":{"a":"b"}}`, "metdata", 0},
		{"create metadata keys are free", "POST", "/v1/uploads", `{"filename":"a.txt","content_type":"text/plain","size":5,"metadata":{"anything":"b"}}`, "", 503},
		{"create nested", "POST", "/v1/uploads", `{"filename":"a.txt","content_type":"text/plain","size":5,"checksum":{"algorithm":"SHA256","algo":"SHA256"}}`, "checksum.algo", 0},
		{"part-urls", "POST", sess + "/part-urls", `{"part_numbers":[1],"part_number":2}`, "part_number", 0},
		{"report part", "PUT", sess + "/parts/1", `{"etag":"\"abc\"","size":5,"checksum":"x"}`, "checksum", 0},
		{"complete", "POST", sess + "/complete", `{"parts":[],"force":true}`, "force", 0},
		{"complete nested", "POST", sess + "/complete", `{"parts":[{"part_number":1,"etag":"a"},{"part_number":2,"etag":"b","size":5}]}`, "parts[1].size", 0},
		{"known fields in another case", "POST", sess + "/complete", `{"Parts":[{"Part_Number":1,"ETAG":"a"}]}`, "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+tok)
			status, e, _ := do(t, s, req)
			if c.field == "" {
				if status != c.okStatus {
					t.Fatalf("got %d %s (%s), want %d", status, e.Error.Code, e.Error.Message, c.okStatus)
				}
				return
			}
			want := `unknown field "` + c.field + `"`
			if status != 400 || e.Error.Code != "invalid_request" || e.Error.Message != want {
				t.Fatalf("got %d %s %q, want 400 invalid_request %q", status, e.Error.Code, e.Error.Message, want)
			}
		})
	}
}

// TestUppyRoutesStayLenient: Companion ignores fields it does not know,
// and Uppy sends some (e.g. metadata it adds itself); /s3 must too.
func TestUppyRoutesStayLenient(t *testing.T) {
	s := newTestServer(t, io.Discard)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	for _, path := range []string{"/s3/multipart", "/t/" + tok + "/s3/multipart"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"filename":"a.txt","type":"text/plain","metadata":{},"bogus":1}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		status, e, _ := do(t, s, req)
		if status == 400 || strings.Contains(e.Error.Message, "bogus") {
			t.Fatalf("%s: %d %s %q: an unknown field was refused", path[:3], status, e.Error.Code, e.Error.Message)
		}
	}
}

// TestSizeMustBeWhole: a size that is no int64 says so, not "must be a
// number" (1e20 and 5.5 are numbers).
func TestSizeMustBeWhole(t *testing.T) {
	s := newTestServer(t, io.Discard)
	tok, _ := auth.SignHS256(secret, "alice", time.Minute, "", "")
	for _, size := range []string{"1e20", "5.5", "1e3", `"5"`, "99999999999999999999", "true"} {
		body := `{"filename":"a.txt","content_type":"text/plain","size":` + size + `}`
		req := httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		status, e, _ := do(t, s, req)
		if status != 400 || !strings.HasPrefix(e.Error.Message, "size: must be a whole number of bytes") {
			t.Errorf("size %s: %d %q", size, status, e.Error.Message)
		}
	}
	req := httptest.NewRequest("POST", "/v1/uploads/upl_aaaaaaaaaaaaaaaaaaaaaaaaaa/part-urls", strings.NewReader(`{"part_numbers":[1.5]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if status, e, _ := do(t, s, req); status != 400 || !strings.HasPrefix(e.Error.Message, "part_numbers: must be a whole number,") {
		t.Errorf("part number 1.5: %d %q", status, e.Error.Message)
	}
	req = httptest.NewRequest("POST", "/v1/uploads", strings.NewReader(`{"filename":5,"content_type":"text/plain","size":1}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if status, e, _ := do(t, s, req); status != 400 || e.Error.Message != "filename: must be a string" {
		t.Errorf("filename 5: %d %q", status, e.Error.Message)
	}
}

type strictInner struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value,omitempty"`
}

type StrictEmbedded struct {
	E int `json:"e"`
}

type strictOuter struct {
	StrictEmbedded
	Name   string                 `json:"name"`
	Skip   string                 `json:"-"`
	In     *strictInner           `json:"in,omitempty"`
	List   []strictInner          `json:"list"`
	ByKey  map[string]strictInner `json:"by_key"`
	Any    any                    `json:"any"`
	NoTag  int
	hidden int
}

// TestUnknownFieldPath names an unknown key with its path through nested
// structs, slices and maps, and takes what encoding/json takes: embedded
// fields, untagged fields, any case, anything under an interface.
func TestUnknownFieldPath(t *testing.T) {
	_ = strictOuter{}.hidden
	long := strings.Repeat("k", 100)
	for body, want := range map[string]string{
		`{"name":"a","nmae":1}`:                      "nmae",
		`{"in":{"algorithm":"x","algo":"y"}}`:        "in.algo",
		`{"list":[{"algorithm":"a"},{"valeu":"b"}]}`: "list[1].valeu",
		`{"by_key":{"k":{"x":1}}}`:                   "by_key.k.x",
		`{"list":[{"x":1}],"x":2}`:                   "list[0].x",
		`{"name":"x","in":null,"x":{"name":1}}`:      "x",
		`{"Skip":"x"}`:                               "Skip",
		`{"hidden":1}`:                               "hidden",
		`{"any":{"whatever":[1]},"list":null,"in":{"algorithm":"x","value":"y"},"nmae":{"a":[{}]}}`: "nmae",
		`{"` + long + `":1}`: strings.Repeat("k", maxFieldInMessage) + "...",
		`{"any":{"whatever":1},"e":1,"NAME":"x","NoTag":1,"In":{"ALGORITHM":"x"},"StrictEmbedded":{}}`: "StrictEmbedded",
		`{"any":{"whatever":1},"e":1,"NAME":"x","NoTag":1,"In":{"ALGORITHM":"x"}}`:                     "",
	} {
		var v strictOuter
		err := decodeBody([]byte(body), &v, false, true)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", body, err)
			}
			continue
		}
		if got := broker.ErrorMessage(err); got != `unknown field "`+want+`"` {
			t.Errorf("%s: %q, want unknown field %q", body, got, want)
		}
		if err := decodeBody([]byte(body), &v, false, false); err != nil {
			t.Errorf("%s: the lenient decoder refused it: %v", body, err)
		}
	}
	if fs := jsonFields(reflect.TypeFor[strictOuter]()); len(fs) != 7 {
		t.Errorf("fields of strictOuter: %v, want e name in list by_key any NoTag", fs)
	}
}

// TestStrictDecodeAllocs: refusing unknown fields costs the hot path no
// extra allocation (the path is only searched when one is found).
func TestStrictDecodeAllocs(t *testing.T) {
	body := []byte(`{"filename":"clip.mp4","content_type":"video/mp4","size":1048576,"metadata":{"title":"x"}}`)
	allocs := func(strict bool) float64 {
		return testing.AllocsPerRun(200, func() {
			var req api.CreateRequest
			if err := decodeBody(body, &req, false, strict); err != nil {
				t.Fatal(err)
			}
		})
	}
	if lenient, strict := allocs(false), allocs(true); strict > lenient {
		t.Fatalf("strict decoding allocates %.0f times, lenient %.0f", strict, lenient)
	}
}

// TestOpenAPIRequestBodiesMatchGoTypes holds the /v1 request schemas to
// the Go types the server decodes into: the same property names at every
// depth, and additionalProperties false wherever a struct decodes (the
// server refuses unknown fields there). A field added to a request type
// without its schema, or the reverse, fails here.
func TestOpenAPIRequestBodiesMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	bodies := map[string]reflect.Type{
		shape("POST", "/v1/uploads"):                reflect.TypeFor[api.CreateRequest](),
		shape("POST", "/v1/uploads/{id}/part-urls"): reflect.TypeFor[broker.PartURLsRequest](),
		shape("PUT", "/v1/uploads/{id}/parts/{n}"):  reflect.TypeFor[broker.ReportRequest](),
		shape("POST", "/v1/uploads/{id}/complete"):  reflect.TypeFor[broker.CompleteRequest](),
	}
	seen := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			typ, ok := bodies[shape(method, path)]
			if !ok {
				continue
			}
			seen++
			rb := op.RequestBody
			if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
				t.Errorf("%s %s: no JSON request body documented", method, path)
				continue
			}
			matchSchema(t, method+" "+path, rb.Value.Content.Get("application/json").Schema, typ)
		}
	}
	if seen != len(bodies) {
		t.Fatalf("found %d of the %d /v1 operations with a body", seen, len(bodies))
	}
}

func matchSchema(t *testing.T, where string, ref *openapi3.SchemaRef, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if ref == nil || ref.Value == nil {
		t.Errorf("%s: no schema", where)
		return
	}
	s := ref.Value
	switch typ.Kind() {
	case reflect.Slice, reflect.Array:
		matchSchema(t, where+"[]", s.Items, typ.Elem())
	case reflect.Map:
		if ap := s.AdditionalProperties.Schema; ap != nil {
			matchSchema(t, where+".*", ap, typ.Elem())
		}
	case reflect.Struct:
		if typ == reflect.TypeFor[time.Time]() {
			return
		}
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has || s.AdditionalProperties.Schema != nil {
			t.Errorf("%s: the schema allows unknown properties, the server refuses them", where)
		}
		fields := jsonFields(typ)
		for name, ft := range fields {
			p, ok := s.Properties[name]
			if !ok {
				t.Errorf("%s: field %q of %s is not in the schema", where, name, typ)
				continue
			}
			matchSchema(t, where+"."+name, p, ft)
		}
		for name := range s.Properties {
			if _, ok := fields[name]; !ok {
				t.Errorf("%s: property %q is no field of %s", where, name, typ)
			}
		}
	}
}
