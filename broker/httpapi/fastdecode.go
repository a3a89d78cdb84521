package httpapi

import "github.com/chute-dev/chute/broker"

// The part-urls body without encoding/json. Nearly every part-urls call
// is `{"part_numbers":[1,2,3]}`; decoding it with encoding/json (a
// Decoder, reflection, DisallowUnknownFields) cost about a tenth of a
// sign-part request. parsePartNumbers reads exactly that shape and
// nothing else; for any other body (other fields, checksums, escapes,
// signs, exponents, big numbers, nulls, duplicate keys, invalid input)
// it says so and the caller decodes with decodeStrict as before, so the
// answers (and the error messages) are those of encoding/json.
// TestParsePartNumbers and FuzzParsePartNumbers compare both.

// maxFastDigits bounds the digits of a number the fast path reads: 9
// digits always fit an int, and a part number has at most 5.
const maxFastDigits = 9

// parsePartNumbers returns the request of body when body is, up to JSON
// white space, an object whose only member is "part_numbers", an array
// of non-negative integers written plainly (no sign, fraction, exponent
// or leading zero). ok is false for anything else.
func parsePartNumbers(body []byte) (req broker.PartURLsRequest, ok bool) {
	p := 0
	ws := func() {
		for p < len(body) && (body[p] == ' ' || body[p] == '\t' || body[p] == '\n' || body[p] == '\r') {
			p++
		}
	}
	lit := func(s string) bool {
		if len(body)-p < len(s) || string(body[p:p+len(s)]) != s {
			return false
		}
		p += len(s)
		return true
	}
	ws()
	if !lit("{") {
		return req, false
	}
	ws()
	if !lit(`"part_numbers"`) {
		return req, false
	}
	ws()
	if !lit(":") {
		return req, false
	}
	ws()
	if !lit("[") {
		return req, false
	}
	// Count the commas to size the slice once.
	n := 1
	for i := p; i < len(body) && body[i] != ']'; i++ {
		if body[i] == ',' {
			n++
		}
	}
	nums := make([]int, 0, n)
	ws()
	if !lit("]") {
		for {
			start, v := p, 0
			for p < len(body) && body[p] >= '0' && body[p] <= '9' {
				v = v*10 + int(body[p]-'0')
				p++
			}
			digits := p - start
			if digits == 0 || digits > maxFastDigits || (digits > 1 && body[start] == '0') {
				return req, false
			}
			nums = append(nums, v)
			ws()
			if lit("]") {
				break
			}
			if !lit(",") {
				return req, false
			}
			ws()
		}
	}
	ws()
	if !lit("}") {
		return req, false
	}
	ws()
	if p != len(body) {
		return req, false
	}
	req.PartNumbers = nums
	return req, true
}
