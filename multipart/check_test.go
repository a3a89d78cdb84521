package multipart

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// threeParts is a plan of 5 MiB, 5 MiB and 3 bytes.
var threeParts = Plan{Size: 10*MiB + 3, PartSize: 5 * MiB, PartCount: 3}

// good returns part n of threeParts as a store would list it.
func good(n int) Part {
	return Part{Number: n, ETag: fmt.Sprintf(`"etag-%d"`, n), Size: threeParts.PartSizeOf(n)}
}

func sized(n int, size int64) Part {
	p := good(n)
	p.Size = size
	return p
}

func tagged(n int, etag string) Part {
	p := good(n)
	p.ETag = etag
	return p
}

func TestCheck(t *testing.T) {
	all := []Part{good(1), good(2), good(3)}
	tests := []struct {
		name    string
		stored  []Part
		claimed map[int]string
		want    *IncompleteError // nil: Check succeeds
	}{
		{
			name:   "all stored, nothing claimed",
			stored: all,
		},
		{
			name:   "any order",
			stored: []Part{good(3), good(1), good(2)},
		},
		{
			name:    "claims match in other spellings",
			stored:  all,
			claimed: map[int]string{1: "etag-1", 2: `W/"ETAG-2"`, 3: `&quot;etag-3&quot;`},
		},
		{
			name:    "partial claims",
			stored:  all,
			claimed: map[int]string{2: `"etag-2"`},
		},
		{
			name:    "empty claims map",
			stored:  all,
			claimed: map[int]string{},
		},
		{
			name:   "duplicate keeps the last: fixed",
			stored: []Part{good(1), sized(2, 100), good(3), good(2)},
		},
		{
			name:   "duplicate keeps the last: broken",
			stored: []Part{good(1), good(2), good(3), sized(2, 100)},
			want:   &IncompleteError{WrongSize: []SizeProblem{{2, 100, 5 * MiB}}},
		},
		{
			name:    "duplicate keeps the last ETag",
			stored:  []Part{good(1), tagged(2, "old"), good(3), tagged(2, "new")},
			claimed: map[int]string{2: "new"},
		},
		{
			name:   "nothing stored",
			stored: nil,
			want:   &IncompleteError{Missing: []int{1, 2, 3}},
		},
		{
			name:   "middle part missing",
			stored: []Part{good(1), good(3)},
			want:   &IncompleteError{Missing: []int{2}},
		},
		{
			name:    "claimed but missing is reported as missing only",
			stored:  []Part{good(1), good(2)},
			claimed: map[int]string{3: "etag-3"},
			want:    &IncompleteError{Missing: []int{3}},
		},
		{
			name:   "non-last part too small",
			stored: []Part{good(1), sized(2, 5*MiB-1), good(3)},
			want:   &IncompleteError{WrongSize: []SizeProblem{{2, 5*MiB - 1, 5 * MiB}}},
		},
		{
			name:   "non-last part too large",
			stored: []Part{sized(1, 5*MiB+1), good(2), good(3)},
			want:   &IncompleteError{WrongSize: []SizeProblem{{1, 5*MiB + 1, 5 * MiB}}},
		},
		{
			name:   "last part of full part size",
			stored: []Part{good(1), good(2), sized(3, 5*MiB)},
			want:   &IncompleteError{WrongSize: []SizeProblem{{3, 5 * MiB, 3}}},
		},
		{
			name:   "last part empty",
			stored: []Part{good(1), good(2), sized(3, 0)},
			want:   &IncompleteError{WrongSize: []SizeProblem{{3, 0, 3}}},
		},
		{
			name:   "stored parts outside the plan",
			stored: []Part{good(1), good(2), good(3), sized(4, 1), sized(0, 1), sized(-2, 1), sized(MaxParts+1, 1)},
			want:   &IncompleteError{Unexpected: []int{-2, 0, 4, MaxParts + 1}},
		},
		{
			name:    "claimed parts outside the plan",
			stored:  all,
			claimed: map[int]string{1: "etag-1", 0: "x", 4: "y"},
			want:    &IncompleteError{Unexpected: []int{0, 4}},
		},
		{
			name:    "outside part both stored and claimed is listed once",
			stored:  []Part{good(1), good(2), good(3), sized(4, 1), sized(4, 2)},
			claimed: map[int]string{4: "etag-4"},
			want:    &IncompleteError{Unexpected: []int{4}},
		},
		{
			name:    "ETag mismatch",
			stored:  all,
			claimed: map[int]string{1: "etag-1", 2: "etag-x", 3: "etag-2"},
			want:    &IncompleteError{Mismatch: []int{2, 3}},
		},
		{
			name:    "empty claimed ETag never matches",
			stored:  all,
			claimed: map[int]string{1: ""},
			want:    &IncompleteError{Mismatch: []int{1}},
		},
		{
			name:    "claimed ETag of empty quotes never matches",
			stored:  []Part{tagged(1, `""`), good(2), good(3)},
			claimed: map[int]string{1: `""`},
			want:    &IncompleteError{Mismatch: []int{1}},
		},
		{
			name:    "stored ETag empty with a claim",
			stored:  []Part{tagged(1, ""), good(2), good(3)},
			claimed: map[int]string{1: "etag-1"},
			want:    &IncompleteError{Mismatch: []int{1}},
		},
		{
			name:    "mismatch and wrong size on one part are both reported",
			stored:  []Part{good(1), sized(2, 1), good(3)},
			claimed: map[int]string{2: "other"},
			want: &IncompleteError{
				WrongSize: []SizeProblem{{2, 1, 5 * MiB}},
				Mismatch:  []int{2},
			},
		},
		{
			name:    "every kind at once",
			stored:  []Part{sized(2, 100), good(3), sized(7, 1)},
			claimed: map[int]string{3: "nope", 9: "x"},
			want: &IncompleteError{
				Missing:    []int{1},
				WrongSize:  []SizeProblem{{2, 100, 5 * MiB}},
				Mismatch:   []int{3},
				Unexpected: []int{7, 9},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := append([]Part(nil), tt.stored...)
			got, err := Check(threeParts, tt.stored, tt.claimed)
			if !reflect.DeepEqual(tt.stored, stored) {
				t.Errorf("Check changed its input: %v, was %v", tt.stored, stored)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				want := wantParts(tt.stored)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Check = %v, want %v", got, want)
				}
				return
			}
			if got != nil {
				t.Errorf("Check returned parts %v with an error", got)
			}
			var ie *IncompleteError
			if !errors.As(err, &ie) {
				t.Fatalf("Check error = %v (%T), want *IncompleteError", err, err)
			}
			if !errors.Is(err, ErrIncomplete) {
				t.Errorf("errors.Is(%v, ErrIncomplete) = false", err)
			}
			if !reflect.DeepEqual(ie, tt.want) {
				t.Fatalf("Check error = %#v, want %#v", ie, tt.want)
			}
		})
	}
}

