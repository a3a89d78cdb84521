package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// resultsStart is the start marker scripts/bench.sh writes before the
// results block of BENCHMARKS.md, with the SHA-256 of the block.
var resultsStart = regexp.MustCompile(`<!-- results:start sha256=([0-9a-f]{64}) -->\n`)

const resultsEnd = "<!-- results:end -->"

// resultsBlock returns the block between the markers of doc and the
// digest its start marker records.
func resultsBlock(doc string) (block, digest string, ok bool) {
	m := resultsStart.FindStringSubmatchIndex(doc)
	if m == nil {
		return "", "", false
	}
	rest := doc[m[1]:]
	end := strings.Index(rest, resultsEnd)
	if end < 0 {
		return "", "", false
	}
	return rest[:end], doc[m[2]:m[3]], true
}

// TestResultsBlockUntouched checks that the results block of
// BENCHMARKS.md is what scripts/bench.sh wrote: the suite's output of one
// run, whose "met" and "NOT met" lines chutebench computed from that
// run's figures. A hand edit inside the block changes its digest.
func TestResultsBlockUntouched(t *testing.T) {
	data, err := os.ReadFile("../../../BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	block, digest, ok := resultsBlock(doc)
	if !ok {
		t.Fatal("BENCHMARKS.md lacks the results markers with a sha256 (scripts/bench.sh writes them)")
	}
	sum := sha256.Sum256([]byte(block))
	if got := hex.EncodeToString(sum[:]); got != digest {
		t.Fatalf("the results block of BENCHMARKS.md was edited by hand (sha256 %s, marker says %s): it is written only by scripts/bench.sh; undo the edit and put notes in the History section, or rerun the script", got, digest)
	}
	if !strings.HasPrefix(block, "## Results\n") || !strings.Contains(block, "\n- date: ") {
		t.Fatal("the results block is not a suite output (no '## Results' heading or date)")
	}
	if len(resultsStart.FindAllString(doc, -1)) != 1 || strings.Count(doc, resultsEnd) != 1 {
		t.Fatal("BENCHMARKS.md must have exactly one results block")
	}
	if h := strings.Index(doc, "## History"); h < 0 || h < strings.Index(doc, resultsEnd) {
		t.Fatal("the hand-written History section must follow the results block")
	}
}

func TestResultsBlockDetectsEdits(t *testing.T) {
	body := "## Results\n\n- date: 2026-12-04T01:10:28Z\n\nTarget x: **NOT met**.\n"
	sum := sha256.Sum256([]byte(body))
	doc := "intro\n<!-- results:start sha256=" + hex.EncodeToString(sum[:]) + " -->\n" + body + resultsEnd + "\n"
	block, digest, ok := resultsBlock(doc)
	if !ok || block != body || digest != hex.EncodeToString(sum[:]) {
		t.Fatalf("resultsBlock(%q) = %q, %q, %v", doc, block, digest, ok)
	}
	edited := strings.Replace(doc, "**NOT met**", "**met**", 1)
	block, digest, _ = resultsBlock(edited)
	if s := sha256.Sum256([]byte(block)); hex.EncodeToString(s[:]) == digest {
		t.Fatal("an edited block still matches its digest")
	}
}
