package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object that keeps its keys in the order they were set, so
// the generated document is stable and reads in a sensible order.
type obj []member

type member struct {
	key string
	val any
}

// set sets key to v (replacing an earlier value) and returns o.
func (o obj) set(key string, v any) obj {
	for i := range o {
		if o[i].key == key {
			o[i].val = v
			return o
		}
	}
	return append(o, member{key, v})
}

func (o obj) get(key string) any {
	for _, m := range o {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := encode(m.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := encode(m.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encode is json.Marshal without HTML escaping ("<algorithm>" stays
// readable in descriptions).
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ref(name string) obj { return obj{{"$ref", "#/components/schemas/" + name}} }

// docs are the doc comments of a package's types and their fields: "T"
// and "T.Field" to the comment's text as one paragraph. A field's trailing
// comment (after the field on the same line) is a note for Go readers and
// is not taken.
type docs map[string]string

// readDocs parses the non-test Go files of dir.
func readDocs(dir string) (docs, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	d := docs{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, err := parser.ParseFile(fset, f, src, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				d[ts.Name.Name] = paragraph(doc)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fld := range st.Fields.List {
					for _, n := range fld.Names {
						d[ts.Name.Name+"."+n.Name] = paragraph(fld.Doc)
					}
				}
			}
		}
	}
	return d, nil
}

func paragraph(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}

// schemas builds the component schemas of Go struct types: one per named
// struct type reached, by its Go name unless names renames it.
type schemas struct {
	docs  docs
	names map[reflect.Type]string
	out   map[string]obj
	order []string
	err   error
}

func (s *schemas) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func (s *schemas) nameOf(t reflect.Type) string {
	if n, ok := s.names[t]; ok {
		return n
	}
	return t.Name()
}

// component adds the schema of struct type t (and of the structs it
// holds) and returns a reference to it.
func (s *schemas) component(t reflect.Type) obj {
	name := s.nameOf(t)
	if _, done := s.out[name]; !done {
		s.out[name] = nil // reserve: a type may hold itself
		s.out[name] = s.object(t)
		s.order = append(s.order, name)
	}
	return ref(name)
}

var timeType = reflect.TypeFor[time.Time]()

// object is the schema of struct type t: its JSON fields as properties,
// those without omitempty required, no other property allowed.
func (s *schemas) object(t reflect.Type) obj {
	props := obj{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous {
			s.fail("%s.%s: embedded fields are not supported", t.Name(), f.Name)
			continue
		}
		if name == "" {
			name = f.Name
		}
		tags, err := parseTag(f.Tag.Get("oapi"))
		if err != nil {
			s.fail("%s.%s: %v", t.Name(), f.Name, err)
			continue
		}
		omitempty := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		_, req := tags["required"]
		_, opt := tags["optional"]
		if (!omitempty && !opt) || req {
			required = append(required, name)
		}
		props = props.set(name, s.field(t.Name()+"."+f.Name, f.Type, tags, s.docs[t.Name()+"."+f.Name]))
	}
	o := obj{{"type", "object"}}
	if len(required) > 0 {
		o = o.set("required", required)
	}
	o = o.set("additionalProperties", false)
	o = o.set("properties", props)
	if d := s.docs[t.Name()]; d != "" {
		o = o.set("description", d)
	}
	return o
}

// field is the schema of a field of type t with its oapi tags and doc.
func (s *schemas) field(where string, t reflect.Type, tags map[string]string, doc string) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var o obj
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		item := s.value(where, t.Elem(), tags, true)
		o = obj{{"type", "array"}, {"items", item}}
		o = limits(o, tags, "minItems", "maxItems")
	case t.Kind() == reflect.Map:
		if t.Key().Kind() != reflect.String {
			s.fail("%s: map keys must be strings", where)
		}
		o = obj{{"type", "object"}}
		if k, ok := tags["keys"]; ok {
			o = o.set("propertyNames", obj{{"pattern", k}})
		}
		if r, ok := tags["ref"]; ok {
			o = ref(r)
		} else {
			o = o.set("additionalProperties", s.value(where, t.Elem(), tags, true))
			o = limits(o, tags, "maxProperties")
		}
	default:
		o = s.value(where, t, tags, false)
	}
	if doc != "" && o.get("$ref") == nil {
		o = o.set("description", doc)
	}
	return o
}

// value is the schema of a scalar or struct of type t; inner is set for
// the items of an array or the values of a map (the tags that describe
// the container are not repeated on them).
func (s *schemas) value(where string, t reflect.Type, tags map[string]string, inner bool) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if r, ok := tags["ref"]; ok {
		return ref(r)
	}
	var o obj
	switch {
	case t == timeType:
		o = obj{{"type", "string"}, {"format", "date-time"}}
	case t.Kind() == reflect.Struct:
		if t.Name() == "" {
			s.fail("%s: anonymous structs are not supported (name the type)", where)
			return obj{}
		}
		return s.component(t)
	case t.Kind() == reflect.String:
		o = obj{{"type", "string"}}
	case t.Kind() == reflect.Bool:
		o = obj{{"type", "boolean"}}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		o = obj{{"type", "integer"}}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		o = obj{{"type", "number"}}
	default:
		s.fail("%s: no schema for %s", where, t)
		return obj{}
	}
	if c, ok := tags["const"]; ok {
		o = obj{{"const", c}}
	}
	if e, ok := tags["enum"]; ok {
		o = o.set("enum", strings.Split(e, "|"))
	}
	for _, k := range []string{"format", "pattern"} {
		if v, ok := tags[k]; ok {
			o = o.set(k, v)
		}
	}
	if d, ok := tags["default"]; ok {
		o = o.set("default", d)
	}
	o = limits(o, tags, "minLength", "maxLength")
	if v, ok := tags["min"]; ok {
		o = o.set("minimum", number(v))
	}
	if v, ok := tags["max"]; ok {
		o = o.set("maximum", number(v))
	}
	if v, ok := tags["encoding"]; ok {
		o = o.set("contentEncoding", v)
	}
	if v, ok := tags["example"]; ok && !inner {
		o = o.set("examples", []string{v})
	}
	return o
}

func limits(o obj, tags map[string]string, keys ...string) obj {
	for _, k := range keys {
		if v, ok := tags[k]; ok {
			o = o.set(k, number(v))
		}
	}
	return o
}

func number(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return json.Number(v)
}

var knownTags = map[string]bool{
	"ref": true, "min": true, "max": true, "minLength": true, "maxLength": true, "minItems": true,
	"maxItems": true, "maxProperties": true, "pattern": true, "format": true, "enum": true,
	"const": true, "default": true, "example": true, "encoding": true, "keys": true,
	"required": true, "optional": true,
}

// parseTag reads an oapi tag: comma-separated key=value pairs (required
// and optional stand alone).
func parseTag(tag string) (map[string]string, error) {
	out := map[string]string{}
	if tag == "" {
		return out, nil
	}
	for _, kv := range strings.Split(tag, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if !knownTags[k] {
			return nil, fmt.Errorf("unknown oapi tag key %q", k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("oapi tag key %q twice", k)
		}
		out[k] = v
	}
	return out, nil
}
