package multipart

import (
	"errors"
	"fmt"
	mathrand "math/rand"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

func TestNewPlan(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		preferred int64
		want      Plan
		wantLast  int64
	}{
		{"one byte, default", 1, 0, Plan{1, 16 * MiB, 1}, 1},
		{"just under min part", 5*MiB - 1, 5 * MiB, Plan{5*MiB - 1, 5 * MiB, 1}, 5*MiB - 1},
		{"exactly min part", 5 * MiB, 5 * MiB, Plan{5 * MiB, 5 * MiB, 1}, 5 * MiB},
		{"just over min part", 5*MiB + 1, 5 * MiB, Plan{5*MiB + 1, 5 * MiB, 2}, 1},
		{"exactly default", 16 * MiB, 0, Plan{16 * MiB, 16 * MiB, 1}, 16 * MiB},
		{"just over default", 16*MiB + 1, 0, Plan{16*MiB + 1, 16 * MiB, 2}, 1},
		{"1 GiB default (API example)", GiB, 0, Plan{GiB, 16 * MiB, 64}, 16 * MiB},
		{"preferred below min is clamped", 11 * MiB, 1, Plan{11 * MiB, 5 * MiB, 3}, MiB},
		{"preferred just below min is clamped", 10 * MiB, 5*MiB - 1, Plan{10 * MiB, 5 * MiB, 2}, 5 * MiB},
		{"preferred above max is clamped", 6 * GiB, 10 * GiB, Plan{6 * GiB, 5 * GiB, 2}, GiB},
		{"odd preferred kept as is", 10*MiB + 5, 5*MiB + 3, Plan{10*MiB + 5, 5*MiB + 3, 2}, 5*MiB + 2},
		{"10000 min parts fit", 50000 * MiB, 5 * MiB, Plan{50000 * MiB, 5 * MiB, 10000}, 5 * MiB},
		{"one byte over 10000 min parts grows to 6 MiB", 50000*MiB + 1, 5 * MiB, Plan{50000*MiB + 1, 6 * MiB, 8334}, 2*MiB + 1},
		{"10000 default parts fit", 160000 * MiB, 0, Plan{160000 * MiB, 16 * MiB, 10000}, 16 * MiB},
		{"one byte over 10000 default parts grows to 17 MiB", 160000*MiB + 1, 0, Plan{160000*MiB + 1, 17 * MiB, 9412}, 13*MiB + 1},
		{"1 TiB default grows to 105 MiB", TiB, 0, Plan{TiB, 105 * MiB, 9987}, 46 * MiB},
		{"1 TiB at 100 MiB grows to 105 MiB", TiB, 100 * MiB, Plan{TiB, 105 * MiB, 9987}, 46 * MiB},
		{"1 TiB at 200 MiB kept", TiB, 200 * MiB, Plan{TiB, 200 * MiB, 5243}, 176 * MiB},
		{"5 TiB default grows to 525 MiB", 5 * TiB, 0, Plan{5 * TiB, 525 * MiB, 9987}, 230 * MiB},
		{"5 TiB at max part size", 5 * TiB, 5 * GiB, Plan{5 * TiB, 5 * GiB, 1024}, 5 * GiB},
		{"5 TiB minus one byte", 5*TiB - 1, 0, Plan{5*TiB - 1, 525 * MiB, 9987}, 230*MiB - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewPlan(tt.size, tt.preferred)
			if err != nil {
				t.Fatalf("NewPlan(%d, %d): %v", tt.size, tt.preferred, err)
			}
			if got != tt.want {
				t.Fatalf("NewPlan(%d, %d) = %+v, want %+v", tt.size, tt.preferred, got, tt.want)
			}
			if last := got.PartSizeOf(got.PartCount); last != tt.wantLast {
				t.Errorf("last part = %d bytes, want %d", last, tt.wantLast)
			}
			checkPlanInvariants(t, got, tt.preferred)
		})
	}
}

