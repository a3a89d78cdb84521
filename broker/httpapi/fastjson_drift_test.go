package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/api"
)

// The hand-rolled encoders of fastjson.go write api.Status and
// api.PartURLsResult without reflection. TestFastJSONFollowsTheWireTypes
// fills every field of those types by reflection with random plain and
// awkward values and holds each answer of the fast path to encoding/json:
// a field added to a wire type that the encoders do not write (or write
// differently) fails here, without anyone listing it.

// fallbackFields are fields the fast path leaves to encoding/json when
// set (it reports false): they need not be seen on the fast path.
var fallbackFields = map[string]bool{
	"Status.Checksum":       true,
	"Status.Parts.Checksum": true,
}

// isFallback reports whether path is, or lies within, a fallback field.
func isFallback(path string) bool {
	for p := range fallbackFields {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

var (
	fillStrings = []string{"", "", "plain", "PUT", "http://127.0.0.1:7070/b/k?partNumber=1&uploadId=a%2Bb&X-Amz-Signature=f00", "a<b>&c"}
	// awkward strings need escaping: the fast path must hand them over.
	awkward   = []string{"\"9b2cf5\"", "é", "\x01", `back\slash`, "\u2028"}
	fillInts  = []int64{0, 0, 1, 2, -1, 10000, 16777216, math.MaxInt32, math.MaxInt64, math.MinInt64}
	fillTimes = []time.Time{
		{}, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 1000, time.FixedZone("CEST", 7200)), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
)

var timeT = reflect.TypeFor[time.Time]()

// fill sets v (addressable) to a random value and records the paths of
// the fields it left non-zero.
func fill(r *rand.Rand, v reflect.Value, path string, set map[string]bool) {
	switch {
	case v.Type() == timeT:
		v.Set(reflect.ValueOf(fillTimes[r.IntN(len(fillTimes))]))
	case v.Kind() == reflect.String:
		if r.IntN(60) == 0 {
			v.SetString(awkward[r.IntN(len(awkward))])
		} else {
			v.SetString(fillStrings[r.IntN(len(fillStrings))])
		}
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		n := fillInts[r.IntN(len(fillInts))]
		if v.OverflowInt(n) {
			n = int64(r.IntN(100))
		}
		v.SetInt(n)
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fill(r, v.Field(i), path+"."+f.Name, set)
		}
		return
	case v.Kind() == reflect.Pointer:
		if r.IntN(2) == 0 {
			v.SetZero()
		} else {
			p := reflect.New(v.Type().Elem())
			fill(r, p.Elem(), path, set)
			v.Set(p)
		}
	case v.Kind() == reflect.Slice:
		switch n := r.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fill(r, s.Index(i), path, set)
			}
			v.Set(s)
		}
	case v.Kind() == reflect.Map:
		switch n := r.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			m := reflect.MakeMap(v.Type())
			for range n - 1 {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fill(r, k, path, nil)
				fill(r, e, path, nil)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	default:
		panic("fill: no filler for " + v.Type().String() + " at " + path)
	}
	if set != nil && !v.IsZero() {
		set[path] = true
	}
}

// fieldPaths lists the paths fill records for type t.
func fieldPaths(t reflect.Type, path string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeT {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		out[path+"."+f.Name] = true
		fieldPaths(f.Type, path+"."+f.Name, out)
	}
}

func TestFastJSONFollowsTheWireTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 4))
	for _, c := range []struct {
		name string
		typ  reflect.Type
		fast func(v any) ([]byte, bool)
	}{
		{"Status", reflect.TypeFor[api.Status](), func(v any) ([]byte, bool) { return appendStatus(nil, v.(*api.Status)) }},
		{"PartURLsResult", reflect.TypeFor[api.PartURLsResult](), func(v any) ([]byte, bool) { return appendPartURLs(nil, v.(*api.PartURLsResult)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			onFast := map[string]int{}
			fastRuns := 0
			for range 4000 {
				p := reflect.New(c.typ)
				set := map[string]bool{}
				fill(r, p.Elem(), c.name, set)
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				werr := enc.Encode(p.Interface())
				got, ok := c.fast(p.Interface())
				if !ok {
					continue
				}
				if werr != nil {
					t.Fatalf("the fast path wrote %s; encoding/json refuses the value: %v", got, werr)
				}
				if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
					t.Fatalf("fast path and encoding/json differ:\nfast: %s\njson: %s", got, w)
				}
				fastRuns++
				for k := range set {
					onFast[k]++
				}
			}
			if fastRuns < 100 {
				t.Fatalf("only %d of 4000 values took the fast path", fastRuns)
			}
			all := map[string]bool{}
			fieldPaths(c.typ, c.name, all)
			for k := range all {
				if onFast[k] == 0 && !isFallback(k) {
					t.Errorf("%s was never set on the fast path (%d fast runs): does fastjson.go write it?", k, fastRuns)
				}
			}
		})
	}
}
