package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Strict /v1 bodies: an unknown field is refused with 400 invalid_request
// naming it, so a client never believes a check it asked for (a checksum,
// a part list) was applied when Chute ignored it. The Uppy routes stay
// lenient, as Companion is.
//
// The decoder itself finds unknown fields (json.Decoder's
// DisallowUnknownFields: no extra work on the hot path, and the known
// fields are always the Go request types' json tags). Its error names
// only the key; unknownFieldPath walks the body again, on the error path
// only, to name where the key sits ("checksum.algo", "parts[1].etagg").

// maxFieldInMessage bounds how much of a client's key a message repeats.
const maxFieldInMessage = 64

// unknownFieldError turns encoding/json's `json: unknown field "k"` into
// the message of the 400, with the key's full path when it can be found
// in body decoded as t. ok is false for any other error.
func unknownFieldError(err error, body []byte, t reflect.Type) (msg string, ok bool) {
	rest, found := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !found {
		return "", false
	}
	key, uerr := strconv.Unquote(rest)
	if uerr != nil {
		key = rest
	}
	name := key
	if path, found := unknownFieldPath(body, t, key); found {
		name = path
	}
	if len(name) > maxFieldInMessage {
		name = name[:maxFieldInMessage] + "..."
	}
	return "unknown field " + strconv.Quote(name), true
}

// unknownFieldPath returns the path of the first key named key in body
// that is no field of the struct it sits in, t being the type body
// decodes into.
func unknownFieldPath(body []byte, t reflect.Type, key string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return findUnknown(dec, t, "", key)
}

// findUnknown reads one value from dec, expected to decode into t, and
// looks inside it for an unknown key. It reads the whole value unless it
// finds one.
func findUnknown(dec *json.Decoder, t reflect.Type, path, key string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return "", false // a scalar holds no keys
	}
	switch {
	case delim == '{' && t.Kind() == reflect.Struct:
		fields := jsonFields(t)
		for dec.More() {
			k, ok := nextKey(dec)
			if !ok {
				return "", false
			}
			ft, known := fields.lookup(k)
			if !known && k == key {
				return joinPath(path, k), true
			}
			if !known {
				ft = nil // some other unknown key: skip its value
			}
			if p, found := findUnknownIn(dec, ft, joinPath(path, k), key); found {
				return p, true
			}
		}
	case delim == '{' && t.Kind() == reflect.Map:
		for dec.More() {
			k, ok := nextKey(dec)
			if !ok {
				return "", false
			}
			if p, found := findUnknown(dec, t.Elem(), joinPath(path, k), key); found {
				return p, true
			}
		}
	case delim == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; dec.More(); i++ {
			if p, found := findUnknown(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]", key); found {
				return p, true
			}
		}
	default:
		// Not what t expects (the decoder reports that), or an interface
		// that takes anything: no unknown fields inside.
		return "", skipRest(dec)
	}
	_, _ = dec.Token() // the closing delimiter
	return "", false
}

// findUnknownIn is findUnknown, or a skip of the value when t is nil.
func findUnknownIn(dec *json.Decoder, t reflect.Type, path, key string) (string, bool) {
	if t == nil {
		var skip json.RawMessage
		_ = dec.Decode(&skip)
		return "", false
	}
	return findUnknown(dec, t, path, key)
}

func nextKey(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	k, ok := tok.(string)
	return k, ok
}

// skipRest reads up to the delimiter closing the one just read; it
// always reports false (nothing found).
func skipRest(dec *json.Decoder) bool {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return false
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// fieldSet maps a struct's JSON keys to their types, as encoding/json
// sees them (json tags, promoted fields of embedded structs).
type fieldSet map[string]reflect.Type

// lookup finds k as encoding/json does: an exact match first, else one
// that differs only in case.
func (fs fieldSet) lookup(k string) (reflect.Type, bool) {
	if t, ok := fs[k]; ok {
		return t, true
	}
	for name, t := range fs {
		if strings.EqualFold(name, k) {
			return t, true
		}
	}
	return nil, false
}

var fieldSets sync.Map // reflect.Type -> fieldSet

// jsonFields returns the JSON keys of struct type t, read from its json
// tags once per type.
func jsonFields(t reflect.Type) fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				continue // its fields are promoted: VisibleFields lists them
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fs[name]; !dup || len(f.Index) == 1 {
			fs[name] = f.Type
		}
	}
	fieldSets.Store(t, fs)
	return fs
}
