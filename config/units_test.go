package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"1024", 1024},
		{"1_048_576", 1 << 20},
		{"16MiB", 16 << 20},
		{"16mib", 16 << 20},
		{"16 MiB", 16 << 20},
		{"16M", 16 << 20},
		{"16Mi", 16 << 20},
		{"16m", 16 << 20},
		{"5GiB", 5 << 30},
		{"5 MB", 5_000_000},
		{"5KB", 5000},
		{"2k", 2048},
		{"1TiB", 1 << 40},
		{"1TB", 1_000_000_000_000},
		{"1.5GiB", 3 << 29},
		{"0.5KiB", 512},
		{"12B", 12},
		{" 7 b ", 7},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if err != nil {
			t.Errorf("ParseByteSize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseByteSizeErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "empty"},
		{"   ", "empty"},
		{"abc", "unknown unit"},
		{"MiB", "not a size"},
		{"-1", "unknown unit"},
		{"5XB", "unknown unit"},
		{"1.5B", "whole number"},
		{"0.1KiB", "whole number"},
		{"1.2.3MiB", "not a size"},
		{"1.MiB", "not a size"},
		{"99999999TiB", "too large"},
		{"9223372036854775808", "too large"},
	}
	for _, tt := range tests {
		_, err := ParseByteSize(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseByteSize(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1, "1B"},
		{1000, "1000B"},
		{1024, "1KiB"},
		{1536, "1536B"},
		{16 << 20, "16MiB"},
		{5 << 30, "5GiB"},
		{3 << 29, "1536MiB"},
		{2 << 40, "2TiB"},
		{-(5 << 20), "-5MiB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"15m", 15 * time.Minute},
		{"24h", 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"7d", 7 * 24 * time.Hour},
		{" 2d ", 48 * time.Hour},
		{"-1h", -time.Hour},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if got.Std() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got.Std(), tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "empty"},
		{"900", "no unit"},
		{"1.5", "no unit"},
		{"abc", "not a duration"},
		{"1.5d", "not a duration"},
		{"-2d", "not a duration"},
		{"10 minutes", "not a duration"},
		{"999999999999d", "too long"},
	}
	for _, tt := range tests {
		_, err := ParseDuration(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseDuration(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{24 * time.Hour, "24h"},
		{15 * time.Minute, "15m"},
		{90 * time.Minute, "1h30m"},
		{90 * time.Second, "1m30s"},
		{time.Hour + time.Second, "1h0m1s"},
		{500 * time.Millisecond, "500ms"},
		{30 * time.Second, "30s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.in).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ParseDuration(tt.want)
		if err != nil || back.Std() != tt.in {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, back.Std(), err, tt.in)
		}
	}
}

// TestUnitsYAML checks that both types go through YAML as readable strings
// and that YAML integers are read as sizes.
func TestUnitsYAML(t *testing.T) {
	type doc struct {
		Size ByteSize `yaml:"size"`
		Raw  ByteSize `yaml:"raw"`
		TTL  Duration `yaml:"ttl"`
	}
	var d doc
	if err := yaml.Unmarshal([]byte("size: 16MiB\nraw: 1024\nttl: 15m\n"), &d); err != nil {
		t.Fatal(err)
	}
	if d.Size != 16<<20 || d.Raw != 1024 || d.TTL.Std() != 15*time.Minute {
		t.Fatalf("decoded %+v", d)
	}
	out, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "size: 16MiB\nraw: 1KiB\nttl: 15m\n"; string(out) != want {
		t.Fatalf("encoded %q, want %q", out, want)
	}
	if err := yaml.Unmarshal([]byte("size: lots\n"), &d); err == nil {
		t.Fatal("size: lots decoded without error")
	}
}
