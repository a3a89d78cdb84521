package httpapi

import (
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/chute-dev/chute/broker"
)

// appendPartURLs appends the JSON of r, byte for byte what marshal (
// encoding/json without HTML escaping) writes, without reflection: a batch
// of 1,000 part URLs is most of a part-urls call's encoding cost. It
// reports false, having appended nothing usable, when a string needs
// escaping or a time is outside what it formats; marshal then encodes r
// the generic way.
func appendPartURLs(b []byte, r *broker.PartURLsResult) ([]byte, bool) {
	if r.Parts == nil {
		return append(b, `{"parts":null}`...), true
	}
	b = append(b, `{"parts":[`...)
	for i := range r.Parts {
		p := &r.Parts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"part_number":`...)
		b = strconv.AppendInt(b, int64(p.PartNumber), 10)
		var ok bool
		b = append(b, `,"method":`...)
		if b, ok = appendPlainString(b, p.Method); !ok {
			return b, false
		}
		b = append(b, `,"url":`...)
		if b, ok = appendPlainString(b, p.URL); !ok {
			return b, false
		}
		b = append(b, `,"headers":`...)
		if p.Headers == nil {
			b = append(b, "null"...)
		} else if b, ok = appendHeaders(b, p.Headers); !ok {
			return b, false
		}
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, p.Size, 10)
		b = append(b, `,"expires_at":`...)
		if y := p.ExpiresAt.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = append(b, '"')
		b = p.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), true
}

// appendHeaders appends h as a JSON object, its keys sorted as
// encoding/json sorts them, or reports false when a key or value needs
// escaping.
func appendHeaders(b []byte, h map[string]string) ([]byte, bool) {
	var kbuf [4]string // the headers of one part: Content-Length, maybe a checksum and Content-Type
	keys := kbuf[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendPlainString(b, k); !ok {
			return b, false
		}
		b = append(b, ':')
		if b, ok = appendPlainString(b, h[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendPlainString appends s quoted if it needs no escaping in JSON
// (printable ASCII without '"' and '\'), else reports false. A presigned
// URL is some 500 bytes, checked 8 at a time (plainWord).
func appendPlainString(b []byte, s string) ([]byte, bool) {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
			return b, false
		}
	}
	for ; i < len(s); i++ {
		if !plainByte(s[i]) {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

func plainByte(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }

// plainWord reports whether each of w's 8 bytes is plainByte, without a
// branch per byte: a byte with its high bit set, or one below 0x20, or
// one equal to '"' or '\', leaves a high bit in the mask.
func plainWord(w uint64) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	// (x - ones) &^ x & high sets the high bit of a byte of x that is 0
	// (and maybe of bytes above it: only whether any is set matters).
	q, bs := w^('"'*ones), w^('\\'*ones)
	below := (w - 0x20*ones) &^ w // bytes < 0x20 (w's high bits are checked apart)
	return ((w | below | ((q - ones) &^ q) | ((bs - ones) &^ bs)) & high) == 0
}

// appendStatus appends the JSON of st as marshal writes it (see
// appendPartURLs): a part report answers the status with every reported
// part, so an upload of n parts encodes n statuses of up to n parts.
func appendStatus(b []byte, st *broker.Status) ([]byte, bool) {
	if st.Checksum != nil {
		return b, false // rare: encoding/json writes it
	}
	var ok bool
	str := func(name, v string) {
		if !ok {
			return
		}
		b = append(b, name...)
		b, ok = appendPlainString(b, v)
	}
	ok = true
	str(`{"id":`, st.ID)
	str(`,"key":`, st.Key)
	str(`,"strategy":`, st.Strategy)
	str(`,"state":`, st.State)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, st.Size, 10)
	str(`,"content_type":`, st.ContentType)
	if !ok {
		return b, false
	}
	if st.PartSize != 0 {
		b = append(b, `,"part_size":`...)
		b = strconv.AppendInt(b, st.PartSize, 10)
	}
	if st.PartCount != 0 {
		b = append(b, `,"part_count":`...)
		b = strconv.AppendInt(b, int64(st.PartCount), 10)
	}
	b = append(b, `,"parts":`...)
	if st.Parts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range st.Parts {
			if i > 0 {
				b = append(b, ',')
			}
			if p.Checksum != "" {
				return b, false
			}
			b = append(b, `{"part_number":`...)
			b = strconv.AppendInt(b, int64(p.Number), 10)
			b = append(b, `,"etag":`...)
			if b, ok = appendPlainString(b, p.ETag); !ok {
				return b, false
			}
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, p.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"uploaded_bytes":`...)
	b = strconv.AppendInt(b, st.UploadedBytes, 10)
	for _, t := range []struct {
		name string
		v    time.Time
	}{{`,"created_at":"`, st.CreatedAt}, {`,"updated_at":"`, st.UpdatedAt}, {`,"expires_at":"`, st.ExpiresAt}} {
		if y := t.v.Year(); y < 0 || y > 9999 {
			return b, false
		}
		b = append(b, t.name...)
		b = t.v.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if st.Reason != "" {
		str(`,"reason":`, st.Reason)
		if !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}