// wantParts returns the last entry for each planned part number of
// threeParts in stored, sorted by number.
func wantParts(stored []Part) []Part {
	out := make([]Part, threeParts.PartCount)
	for _, p := range stored {
		out[p.Number-1] = p
	}
	return out
}

func TestCheckKeepsStoreETags(t *testing.T) {
	stored := []Part{tagged(2, `"ABC-2"`), tagged(1, ` W/"abc-1" `), good(3)}
	got, err := Check(threeParts, stored, map[int]string{1: "abc-1", 2: "abc-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ETag != ` W/"abc-1" ` || got[1].ETag != `"ABC-2"` {
		t.Errorf("ETags = %q, %q, want the store's own spelling", got[0].ETag, got[1].ETag)
	}
}

func TestCheckInvalidPlan(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
	}{
		{"zero plan", Plan{}},
		{"no parts", Plan{Size: 1, PartSize: 5 * MiB, PartCount: 0}},
		{"zero part size", Plan{Size: 1, PartSize: 0, PartCount: 1}},
		{"count too small for size", Plan{Size: 10 * MiB, PartSize: 5 * MiB, PartCount: 1}},
		{"count too large for size", Plan{Size: 10 * MiB, PartSize: 5 * MiB, PartCount: 3}},
		{"too many parts", Plan{Size: (MaxParts + 1) * MinPartSize, PartSize: MinPartSize, PartCount: MaxParts + 1}},
		{"part too small", Plan{Size: 2 * MiB, PartSize: MiB, PartCount: 2}},
		{"part too large", Plan{Size: 6 * GiB, PartSize: 6 * GiB, PartCount: 1}},
		{"object too large", Plan{Size: 5*TiB + 1, PartSize: 5 * GiB, PartCount: 1025}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(tt.plan, []Part{{Number: 1, ETag: "x", Size: 1}}, nil)
			if !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("Check(%+v) = %v, %v; want ErrInvalidPlan", tt.plan, got, err)
			}
			if errors.Is(err, ErrIncomplete) {
				t.Errorf("an invalid plan must not look like an incomplete upload: %v", err)
			}
		})
	}
}

