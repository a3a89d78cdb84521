package httpapi

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func BenchmarkAppendPlainString(b *testing.B) {
	s := "https://s3.example.com/bucket/bench/2026/12/07/upl_xztjqp2ayvea7nvoanr3nk4q4m.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=benchaccesskey%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T222000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=content-length%3Bhost&partNumber=3&uploadId=MzRhYzE4ZjctN2Y3Yi00ZDk3LWE5NzUtYmQ3Y2ViZGEwNzU2LjE3MzI3MDU2MDA&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf, _ = appendPlainString(buf[:0], s)
	}
}

// TestPlainWord: the 8-byte check agrees with the byte check for every
// byte value at every position (the others plain, or not), and
// appendPlainString with the simple loop on random strings of every
// length up to 40.
func TestPlainWord(t *testing.T) {
	for _, fill := range []byte{'a', 0x20, 0x7f, '!', '#', '[', ']'} {
		for pos := range 8 {
			for c := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				want := true
				for _, x := range w {
					want = want && plainByte(x)
				}
				if got := plainWord(binary.LittleEndian.Uint64(w[:])); got != want {
					t.Fatalf("word %q: plainWord %v, want %v", w, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09~ -_/?&=%\"\\\x00\x1f\x7f\x80\xff")
	for range 200_000 {
		s := make([]byte, r.IntN(41))
		for i := range s {
			if r.IntN(50) == 0 {
				s[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				s[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		want := true
		for _, c := range s {
			want = want && plainByte(c)
		}
		got, ok := appendPlainString([]byte("x"), string(s))
		if ok != want || (ok && string(got) != `x"`+string(s)+`"`) {
			t.Fatalf("%q: ok %v (want %v), %q", s, ok, want, got)
		}
	}
}
