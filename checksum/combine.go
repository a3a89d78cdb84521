package checksum

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Combining CRCs
//
// A CRC is linear over GF(2): appending len2 bytes B to a message A
// turns crc(A) into crc(A)·x^(8·len2) mod P, and the CRC of B is then
// XORed in. The pre- and post-inversion the S3 CRCs use (init and xorout
// all ones) cancel out of that identity, so
//
//	crc(A‖B) = crc(A)·x^(8·len2) mod P  ⊕  crc(B)
//
// holds for the finished values. The classic way to apply "append len2
// zero bytes" is a 64×64 (or 32×32) GF(2) matrix raised to the needed
// power by repeated squaring. Those matrices are exactly multiplication by
// x^(2^k) mod P, so this file keeps them as polynomials instead: a table
// of x^(2^k) mod P for every k, and one carry-less multiply-mod per set bit
// of 8·len2. That is the same operator at a 64th of the work (no
// 64-column matrix products), and the table is built once per
// polynomial.
//
// Values are in the reflected bit order the S3 CRCs use: the coefficient
// of x^0 is the most significant bit of the register.

// crcPoly is one CRC in reflected form.
type crcPoly struct {
	width int    // 32 or 64
	poly  uint64 // reflected polynomial, without the x^width term
	x2n   [67]uint64
}

// newPoly builds the tables for a CRC of the given width whose polynomial
// is normal (in the usual, non-reflected notation).
func newPoly(width int, normal uint64) *crcPoly {
	p := &crcPoly{width: width}
	if width == 32 {
		p.poly = uint64(bits.Reverse32(uint32(normal)))
	} else {
		p.poly = bits.Reverse64(normal)
	}
	// x^(2^0) = x: the second most significant bit.
	p.x2n[0] = p.one() >> 1
	for k := 1; k < len(p.x2n); k++ {
		p.x2n[k] = p.mulMod(p.x2n[k-1], p.x2n[k-1])
	}
	return p
}

// one is the polynomial 1 (x^0) in reflected form.
func (p *crcPoly) one() uint64 { return 1 << (p.width - 1) }

// mulMod returns a·b mod P.
func (p *crcPoly) mulMod(a, b uint64) uint64 {
	var prod uint64
	for m := p.one(); a != 0; m >>= 1 {
		if a&m != 0 {
			prod ^= b
			a ^= m
		}
		// b·x: in reflected order a shift right; a coefficient leaving
		// x^(width-1) wraps around through P.
		if b&1 != 0 {
			b = b>>1 ^ p.poly
		} else {
			b >>= 1
		}
	}
	return prod
}

// shift returns x^(8·n) mod P: the operator of appending n zero bytes.
func (p *crcPoly) shift(n int64) uint64 {
	r := p.one()
	for k := 3; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			r = p.mulMod(p.x2n[k], r)
		}
	}
	return r
}

// combine returns crc(A‖B) from crc(A), crc(B) and len(B).
func (p *crcPoly) combine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 == 0 {
		return crc1
	}
	return p.mulMod(p.shift(len2), crc1) ^ crc2
}

// The polynomials in their usual (normal) notation.
var (
	polyCRC32     = newPoly(32, 0x04C11DB7)
	polyCRC32C    = newPoly(32, 0x1EDC6F41)
	polyCRC64NVME = newPoly(64, 0xAD93D23594C93659)
)

func (a Algorithm) poly() *crcPoly {
	switch a {
	case CRC64NVME:
		return polyCRC64NVME
	case CRC32C:
		return polyCRC32C
	case CRC32:
		return polyCRC32
	}
	return nil
}

// Range is the digest of one run of bytes and its length: a part of an
// upload, say.
type Range struct {
	Digest []byte // as Algorithm.New().Sum(nil) gives it: big-endian
	Size   int64
}

// Combine returns the digest of the concatenation A‖B of two consecutive
// byte ranges from their digests crc1 and crc2 and the length of B,
// without the bytes. Only the CRCs combine (a.IsCRC()); the digests are
// the big-endian sums New gives, and so is the result.
func Combine(a Algorithm, crc1, crc2 []byte, len2 int64) ([]byte, error) {
	return CombineAll(a, Range{Digest: crc1}, Range{Digest: crc2, Size: len2})
}

// CombineAll returns the digest of the concatenation of the ranges, in
// order, from their digests and lengths (the first range's length is not
// needed). With no range it is the digest of no bytes.
func CombineAll(a Algorithm, ranges ...Range) ([]byte, error) {
	p := a.poly()
	if p == nil {
		return nil, fmt.Errorf("checksum: %s values do not combine (only CRCs do)", a)
	}
	var acc uint64
	for i, r := range ranges {
		if r.Size < 0 {
			return nil, fmt.Errorf("checksum: range %d has a negative length", i+1)
		}
		v, err := p.decode(r.Digest)
		if err != nil {
			return nil, fmt.Errorf("checksum: range %d: %w", i+1, err)
		}
		if i == 0 {
			acc = v
			continue
		}
		acc = p.combine(acc, v, r.Size)
	}
	return p.encode(acc), nil
}

func (p *crcPoly) decode(d []byte) (uint64, error) {
	switch {
	case p.width == 32 && len(d) == 4:
		return uint64(binary.BigEndian.Uint32(d)), nil
	case p.width == 64 && len(d) == 8:
		return binary.BigEndian.Uint64(d), nil
	}
	return 0, fmt.Errorf("want a %d-byte digest, got %d bytes", p.width/8, len(d))
}

func (p *crcPoly) encode(v uint64) []byte {
	if p.width == 32 {
		return binary.BigEndian.AppendUint32(nil, uint32(v))
	}
	return binary.BigEndian.AppendUint64(nil, v)
}

// CompositeOf returns the COMPOSITE checksum of a multipart object from its
// part digests, in part order: the checksum of the concatenated digests,
// with "-N" for N parts, as S3 shows it. It works for every algorithm.
func CompositeOf(a Algorithm, parts [][]byte) string {
	h := a.New()
	for _, d := range parts {
		h.Write(d)
	}
	return fmt.Sprintf("%s-%d", Encode(h.Sum(nil)), len(parts))
}