// TestCheckRandomPlans builds the store's list for random plans, checks it
// passes in any order, then breaks one part and checks exactly that part is
// reported.
func TestCheckRandomPlans(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 50 {
		size := 1 + rng.Int64N(200*GiB)
		plan, err := NewPlan(size, MiB*rng.Int64N(64))
		if err != nil {
			t.Fatal(err)
		}
		stored := make([]Part, plan.PartCount)
		claimed := make(map[int]string, plan.PartCount)
		for i := range stored {
			n := i + 1
			stored[i] = Part{Number: n, ETag: fmt.Sprintf(`"%032x"`, n), Size: plan.PartSizeOf(n)}
			claimed[n] = fmt.Sprintf("%032X", n)
		}
		want := append([]Part(nil), stored...)
		rng.Shuffle(len(stored), func(i, j int) { stored[i], stored[j] = stored[j], stored[i] })

		got, err := Check(plan, stored, claimed)
		if err != nil {
			t.Fatalf("plan %+v: %v", plan, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("plan %+v: parts not returned sorted", plan)
		}

		i := rng.IntN(len(stored))
		n := stored[i].Number
		var wantErr IncompleteError
		switch rng.IntN(3) {
		case 0:
			stored = append(stored[:i:i], stored[i+1:]...)
			wantErr.Missing = []int{n}
		case 1:
			stored[i].Size++
			wantErr.WrongSize = []SizeProblem{{n, plan.PartSizeOf(n) + 1, plan.PartSizeOf(n)}}
		default:
			stored[i].ETag = `"other"`
			wantErr.Mismatch = []int{n}
		}
		_, err = Check(plan, stored, claimed)
		var ie *IncompleteError
		if !errors.As(err, &ie) || !reflect.DeepEqual(*ie, wantErr) {
			t.Fatalf("plan %+v, part %d broken: error = %v, want %v", plan, n, err, &wantErr)
		}
	}
}

// TestCheckSortsLists claims many wrong and out-of-plan ETags, so that map
// order would show if the lists were not sorted.
func TestCheckSortsLists(t *testing.T) {
	plan, err := NewPlan(40*MinPartSize, MinPartSize)
	if err != nil {
		t.Fatal(err)
	}
	count := plan.PartCount
	stored := []Part{{Number: 0}}
	claimed := map[int]string{}
	want := &IncompleteError{}
	for n := 1; n <= count; n++ {
		stored = append(stored, Part{Number: n, ETag: "right", Size: plan.PartSizeOf(n)})
		claimed[n] = "wrong"
		claimed[-n] = "x"
		claimed[count+n] = "x"
		want.Mismatch = append(want.Mismatch, n)
	}
	for n := -count; n <= 2*count; n++ {
		if !plan.Valid(n) {
			want.Unexpected = append(want.Unexpected, n) // -40..0 and 41..80
		}
	}
	_, err = Check(plan, stored, claimed)
	var ie *IncompleteError
	if !errors.As(err, &ie) || !reflect.DeepEqual(ie, want) {
		t.Fatalf("Check error = %#v, want %#v", err, want)
	}
}

func TestIncompleteErrorMessage(t *testing.T) {
	seq := func(from, to int) []int {
		var s []int
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	var manySizes []SizeProblem
	for n := 1; n <= 12; n++ {
		manySizes = append(manySizes, SizeProblem{Part: n, Got: 1, Want: 2})
	}
	tests := []struct {
		name string
		err  IncompleteError
		want string
	}{
		{"empty", IncompleteError{}, "multipart: upload incomplete"},
		{"one missing", IncompleteError{Missing: []int{3}}, "part missing: 3"},
		{"brief's example", IncompleteError{
			Missing:   []int{3, 7},
			WrongSize: []SizeProblem{{2, 100, 5242880}},
			Mismatch:  []int{4},
		}, "parts missing: 3, 7; part 2 is 100 bytes, expected 5242880; ETag mismatch on part 4"},
		{"ten missing, no summary", IncompleteError{Missing: seq(1, 10)},
			"parts missing: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"},
		{"many missing", IncompleteError{Missing: seq(1, 10000)},
			"parts missing: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 9990 more"},
		{"many wrong sizes", IncompleteError{WrongSize: manySizes},
			"part 1 is 1 bytes, expected 2; part 2 is 1 bytes, expected 2; part 3 is 1 bytes, expected 2; " +
				"part 4 is 1 bytes, expected 2; part 5 is 1 bytes, expected 2; part 6 is 1 bytes, expected 2; " +
				"part 7 is 1 bytes, expected 2; part 8 is 1 bytes, expected 2; part 9 is 1 bytes, expected 2; " +
				"part 10 is 1 bytes, expected 2; and 2 more parts of the wrong size"},
		{"mismatches", IncompleteError{Mismatch: seq(5, 16)},
			"ETag mismatch on parts 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 2 more"},
		{"one unexpected", IncompleteError{Unexpected: []int{0}}, "unexpected part 0"},
		{"unexpected", IncompleteError{Unexpected: []int{0, 10001}}, "unexpected parts 0, 10001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIncompleteErrorMessageOneMore(t *testing.T) {
	var e IncompleteError
	for n := 1; n <= 11; n++ {
		e.WrongSize = append(e.WrongSize, SizeProblem{Part: n, Got: 1, Want: 2})
	}
	got := e.Error()
	want := "part 10 is 1 bytes, expected 2; and 1 more part of the wrong size"
	if !strings.HasSuffix(got, want) || strings.Count(got, "expected") != 10 {
		t.Fatalf("Error() = %q, want ten parts named and suffix %q", got, want)
	}
}

func ExampleCheck() {
	plan, _ := NewPlan(12*MiB, 5*MiB)
	stored := []Part{
		{Number: 3, ETag: `"c"`, Size: 2 * MiB},
		{Number: 1, ETag: `"a"`, Size: 100},
	}
	_, err := Check(plan, stored, map[int]string{3: "C"})
	fmt.Println(err)
	// Output: part missing: 2; part 1 is 100 bytes, expected 5242880
}

// TestCheckOneSmallPart: an upload of one part under MinPartSize is valid
// (the only part is the last one), as S3 completes it.
func TestCheckOneSmallPart(t *testing.T) {
	plan := Plan{Size: 2048, PartSize: 2048, PartCount: 1}
	got, err := Check(plan, []Part{{Number: 1, ETag: `"abc"`, Size: 2048}}, map[int]string{1: "abc"})
	if err != nil || len(got) != 1 || got[0].Size != 2048 {
		t.Fatalf("Check(%+v) = %v, %v", plan, got, err)
	}
	if _, err := Check(Plan{Size: 2048, PartSize: 1024, PartCount: 2}, nil, nil); !errors.Is(err, ErrInvalidPlan) {
		t.Fatalf("two parts under the minimum: %v", err)
	}
}
