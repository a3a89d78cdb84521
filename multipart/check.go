package multipart

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrIncomplete means the store's parts do not make up the planned object.
// Check returns it wrapped in an *IncompleteError that says what is wrong.
var ErrIncomplete = errors.New("multipart: upload incomplete")

// maxListed is how many entries of one kind IncompleteError.Error names
// before it summarises the rest as "and N more".
const maxListed = 10

// SizeProblem is a stored part whose size differs from the plan.
type SizeProblem struct {
	Part int
	Got  int64
	Want int64
}

// IncompleteError lists everything that keeps an upload from completing.
// Every list is sorted by part number; an empty list means no problem of
// that kind. It unwraps to ErrIncomplete.
type IncompleteError struct {
	// Missing are planned parts the store does not have.
	Missing []int
	// WrongSize are stored parts whose size is not the planned one.
	WrongSize []SizeProblem
	// Mismatch are parts whose stored ETag differs from the claimed one.
	Mismatch []int
	// Unexpected are part numbers outside the plan, stored or claimed.
	Unexpected []int
}

// Error returns a concise description for people, e.g.
// "parts missing: 3, 7; part 2 is 100 bytes, expected 5242880; ETag
// mismatch on part 4". Long lists name the first ten and count the rest.
func (e *IncompleteError) Error() string {
	var msgs []string
	if len(e.Missing) > 0 {
		msgs = append(msgs, plural(len(e.Missing), "part missing: ", "parts missing: ")+listInts(e.Missing))
	}
	if len(e.WrongSize) > 0 {
		n := min(len(e.WrongSize), maxListed)
		for _, w := range e.WrongSize[:n] {
			msgs = append(msgs, fmt.Sprintf("part %d is %d bytes, expected %d", w.Part, w.Got, w.Want))
		}
		if rest := len(e.WrongSize) - n; rest > 0 {
			msgs = append(msgs, fmt.Sprintf("and %d more %s", rest, plural(rest, "part of the wrong size", "parts of the wrong size")))
		}
	}
	if len(e.Mismatch) > 0 {
		msgs = append(msgs, plural(len(e.Mismatch), "ETag mismatch on part ", "ETag mismatch on parts ")+listInts(e.Mismatch))
	}
	if len(e.Unexpected) > 0 {
		msgs = append(msgs, plural(len(e.Unexpected), "unexpected part ", "unexpected parts ")+listInts(e.Unexpected))
	}
	if len(msgs) == 0 {
		return ErrIncomplete.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns ErrIncomplete, so errors.Is(err, ErrIncomplete) holds.
func (e *IncompleteError) Unwrap() error {
	return ErrIncomplete
}

// Check compares the store's part list with the plan and with the ETags a
// client claimed, before CompleteMultipartUpload.
//
// stored is the store's own list (ListParts), in any order; when a part
// number appears more than once the last entry counts. claimed maps part
// numbers to the ETags the client reported; it may be nil or name only
// some parts.
//
// Every part 1..plan.PartCount must be stored with exactly
// plan.PartSizeOf(n) bytes; a stored part outside the plan is unexpected;
// every claimed part must be stored with the same ETag (see SameETag), and
// a claimed part outside the plan is unexpected. A claimed part that is
// not stored is reported as missing only.
//
// On success Check returns the stored parts sorted by number, 1..PartCount,
// with the ETags as the store gave them, ready for CompleteMultipartUpload.
// Otherwise it returns an *IncompleteError (wrapping ErrIncomplete), or an
// error wrapping ErrInvalidPlan when plan was not made by NewPlan.
func Check(plan Plan, stored []Part, claimed map[int]string) ([]Part, error) {
	if err := plan.validate(); err != nil {
		return nil, err
	}

	// Index the planned parts by number; later duplicates overwrite. An
	// unset entry has Number 0, which no planned part has.
	byNum := make([]Part, plan.PartCount+1)
	var unexpected []int
	for _, p := range stored {
		if !plan.Valid(p.Number) {
			unexpected = append(unexpected, p.Number)
			continue
		}
		byNum[p.Number] = p
	}

	var e IncompleteError
	for n := 1; n <= plan.PartCount; n++ {
		if byNum[n].Number != n {
			e.Missing = append(e.Missing, n)
			continue
		}
		if got, want := byNum[n].Size, plan.PartSizeOf(n); got != want {
			e.WrongSize = append(e.WrongSize, SizeProblem{Part: n, Got: got, Want: want})
		}
	}
	for n, etag := range claimed {
		switch {
		case !plan.Valid(n):
			unexpected = append(unexpected, n)
		case byNum[n].Number == n && !SameETag(byNum[n].ETag, etag):
			e.Mismatch = append(e.Mismatch, n)
		}
	}
	slices.Sort(e.Mismatch)
	slices.Sort(unexpected)
	e.Unexpected = slices.Compact(unexpected)

	if len(e.Missing) > 0 || len(e.WrongSize) > 0 || len(e.Mismatch) > 0 || len(e.Unexpected) > 0 {
		return nil, &e
	}
	return byNum[1:], nil
}

// listInts formats up to maxListed numbers as "1, 2, 3" and counts the
// rest: "1, 2, ..., 10 and 5 more".
func listInts(ns []int) string {
	var b strings.Builder
	n := min(len(ns), maxListed)
	for i, v := range ns[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(v))
	}
	if rest := len(ns) - n; rest > 0 {
		fmt.Fprintf(&b, " and %d more", rest)
	}
	return b.String()
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
