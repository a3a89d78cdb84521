package multipart

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkNewPlan(b *testing.B) {
	sizes := []int64{1, GiB, 160000*MiB + 1, 5 * TiB}
	for b.Loop() {
		for _, s := range sizes {
			if _, err := NewPlan(s, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCheck checks a complete upload of MaxParts parts, listed in
// shuffled order, against a full map of claimed ETags.
func BenchmarkCheck(b *testing.B) {
	plan, err := NewPlan(MaxParts*MinPartSize, MinPartSize)
	if err != nil {
		b.Fatal(err)
	}
	stored := make([]Part, plan.PartCount)
	claimed := make(map[int]string, plan.PartCount)
	for i := range stored {
		n := i + 1
		etag := fmt.Sprintf("%032x", n)
		stored[i] = Part{Number: n, ETag: `"` + etag + `"`, Size: plan.PartSizeOf(n)}
		claimed[n] = etag
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(stored), func(i, j int) { stored[i], stored[j] = stored[j], stored[i] })

	b.ReportAllocs()
	for b.Loop() {
		parts, err := Check(plan, stored, claimed)
		if err != nil || len(parts) != MaxParts {
			b.Fatalf("Check: %d parts, %v", len(parts), err)
		}
	}
}
