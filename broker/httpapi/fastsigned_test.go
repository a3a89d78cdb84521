package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/chute-dev/chute/broker/companion"
)

// TestAppendSignedMatchesJSON holds the Uppy part answer's fast encoder
// to encoding/json (without HTML escaping), including the fallbacks.
func TestAppendSignedMatchesJSON(t *testing.T) {
	url := "http://127.0.0.1:9000/b/alice/k.bin?partNumber=3&uploadId=x&X-Amz-Signature=ab"
	cases := []struct {
		s    companion.Signed
		fast bool
	}{
		{companion.Signed{URL: url, Expires: 899, Headers: map[string]string{"Content-Length": "16777216"}}, true},
		{companion.Signed{URL: url, Expires: 0}, true},
		{companion.Signed{URL: url, Expires: -5, Headers: map[string]string{}}, true},
		{companion.Signed{URL: url, Expires: 1, Headers: map[string]string{"x-amz-checksum-sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hi/Fg=", "Content-Length": "5", "Content-Type": "a/b"}}, true},
		{companion.Signed{URL: url + "<>", Expires: 1}, true},
		{companion.Signed{URL: "é", Expires: 1}, false},
		{companion.Signed{URL: url, Expires: 1, Headers: map[string]string{"k": "\"q\""}}, false},
	}
	for _, c := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&c.s); err != nil {
			t.Fatal(err)
		}
		got, err := marshal(&c.s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("marshal(%+v) =\n%s\nencoding/json:\n%s", c.s, got, want.Bytes())
		}
		if _, ok := appendSigned(nil, &c.s); ok != c.fast {
			t.Fatalf("%+v: fast path %v, want %v", c.s, ok, c.fast)
		}
	}
}