func TestNewPlanErrors(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		preferred int64
		want      error
	}{
		{"zero size", 0, 0, ErrInvalidSize},
		{"negative size", -1, 0, ErrInvalidSize},
		{"min int64 size", -1 << 63, 0, ErrInvalidSize},
		{"negative part size", MiB, -1, ErrInvalidSize},
		{"one byte over 5 TiB", 5*TiB + 1, 0, ErrTooLarge},
		{"one byte over 5 TiB at max part size", 5*TiB + 1, 5 * GiB, ErrTooLarge},
		{"max int64", 1<<63 - 1, 0, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewPlan(tt.size, tt.preferred)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewPlan(%d, %d) error = %v, want %v", tt.size, tt.preferred, err, tt.want)
			}
			if got != (Plan{}) {
				t.Errorf("NewPlan(%d, %d) = %+v with an error, want the zero Plan", tt.size, tt.preferred, got)
			}
		})
	}
}

func TestNewPlanTooLargeMessageNamesLimit(t *testing.T) {
	_, err := NewPlan(5*TiB+1, 0)
	want := "multipart: object too large: 5497558138881 bytes is over the limit of 5497558138880 bytes (5 TiB)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestPlanParts(t *testing.T) {
	p, err := NewPlan(10*MiB+3, 5*MiB)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n      int
		valid  bool
		size   int64
		offset int64
	}{
		{-1, false, 0, -1},
		{0, false, 0, -1},
		{1, true, 5 * MiB, 0},
		{2, true, 5 * MiB, 5 * MiB},
		{3, true, 3, 10 * MiB},
		{4, false, 0, -1},
		{MaxParts + 1, false, 0, -1},
	}
	for _, tt := range tests {
		if got := p.Valid(tt.n); got != tt.valid {
			t.Errorf("Valid(%d) = %v, want %v", tt.n, got, tt.valid)
		}
		if got := p.PartSizeOf(tt.n); got != tt.size {
			t.Errorf("PartSizeOf(%d) = %d, want %d", tt.n, got, tt.size)
		}
		if got := p.Offset(tt.n); got != tt.offset {
			t.Errorf("Offset(%d) = %d, want %d", tt.n, got, tt.offset)
		}
	}
}

func TestZeroPlanHasNoParts(t *testing.T) {
	var p Plan
	for _, n := range []int{-1, 0, 1} {
		if p.Valid(n) || p.PartSizeOf(n) != 0 || p.Offset(n) != -1 {
			t.Errorf("zero Plan: Valid(%d)=%v PartSizeOf=%d Offset=%d, want false 0 -1",
				n, p.Valid(n), p.PartSizeOf(n), p.Offset(n))
		}
	}
}

// edgeSizes are object sizes at the boundaries of S3's limits and of the
// default part size.
var edgeSizes = []int64{
	1, 2,
	5*MiB - 1, 5 * MiB, 5*MiB + 1,
	16*MiB - 1, 16 * MiB, 16*MiB + 1,
	GiB - 1, GiB, GiB + 1,
	5*GiB - 1, 5 * GiB, 5*GiB + 1,
	50000*MiB - 1, 50000 * MiB, 50000*MiB + 1, // 48.828125 GiB: 10000 parts of 5 MiB
	160000*MiB - 1, 160000 * MiB, 160000*MiB + 1, // 156.25 GiB: 10000 parts of 16 MiB
	TiB - 1, TiB, TiB + 1,
	5*TiB - 1, 5 * TiB,
}

// edgePreferred are preferred part sizes at the clamp boundaries.
var edgePreferred = []int64{
	0, 1, 5*MiB - 1, 5 * MiB, 5*MiB + 1, 8 * MiB, 16 * MiB, 64*MiB + 1,
	5*GiB - 1, 5 * GiB, 5*GiB + 1, 1<<63 - 1,
}

func TestPlanPropertiesEdges(t *testing.T) {
	for _, size := range edgeSizes {
		for _, pref := range edgePreferred {
			p, err := NewPlan(size, pref)
			if err != nil {
				t.Fatalf("NewPlan(%d, %d): %v", size, pref, err)
			}
			checkPlanInvariants(t, p, pref)
		}
	}
}

func TestPlanPropertiesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261127, 1))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		// Log-uniform sizes cover bytes to terabytes evenly.
		size := min(int64(1)<<rng.IntN(43)+rng.Int64N(int64(1)<<rng.IntN(43)), MaxObjectSize)
		var pref int64
		switch rng.IntN(4) {
		case 0:
			pref = 0
		case 1:
			pref = edgePreferred[rng.IntN(len(edgePreferred))]
		case 2:
			pref = rng.Int64N(6 * GiB)
		default:
			pref = MiB * (1 + rng.Int64N(1024))
		}
		p, err := NewPlan(size, pref)
		if err != nil {
			t.Fatalf("NewPlan(%d, %d): %v", size, pref, err)
		}
		checkPlanInvariants(t, p, pref)
		if t.Failed() {
			return
		}
	}
}

// TestPlanQuick feeds arbitrary int64 pairs to NewPlan: every call either
// fails with the right sentinel or returns a plan that keeps the
// invariants.
func TestPlanQuick(t *testing.T) {
	f := func(size, pref int64, shift uint8) bool {
		// Spread sizes over every magnitude, not only huge ones.
		size >>= shift % 64
		p, err := NewPlan(size, pref)
		switch {
		case size < 1 || pref < 0:
			return errors.Is(err, ErrInvalidSize)
		case size > MaxObjectSize:
			return errors.Is(err, ErrTooLarge)
		case err != nil:
			return false
		}
		checkPlanInvariants(t, p, pref)
		return !t.Failed()
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000, Rand: newQuickRand()}); err != nil {
		t.Fatal(err)
	}
}

// checkPlanInvariants fails t when p, made by NewPlan with pref, breaks any
// promise of NewPlan.
func checkPlanInvariants(t *testing.T, p Plan, pref int64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("plan %+v (preferred %d): %s", p, pref, fmt.Sprintf(format, args...))
	}
	if p.PartCount < 1 || p.PartCount > MaxParts {
		fail("part count out of 1..%d", MaxParts)
	}
	if p.PartSize < MinPartSize || p.PartSize > MaxPartSize {
		fail("part size out of [%d, %d]", MinPartSize, MaxPartSize)
	}
	if err := p.validate(); err != nil {
		fail("validate: %v", err)
	}

	var sum int64
	for n := 1; n <= p.PartCount; n++ {
		size := p.PartSizeOf(n)
		if p.Offset(n) != sum {
			fail("part %d at offset %d, want %d", n, p.Offset(n), sum)
			return
		}
		if n < p.PartCount && size != p.PartSize {
			fail("part %d is %d bytes, not the part size", n, size)
			return
		}
		sum += size
	}
	if sum != p.Size {
		fail("parts sum to %d", sum)
	}
	if last := p.PartSizeOf(p.PartCount); last < 1 || last > p.PartSize {
		fail("last part is %d bytes, want 1..%d", last, p.PartSize)
	}
	if p.Valid(0) || p.Valid(p.PartCount+1) || p.PartSizeOf(p.PartCount+1) != 0 {
		fail("part numbers outside 1..%d accepted", p.PartCount)
	}

	want := pref
	if want == 0 {
		want = DefaultPartSize
	}
	want = min(max(want, MinPartSize), MaxPartSize)
	fits := func(partSize int64) bool { return (p.Size+partSize-1)/partSize <= MaxParts }
	if p.PartSize == want {
		if !fits(want) {
			fail("preferred size kept though %d parts would be needed", (p.Size+want-1)/want)
		}
		return
	}
	// Grown: the smallest whole number of MiB that fits, above preferred.
	if !(p.PartSize > want) || fits(want) {
		fail("part size changed from preferred %d without need", want)
	}
	if p.PartSize%MiB != 0 {
		fail("grown part size is not a multiple of MiB")
	}
	if fits(p.PartSize - MiB) {
		fail("grown part size is not the smallest: %d also fits", p.PartSize-MiB)
	}
}

// newQuickRand returns a seeded source for testing/quick, so failures
// reproduce.
func newQuickRand() *mathrand.Rand {
	return mathrand.New(mathrand.NewSource(20261127))
}

func ExampleNewPlan() {
	p, err := NewPlan(GiB+MiB, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.PartCount, p.PartSize, p.PartSizeOf(p.PartCount), p.Offset(p.PartCount))
	// Output: 65 16777216 1048576 1073741824
}
