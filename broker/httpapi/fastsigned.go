package httpapi

import (
	"slices"
	"strconv"

	"github.com/chute-dev/chute/broker/companion"
)

// appendSigned appends the JSON of the Uppy part route's answer, byte for
// byte what marshal writes with encoding/json (headers omitted when empty,
// keys sorted), without reflection: it is the answer of every part an
// Uppy upload signs. It reports false when a string needs escaping;
// marshal then encodes s the generic way.
func appendSigned(b []byte, s *companion.Signed) ([]byte, bool) {
	var ok bool
	b = append(b, `{"url":`...)
	if b, ok = appendPlainString(b, s.URL); !ok {
		return b, false
	}
	b = append(b, `,"expires":`...)
	b = strconv.AppendInt(b, s.Expires, 10)
	if len(s.Headers) > 0 {
		var kbuf [4]string
		keys := kbuf[:0]
		for k := range s.Headers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"headers":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendPlainString(b, k); !ok {
				return b, false
			}
			b = append(b, ':')
			if b, ok = appendPlainString(b, s.Headers[k]); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}
