package main

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"
)

// logFlushEvery bounds how long a log line waits in the buffer.
const logFlushEvery = 50 * time.Millisecond

// logWriter buffers the log for stderr: lines are written in batches, at
// most logFlushEvery after the first unwritten one, when the buffer fills,
// and on Flush (run calls it before returning, so a clean exit or a
// shutdown loses nothing). It saves a write(2) per access-log line on a
// busy server; a crash (panic, SIGKILL) can lose the last logFlushEvery of
// lines.
type logWriter struct {
	mu    sync.Mutex
	buf   *bufio.Writer
	armed bool
}

func newLogWriter(w io.Writer) *logWriter {
	return &logWriter{buf: bufio.NewWriterSize(w, 64<<10)}
}

// stderrLog is the log output of every command.
var stderrLog = newLogWriter(os.Stderr)

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.buf.Write(p)
	if !l.armed && l.buf.Buffered() > 0 {
		l.armed = true
		time.AfterFunc(logFlushEvery, l.timed)
	}
	return n, err
}

func (l *logWriter) timed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	_ = l.buf.Flush()
}

// Flush writes out what is buffered.
func (l *logWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.buf.Flush()
}
