package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the writer's timer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogWriterKeepsEveryLine(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines after Flush, want %d", len(lines), 8*500)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] || !strings.HasPrefix(l, "g") {
			t.Fatalf("line %q repeated or torn", l)
		}
		seen[l] = true
	}
}

func TestLogWriterFlushesWithoutFlush(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	fmt.Fprintln(w, "one line")
	// The timer writes it out on its own; wait for it (generously: the
	// machine may be busy), this asserts that it happens, not how fast.
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "one line\n" {
		if time.Now().After(deadline) {
			t.Fatalf("buffered line never written: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintln(w, "two")
	w.Flush()
	if got := out.String(); got != "one line\ntwo\n" {
		t.Fatalf("%q", got)
	}
}
