package main

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// cancelOnWrite cancels a context at the first write that contains want:
// the moment chute prints that it serves.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	want   []byte
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), w.want) {
		w.cancel()
	}
	return len(p), nil
}

// TestStopsWhenStoppedAsItStarts: a stop (SIGTERM) that arrives as chute
// starts serving, before the HTTP server runs, still ends the process; the
// server must not start afterwards and serve on.
func TestStopsWhenStoppedAsItStarts(t *testing.T) {
	t.Setenv("CHUTE_CONFIG", "")
	// The stop comes first: the server goroutine is held back past it.
	beforeServe = func() { time.Sleep(300 * time.Millisecond) }
	t.Cleanup(func() { beforeServe = func() {} })
	for i := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		out := &cancelOnWrite{want: []byte("Stop with Ctrl-C."), cancel: cancel}
		done := make(chan error, 1)
		go func() {
			done <- cmdDev(ctx, []string{"--listen", "127.0.0.1:0", "--data", t.TempDir()}, out, io.Discard)
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
			if ctx.Err() == nil {
				t.Fatalf("run %d: chute dev returned before it was stopped:\n%s", i, out.buf.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: chute dev still running 30 s after it was stopped as it started", i)
		}
		cancel()
	}
}
