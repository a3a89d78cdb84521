package httpapi

import (
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
		b = append(b, `,"headers":`...)
		if b, ok = appendHeaders(b, s.Headers); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}
