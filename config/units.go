package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ByteSize is a number of bytes. In YAML and in environment variables it is
// written as a plain integer ("1048576") or as a number with a unit:
// "16MiB", "5 GiB", "1.5GiB", "5 MB". Units are case-insensitive:
// B; KiB, MiB, GiB, TiB (powers of 1024); KB, MB, GB, TB (powers of 1000);
// and the short forms K, M, G, T (and Ki, Mi, Gi, Ti), which mean powers of
// 1024. A fraction is allowed as long as the result is a whole number of
// bytes.
type ByteSize int64

var byteUnits = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1 << 10,
	"ki":  1 << 10,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mi":  1 << 20,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gi":  1 << 30,
	"gib": 1 << 30,
	"t":   1 << 40,
	"ti":  1 << 40,
	"tib": 1 << 40,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
}

// ParseByteSize returns the number of bytes that s describes; see ByteSize
// for the accepted forms. Negative sizes are refused.
func ParseByteSize(s string) (ByteSize, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty size")
	}
	i := strings.IndexFunc(in, func(r rune) bool { return !(unicode.IsDigit(r) || r == '.' || r == '_') })
	num, unit := in, ""
	if i >= 0 {
		num, unit = in[:i], strings.TrimSpace(in[i:])
	}
	num = strings.ReplaceAll(num, "_", "")
	mult, ok := byteUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", s, unit)
	}
	if num == "" || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("%q is not a size (e.g. 16MiB, 5GiB, 1048576)", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a size (e.g. 16MiB, 5GiB, 1048576)", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(n.Int64()), nil
}

// String returns the size in the largest binary unit that divides it
// exactly ("16MiB", "5GiB"), or in bytes ("1000B"); zero is "0".
func (b ByteSize) String() string {
	v := int64(b)
	if v == 0 {
		return "0"
	}
	if v == math.MinInt64 {
		return strconv.FormatInt(v, 10) + "B"
	}
	abs := v
	if abs < 0 {
		abs = -abs
	}
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if abs%u.size == 0 {
			return strconv.FormatInt(v/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(v, 10) + "B"
}

// Int64 returns the size as a plain number of bytes.
func (b ByteSize) Int64() int64 { return int64(b) }

// MarshalText writes the size as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses the size as ParseByteSize does.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is a length of time. In YAML and in environment variables it is
// written as Go writes durations ("15m", "24h", "1h30m", "500ms"), with one
// addition: a whole number of days, "7d". A bare number without a unit is
// refused (except "0"), so "900" can't be mistaken for seconds or minutes.
type Duration time.Duration

// ParseDuration returns the duration that s describes; see Duration for the
// accepted forms.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty duration")
	}
	if days, ok := strings.CutSuffix(in, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration (e.g. 15m, 24h, 7d)", s)
		}
		if n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	if _, err := strconv.ParseFloat(in, 64); err == nil && in != "0" {
		return 0, fmt.Errorf("%q has no unit (e.g. %ss or %sm)", s, in, in)
	}
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 15m, 24h, 7d)", s)
	}
	return Duration(d), nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns the duration as Go writes it, without trailing zero
// units: "24h", "15m", "1h30m", "1m30s", "500ms"; zero is "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the duration as ParseDuration does.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
