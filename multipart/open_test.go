package multipart

import (
	"errors"
	"testing"
)

func TestKindZeroIsSized(t *testing.T) {
	var k Kind
	if k != Sized || k.String() != "sized" || OpenEnded.String() != "open-ended" {
		t.Fatalf("zero Kind = %v, OpenEnded = %v", k, OpenEnded)
	}
}

func TestNewOpenPlan(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  error
	}{
		{1, nil}, {MaxObjectSize, nil},
		{0, ErrInvalidSize}, {-1, ErrInvalidSize}, {MaxObjectSize + 1, ErrTooLarge},
	} {
		p, err := NewOpenPlan(tc.limit)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("NewOpenPlan(%d) = %v, want %v", tc.limit, err, tc.want)
		}
		if err == nil && p.Limit != tc.limit {
			t.Errorf("NewOpenPlan(%d).Limit = %d", tc.limit, p.Limit)
		}
	}
}

func TestOpenPlanParts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		max   int
	}{
		{"one byte: one part", 1, 1},
		{"just under a minimum part: one part", MinPartSize - 1, 1},
		{"one minimum part: a full part and a last one of 0..", MinPartSize, 2},
		{"20 MiB: four full parts and a last one", 20 * MiB, 5},
		{"just under 20 MiB", 20*MiB - 1, 4},
		{"MaxParts minimum parts", (MaxParts - 1) * MinPartSize, MaxParts},
		{"beyond MaxParts minimum parts: capped", MaxObjectSize, MaxParts},
		{"zero OpenPlan: no parts", 0, 0},
		{"over the object limit: no parts", MaxObjectSize + 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := OpenPlan{Limit: tc.limit}
			if got := p.MaxParts(); got != tc.max {
				t.Fatalf("MaxParts() = %d, want %d", got, tc.max)
			}
			for n, want := range map[int]bool{-1: false, 0: false, 1: tc.max >= 1, tc.max: tc.max >= 1, tc.max + 1: false} {
				if got := p.Valid(n); got != want {
					t.Errorf("Valid(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
}

func TestOpenPlanResolve(t *testing.T) {
	parts := func(sizes ...int64) []Part {
		var out []Part
		for i, s := range sizes {
			out = append(out, Part{Number: i + 1, ETag: "e", Size: s})
		}
		return out
	}
	open := OpenPlan{Limit: 100 * GiB}
	for _, tc := range []struct {
		name    string
		stored  []Part
		n       int
		want    Plan
		wantErr error
		msg     string
	}{
		{"one small part", parts(3), 1, Plan{Size: 3, PartSize: 3, PartCount: 1}, nil, ""},
		{"equal parts", parts(5*MiB, 5*MiB), 2, Plan{Size: 10 * MiB, PartSize: 5 * MiB, PartCount: 2}, nil, ""},
		{"shorter last", parts(5*MiB, 5*MiB, 7), 3, Plan{Size: 10*MiB + 7, PartSize: 5 * MiB, PartCount: 3}, nil, ""},
		{"extra stored parts are not counted", parts(5*MiB, 5*MiB, 5*MiB), 2, Plan{Size: 10 * MiB, PartSize: 5 * MiB, PartCount: 2}, nil, ""},
		{"longer last", parts(5*MiB, 6*MiB), 2, Plan{}, ErrIncomplete,
			"part 2 is 6291456 bytes: parts must all be 5242880 bytes but for a shorter last one"},
		{"uneven middle", parts(5*MiB, 6*MiB, 1), 3, Plan{}, ErrIncomplete,
			"part 2 is 6291456 bytes: parts must all be 5242880 bytes but for a shorter last one"},
		{"empty last", parts(5*MiB, 0), 2, Plan{}, ErrIncomplete,
			"part 2 is 0 bytes: parts must all be 5242880 bytes but for a shorter last one"},
		{"missing parts", parts(5*MiB, 5*MiB, 5*MiB)[1:2], 3, Plan{}, ErrIncomplete, "parts missing: 1, 3"},
		{"empty first", parts(0), 1, Plan{}, ErrIncomplete, "part 1 is empty"},
		{"several parts under the minimum", parts(MiB, MiB, 1), 3, Plan{}, ErrIncomplete,
			"parts are 1048576 bytes: every part but the last must hold at least 5242880 bytes"},
		{"parts over the maximum", parts(MaxPartSize+1, 1), 2, Plan{}, ErrIncomplete,
			"parts are 5368709121 bytes: a part may hold at most 5368709120 bytes"},
		{"no parts", nil, 0, Plan{}, ErrInvalidPlan, ""},
		{"more parts than the limit allows", parts(5*MiB, 5*MiB, 5*MiB), 3, Plan{}, ErrInvalidPlan, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := open
			if tc.name == "more parts than the limit allows" {
				p = OpenPlan{Limit: 10*MiB - 1} // two parts at most
			}
			got, err := p.Resolve(tc.stored, tc.n)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve = %+v, %v; want an error wrapping %v", got, err, tc.wantErr)
				}
				if tc.msg != "" && err.Error() != tc.msg {
					t.Errorf("error %q, want %q", err, tc.msg)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve = %+v, %v; want %+v", got, err, tc.want)
			}
			// A resolved plan is one Check accepts, with the stored parts.
			if _, err := Check(got, tc.stored[:tc.n], nil); err != nil {
				t.Errorf("Check of the resolved plan: %v", err)
			}
		})
	}
}

// TestOpenPlanResolveAgreesWithNewPlan: the parts of any Plan NewPlan makes
// resolve to a plan of the same size and parts (a one-part Plan may name a
// larger PartSize than its one part, which the parts cannot tell).
func TestOpenPlanResolveAgreesWithNewPlan(t *testing.T) {
	for _, size := range []int64{1, MinPartSize - 1, MinPartSize, MinPartSize + 1, 16*MiB + 1, GiB, 50000*MiB + 1, TiB} {
		for _, pref := range []int64{0, MinPartSize, 100 * MiB} {
			want, err := NewPlan(size, pref)
			if err != nil {
				t.Fatal(err)
			}
			stored := make([]Part, want.PartCount)
			for n := 1; n <= want.PartCount; n++ {
				stored[n-1] = Part{Number: n, ETag: "e", Size: want.PartSizeOf(n)}
			}
			got, err := OpenPlan{Limit: MaxObjectSize}.Resolve(stored, want.PartCount)
			if err != nil || got.Size != want.Size || got.PartCount != want.PartCount {
				t.Fatalf("size %d, preferred %d: Resolve = %+v, %v; want %+v", size, pref, got, err, want)
			}
			for n := 1; n <= want.PartCount; n++ {
				if got.PartSizeOf(n) != want.PartSizeOf(n) {
					t.Fatalf("size %d, preferred %d: part %d is %d bytes, want %d", size, pref, n, got.PartSizeOf(n), want.PartSizeOf(n))
				}
			}
		}
	}
}
