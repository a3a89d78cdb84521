package jsonlog

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// same logs r through New and through slog.NewJSONHandler and fails
// unless both write the same bytes; it reports whether the fast path
// wrote the line.
func same(t *testing.T, opts *slog.HandlerOptions, r slog.Record) bool {
	t.Helper()
	var got, want bytes.Buffer
	if err := New(&got, opts).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := slog.NewJSONHandler(&want, opts).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("jsonlog wrote\n%s\nslog.JSONHandler writes\n%s", got.String(), want.String())
	}
	_, fast := appendRecord(nil, r)
	return fast && opts == nil
}

func record(t time.Time, level slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

func TestSameAsSlog(t *testing.T) {
	now := time.Date(2026, 12, 7, 19, 20, 21, 123456789, time.UTC)
	access := record(now, slog.LevelInfo, "request",
		slog.String("request_id", "0123456789abcdef"), slog.String("method", "POST"),
		slog.String("route", "/v1/uploads/:id/part-urls"), slog.Int("status", 200), slog.Float64("duration_ms", 0.127))
	if !same(t, nil, access) {
		t.Fatal("the access log line did not take the fast path")
	}
	cases := []slog.Record{
		record(time.Time{}, slog.LevelWarn, "no time"),
		record(now.In(time.FixedZone("x", -3*3600-1800)), slog.LevelError+2, "zone and level"),
		record(now.Truncate(time.Second), slog.LevelDebug, "whole second", slog.Bool("b", false), slog.Uint64("u", math.MaxUint64),
			slog.Int64("i", math.MinInt64), slog.Duration("d", -time.Second)),
		record(now, slog.LevelInfo, `quote " in msg`),
		record(now, slog.LevelInfo, "tab\tand é and \u2028", slog.String("k", "<&>")),
		record(now, slog.LevelInfo, "bad utf-8 \xff", slog.String("k\n", "v")),
		record(now, slog.LevelInfo, "any", slog.Any("err", "x"), slog.Any("m", map[string]int{"a": 1})),
		record(now, slog.LevelInfo, "group", slog.Group("g", slog.Int("a", 1))),
		record(now, slog.LevelInfo, "empty key", slog.Attr{}, slog.Int("a", 1)),
		record(now, slog.LevelInfo, "time attr", slog.Time("t", now)),
		record(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "year 12000"),
		record(now, slog.LevelInfo, "floats", slog.Float64("nan", math.NaN())),
		record(now, slog.LevelInfo, "inf", slog.Float64("inf", math.Inf(-1))),
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-6, 9.99e-7, 1e-9, 1.5e-10, 1e20, 1e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 3.14e-300} {
		cases = append(cases, record(now, slog.LevelInfo, "float", slog.Float64("f", f)))
	}
	for _, r := range cases {
		same(t, nil, r)
	}
	// Options that leave the fast path.
	same(t, &slog.HandlerOptions{AddSource: true}, access)
	same(t, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return a }}, access)
	same(t, &slog.HandlerOptions{Level: slog.LevelDebug}, access)

	// Random durations as the access log writes them, and random strings.
	r := rand.New(rand.NewPCG(5, 6))
	fast := 0
	for range 20000 {
		d := time.Duration(r.Int64N(int64(10 * time.Second)))
		s := randString(r)
		if same(t, nil, record(now.Add(d), slog.LevelInfo, "request", slog.String("route", s),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Float64("x", r.NormFloat64()*math.Pow(10, float64(r.IntN(60)-30))))) {
			fast++
		}
	}
	if fast == 0 {
		t.Fatal("no random record took the fast path")
	}
}

func randString(r *rand.Rand) string {
	const alphabet = "az/:_-. \"\\\x01\x7f\u00e9<>&"
	rs := []rune(alphabet)
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteRune(rs[r.IntN(len(rs))])
	}
	return b.String()
}

// TestWithAttrsAndLevel: derived handlers and the level filter behave as
// slog.JSONHandler's.
func TestWithAttrsAndLevel(t *testing.T) {
	var got, want bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelWarn}
	lg, ls := slog.New(New(&got, opts)), slog.New(slog.NewJSONHandler(&want, opts))
	for _, l := range []*slog.Logger{lg, ls} {
		l.Info("dropped")
		l.With("a", 1).WithGroup("g").Warn("kept", "b", 2)
		l.Error("plain", "c", 3)
	}
	strip := func(s string) string { // the times differ
		var out []string
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, `"level"`); i >= 0 {
				line = line[i:]
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	if strip(got.String()) != strip(want.String()) || strings.Contains(got.String(), "dropped") {
		t.Fatalf("got\n%s\nwant\n%s", got.String(), want.String())
	}
}

// TestConcurrentLinesWhole: the fast path and slog's path write whole
// lines through one lock, even to a writer that is not safe for
// concurrent use.
func TestConcurrentLinesWhole(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(New(&buf, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if (g+i)%2 == 0 {
					l.Info("request", "n", i)
				} else {
					l.Info("slow", "m", map[string]int{"n": i}) // slog's path
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"time":"`) || !strings.HasSuffix(line, "}") {
			t.Fatalf("broken line %q", line)
		}
	}
}

func BenchmarkAccessLine(b *testing.B) {
	for _, impl := range []struct {
		name string
		h    slog.Handler
	}{{"jsonlog", New(discard{}, nil)}, {"slog", slog.NewJSONHandler(discard{}, nil)}} {
		b.Run(impl.name, func(b *testing.B) {
			l := slog.New(impl.h)
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(context.Background(), slog.LevelInfo, "request",
					slog.String("request_id", "0123456789abcdef"), slog.String("method", "POST"),
					slog.String("route", "/v1/uploads/:id/part-urls"), slog.Int("status", 200), slog.Float64("duration_ms", 0.127))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkAccessLineHandler(b *testing.B) {
	h := New(discard{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("request_id", "0123456789abcdef"), slog.String("method", "POST"),
			slog.String("route", "/v1/uploads/:id/part-urls"), slog.Int("status", 200), slog.Float64("duration_ms", 0.127))
		_ = h.Handle(context.Background(), r)
	}
}
