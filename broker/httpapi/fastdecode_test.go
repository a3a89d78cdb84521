package httpapi

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/chute-dev/chute/broker"
)

// checkPartNumbers fails when the fast parser accepts body but
// encoding/json (decodeStrict) would refuse it or read it otherwise. It
// reports whether the fast path took body.
func checkPartNumbers(t testing.TB, body string) bool {
	t.Helper()
	fast, ok := parsePartNumbers([]byte(body))
	var slow broker.PartURLsRequest
	err := decodeBody([]byte(body), &slow, false, true)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fast path took %q, encoding/json refuses it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q: fast path read %#v, encoding/json %#v", body, fast, slow)
	}
	return true
}

var partNumberBodies = []string{
	`{"part_numbers":[1]}`, `{"part_numbers":[1,2,3]}`, ` { "part_numbers" : [ 1 , 2 ] } `,
	"{\n\t\"part_numbers\":\r\n[10000]}\n", `{"part_numbers":[]}`, `{"part_numbers":[ ]}`,
	`{"part_numbers":[0]}`, `{"part_numbers":[999999999]}`, `{"part_numbers":[1,1]}`,
	// Left to encoding/json:
	`{"part_numbers":[1234567890]}`, `{"part_numbers":[99999999999999999999]}`, `{"part_numbers":[01]}`,
	`{"part_numbers":[-1]}`, `{"part_numbers":[1.0]}`, `{"part_numbers":[1e2]}`, `{"part_numbers":[1,]}`,
	`{"part_numbers":[,1]}`, `{"part_numbers":null}`, `{"part_numbers":[null]}`, `{"part_numbers":["1"]}`,
	`{"part_numbers":[1]`, `{"part_numbers":[1]}}`, `{"part_numbers":[1]} x`, `{"part_numbers":[1],"x":1}`,
	`{"part_numbers":[1],"checksums":{"1":"AAAA"}}`, `{"part_numbers":[1],"part_numbers":[2]}`,
	`{"Part_Numbers":[1]}`, `{"part_number\u0073":[1]}`, `{"part_numbers":[1]}` + "\x00", `[1]`, ``, `{}`,
	"{\"part_numbers\":[1]}\u00a0", `{"part_numbers":[1 2]}`, `{"part_numbers":[[1]]}`,
}

func TestParsePartNumbers(t *testing.T) {
	took := 0
	for _, b := range partNumberBodies {
		if checkPartNumbers(t, b) {
			took++
		}
	}
	if took != 9 {
		t.Fatalf("the fast path took %d of the first 9 bodies and none of the rest; want exactly the first 9", took)
	}
	for _, b := range []string{`{"part_numbers":[1,2,3]}`, ` { "part_numbers" : [ 1 , 2 ] } `} {
		if got, _ := parsePartNumbers([]byte(b)); len(got.PartNumbers) == 0 || got.PartNumbers[0] != 1 {
			t.Fatalf("%q read as %v", b, got.PartNumbers)
		}
	}
	// Random bodies near the accepted shape.
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{`{`, `}`, `[`, `]`, `"part_numbers"`, `:`, `,`, ` `, "\n", `1`, `0`, `12`, `-`, `.`, `e`,
		`99999`, `"x"`, `null`, `"part_numbers":[`}
	took = 0
	for range 100000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteString(`{"part_numbers":[`)
		}
		for range r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		if r.IntN(2) == 0 {
			b.WriteString(`]}`)
		}
		if checkPartNumbers(t, b.String()) {
			took++
		}
	}
	if took == 0 {
		t.Fatal("no random body took the fast path: the generator tests nothing")
	}
}

func FuzzParsePartNumbers(f *testing.F) {
	for _, b := range partNumberBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) { checkPartNumbers(t, body) })
}
