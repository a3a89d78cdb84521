// Package jsonlog is slog's JSON handler with a fast path for the lines
// a busy server writes most: the access log line of every request.
//
// slog.JSONHandler formats a float64 attribute through encoding/json
// ("floats are rare"), and the access log's duration_ms is one on every
// request; with the time and the attribute walk that was about a tenth
// of the CPU of a sign-part request. New returns a handler that writes
// simple records itself, byte for byte as slog.JSONHandler writes them
// (jsonlog_test.go compares both over many records), and hands every
// other record to a slog.JSONHandler on the same writer:
//
//   - simple: no groups or attributes added with WithAttrs/WithGroup, no
//     AddSource or ReplaceAttr in the options, attributes of kind string,
//     int64, uint64, float64 (finite), bool or duration, keys and string
//     values of printable ASCII other than `"` and `\`, a time in years
//     0-9999;
//   - everything else: slog.JSONHandler.
//
// Both paths write whole lines through one mutex, so lines never
// interleave, whatever the writer.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
)

// New returns the handler for w with opts (nil: defaults).
func New(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	lw := &lockedWriter{w: w}
	h := &handler{inner: slog.NewJSONHandler(lw, opts), lw: lw}
	h.fast = !opts.AddSource && opts.ReplaceAttr == nil
	return h
}

// lockedWriter serialises the whole-line writes of both paths.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type handler struct {
	inner slog.Handler
	lw    *lockedWriter
	fast  bool // the options allow the fast path
}

// bufPool holds line buffers; lines longer than maxPooled are not kept.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooled = 4 << 10

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// WithAttrs and WithGroup leave the fast path: the records of the
// handler they return are all written by slog.JSONHandler.
func (h *handler) WithAttrs(as []slog.Attr) slog.Handler { return h.inner.WithAttrs(as) }
func (h *handler) WithGroup(name string) slog.Handler    { return h.inner.WithGroup(name) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.inner.Handle(ctx, r)
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendRecord((*bp)[:0], r)
	var err error
	if ok {
		_, err = h.lw.Write(b)
	} else {
		err = h.inner.Handle(ctx, r)
	}
	if cap(b) <= maxPooled {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return err
}

// appendRecord appends r as slog.JSONHandler (no options) writes it, or
// reports false when r is not simple.
func appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	b = append(b, '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, `","msg":`...)
	var ok bool
	if b, ok = appendString(b, r.Message); !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false // slog drops or groups such attributes: its business
			return false
		}
		b = append(b, ',')
		if b, ok = appendString(b, a.Key); !ok {
			return false
		}
		b = append(b, ':')
		b, ok = appendValue(b, a.Value)
		return ok
	})
	if !ok {
		return b, false
	}
	return append(b, "}\n"...), true
}

func appendValue(b []byte, v slog.Value) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10), true
	case slog.KindFloat64:
		return appendFloat(b, v.Float64())
	}
	return b, false
}

// appendFloat writes f as encoding/json does (slog.JSONHandler formats
// floats with json.Marshal); NaN and infinities are not simple.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendString quotes s when it needs no escaping: printable ASCII
// without `"` and `\`.
func appendString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
