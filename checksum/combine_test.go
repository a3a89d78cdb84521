package checksum

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

func digest(a Algorithm, b []byte) []byte {
	h := a.New()
	h.Write(b)
	return h.Sum(nil)
}

var crcs = []Algorithm{CRC64NVME, CRC32C, CRC32}

// The check values of the CRC catalogue ("123456789"), split at every
// point: combining the halves gives the catalogued CRC.
func TestCombineCheckValues(t *testing.T) {
	msg := []byte("123456789")
	for _, c := range []struct {
		a     Algorithm
		check string
	}{
		{CRC64NVME, "ae8b14860a799888"},
		{CRC32C, "e3069283"},
		{CRC32, "cbf43926"},
	} {
		if got := hex.EncodeToString(digest(c.a, msg)); got != c.check {
			t.Fatalf("%s(123456789) = %s, want %s (hash, not Combine)", c.a, got, c.check)
		}
		for i := 0; i <= len(msg); i++ {
			got, err := Combine(c.a, digest(c.a, msg[:i]), digest(c.a, msg[i:]), int64(len(msg)-i))
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != c.check {
				t.Errorf("%s: split at %d combines to %x, want %s", c.a, i, got, c.check)
			}
		}
	}
}

// Table: lengths around the bits of len2 the shift walks (0, 1, powers of
// two and their neighbours, a 16 MiB part), with data on both sides.
func TestCombineTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n2 := range []int{0, 1, 2, 3, 7, 8, 9, 255, 256, 257, 4095, 4096, 65537, 1 << 20, 16<<20 + 3} {
		a1 := make([]byte, 1+rng.IntN(100))
		a2 := make([]byte, n2)
		fill(rng, a1)
		fill(rng, a2)
		whole := append(append([]byte{}, a1...), a2...)
		for _, a := range crcs {
			got, err := Combine(a, digest(a, a1), digest(a, a2), int64(n2))
			if err != nil {
				t.Fatal(err)
			}
			if want := digest(a, whole); !bytes.Equal(got, want) {
				t.Errorf("%s: len2 %d: combined %x, hashed %x", a, n2, got, want)
			}
		}
	}
}

// Property: for random data cut into random parts (empty ones included),
// combining the part CRCs in order equals hashing the whole.
func TestCombineAllRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 300 {
		data := make([]byte, rng.IntN(20_000))
		fill(rng, data)
		var cuts []int
		for range rng.IntN(12) {
			cuts = append(cuts, rng.IntN(len(data)+1))
		}
		cuts = append(cuts, 0, len(data))
		sortInts(cuts)
		for _, a := range crcs {
			var rs []Range
			for i := 1; i < len(cuts); i++ {
				part := data[cuts[i-1]:cuts[i]]
				rs = append(rs, Range{Digest: digest(a, part), Size: int64(len(part))})
			}
			got, err := CombineAll(a, rs...)
			if err != nil {
				t.Fatal(err)
			}
			if want := digest(a, data); !bytes.Equal(got, want) {
				t.Fatalf("iteration %d, %s, cuts %v: combined %x, hashed %x", iter, a, cuts, got, want)
			}
		}
	}
}

// The shift operator for huge lengths agrees with doing it in two steps:
// x^(8(m+n)) = x^(8m)·x^(8n). Lengths near 2^62 exercise the top of the
// table without hashing exabytes.
func TestShiftComposes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, a := range crcs {
		p := a.poly()
		for range 200 {
			m, n := rng.Int64N(1<<62), rng.Int64N(1<<62)
			if got, want := p.shift(m+n), p.mulMod(p.shift(m), p.shift(n)); got != want {
				t.Fatalf("%s: shift(%d+%d) = %x, want %x", a, m, n, got, want)
			}
		}
		if p.shift(0) != p.one() {
			t.Fatalf("%s: shift(0) is not 1", a)
		}
	}
}

func TestCombineRefuses(t *testing.T) {
	if _, err := Combine(SHA256, make([]byte, 32), make([]byte, 32), 1); err == nil || !strings.Contains(err.Error(), "only CRCs") {
		t.Fatalf("SHA256: %v", err)
	}
	if _, err := Combine(CRC64NVME, make([]byte, 4), make([]byte, 8), 1); err == nil {
		t.Fatal("a 4-byte CRC64NVME digest was taken")
	}
	if _, err := Combine(CRC32C, make([]byte, 4), make([]byte, 4), -1); err == nil {
		t.Fatal("a negative length was taken")
	}
	// No range at all is the CRC of no bytes.
	for _, a := range crcs {
		got, err := CombineAll(a)
		if err != nil || !bytes.Equal(got, digest(a, nil)) {
			t.Fatalf("%s: CombineAll() = %x, %v", a, got, err)
		}
	}
}

func TestComposite(t *testing.T) {
	p1, p2 := []byte("hello "), []byte("world")
	d1, d2 := digest(SHA256, p1), digest(SHA256, p2)
	want := SHA256.Sum(append(append([]byte{}, d1...), d2...)) + "-2"
	if got := CompositeOf(SHA256, [][]byte{d1, d2}); got != want {
		t.Fatalf("CompositeOf = %s, want %s", got, want)
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

func sortInts(s []int) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// BenchmarkCombine combines two CRCs across a 16 MiB second part (the
// usual part size): the cost per part of a whole-file value.
func BenchmarkCombine(b *testing.B) {
	for _, a := range crcs {
		b.Run(string(a), func(b *testing.B) {
			c1, c2 := digest(a, []byte("a")), digest(a, []byte("b"))
			for b.Loop() {
				if _, err := Combine(a, c1, c2, 16<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHash is the cost Combine saves: hashing a 16 MiB part again.
func BenchmarkHash(b *testing.B) {
	data := make([]byte, 16<<20)
	for _, a := range All {
		b.Run(string(a), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			h := a.New()
			for b.Loop() {
				h.Reset()
				h.Write(data)
				h.Sum(nil)
			}
		})
	}
}
