package options

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// MemorySize is a number of bytes, written as Flink writes memory sizes: "64 mb", "1gb", "512 kb", "100".
type MemorySize int64

// String formats the size with the largest unit that divides it: "64 mb", "1 kb", "100 bytes".
func (m MemorySize) String() string {
	units := []struct {
		n    int64
		name string
	}{{1 << 40, "tb"}, {1 << 30, "gb"}, {1 << 20, "mb"}, {1 << 10, "kb"}}
	for _, u := range units {
		if m != 0 && int64(m)%u.n == 0 {
			return fmt.Sprintf("%d %s", int64(m)/u.n, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", int64(m))
}

// ParseMemorySize parses a memory size as Flink's MemorySize.parse: a non-negative integer and an optional
// unit (b/bytes, k/kb/kibibytes, m/mb/mebibytes, g/gb/gibibytes, t/tb/tebibytes; case-insensitive; binary
// multiples). No unit means bytes.
func ParseMemorySize(s string) (MemorySize, error) {
	num, unit := splitNumber(s)
	if num == "" {
		return 0, fmt.Errorf("'%s' is not a memory size (e.g. '64 mb', '512 kb', '1 gb')", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a memory size: the number is too large", s)
	}
	var mul int64
	switch strings.ToLower(unit) {
	case "", "b", "bytes":
		mul = 1
	case "k", "kb", "kibibytes":
		mul = 1 << 10
	case "m", "mb", "mebibytes":
		mul = 1 << 20
	case "g", "gb", "gibibytes":
		mul = 1 << 30
	case "t", "tb", "tebibytes":
		mul = 1 << 40
	default:
		return 0, fmt.Errorf("'%s' is not a memory size: unknown unit '%s' (want one of b, kb, mb, gb, tb)", s, unit)
	}
	if n > math.MaxInt64/mul {
		return 0, fmt.Errorf("'%s' is not a memory size: it does not fit in 64 bits", s)
	}
	return MemorySize(n * mul), nil
}

// durationUnits are Flink's TimeUtils labels; plural labels also take a trailing 's'.
var durationUnits = []struct {
	d      time.Duration
	labels []string
	plural []string
}{
	{24 * time.Hour, []string{"d"}, []string{"day"}},
	{time.Hour, []string{"h"}, []string{"hour"}},
	{time.Minute, []string{"min", "m"}, []string{"minute"}},
	{time.Second, []string{"s"}, []string{"sec", "second"}},
	{time.Millisecond, []string{"ms"}, []string{"milli", "millisecond"}},
	{time.Microsecond, []string{"µs"}, []string{"micro", "microsecond"}},
	{time.Nanosecond, []string{"ns"}, []string{"nano", "nanosecond"}},
}

// ParseDuration parses a duration as Flink's TimeUtils.parseDuration: a non-negative integer and an optional
// unit ("10 s", "10s", "500 ms", "1 min", "2 h", "3 days"; case-insensitive). No unit means milliseconds.
func ParseDuration(s string) (time.Duration, error) {
	num, unit := splitNumber(s)
	if num == "" {
		return 0, fmt.Errorf("'%s' is not a duration (e.g. '10 s', '500 ms', '1 min')", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is not a duration: the number is too large", s)
	}
	mul := time.Duration(0)
	if unit == "" {
		mul = time.Millisecond
	} else {
		u := strings.ToLower(unit)
	find:
		for _, du := range durationUnits {
			for _, l := range du.labels {
				if u == l {
					mul = du.d
					break find
				}
			}
			for _, l := range du.plural {
				if u == l || u == l+"s" {
					mul = du.d
					break find
				}
			}
		}
		if mul == 0 {
			return 0, fmt.Errorf("'%s' is not a duration: unknown unit '%s' (want one of d, h, min, s, ms, µs, ns)", s, unit)
		}
	}
	if n > int64(math.MaxInt64/mul) {
		return 0, fmt.Errorf("'%s' is not a duration: it is too long", s)
	}
	return time.Duration(n) * mul, nil
}

// FormatDuration writes d as Flink does, with the largest unit that divides it: "10 s", "1 min", "500 ms".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0 ms"
	}
	names := []string{"d", "h", "min", "s", "ms", "µs", "ns"}
	for i, du := range durationUnits {
		if d%du.d == 0 {
			return fmt.Sprintf("%d %s", int64(d/du.d), names[i])
		}
	}
	return d.String()
}

// splitNumber splits "  10 s " into "10" and "s"; num is "" when s does not start with digits.
func splitNumber(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", ""
	}
	rest := strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	for _, r := range rest {
		if unicode.IsSpace(r) || unicode.IsDigit(r) {
			return "", "" // "10 s 5"
		}
	}
	return s[:i], rest
}

// parseValue parses raw per the declaration. The Go type of the result is fixed per Type: string (String,
// Enum: the declared spelling), bool, int, int64 (Long), float64, time.Duration, MemorySize, []string (List).
// The error message completes "Invalid value for option 'k': ".
func parseValue(d *Decl, raw string) (any, error) {
	switch d.Type {
	case TypeString, TypeMap:
		return raw, nil
	case TypeBool:
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("'%s' is not a boolean (want true or false)", raw)
	case TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
		if err != nil {
			return nil, numErr(raw, err, "an integer")
		}
		return int(n), nil
	case TypeLong:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, numErr(raw, err, "an integer")
		}
		return n, nil
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("'%s' is not a number", raw)
		}
		return f, nil
	case TypeDuration:
		return ParseDuration(raw)
	case TypeMemory:
		return ParseMemorySize(raw)
	case TypeEnum:
		t := strings.TrimSpace(raw)
		for _, e := range d.Enum {
			if strings.EqualFold(t, e) {
				return e, nil
			}
		}
		return nil, fmt.Errorf("'%s' (want one of %s)", raw, strings.Join(d.Enum, ", "))
	case TypeList:
		if strings.TrimSpace(raw) == "" {
			return []string{}, nil
		}
		parts := strings.Split(raw, ";")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	}
	return raw, nil
}

func numErr(raw string, err error, what string) error {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return fmt.Errorf("'%s' is out of range", raw)
	}
	if _, ferr := strconv.ParseFloat(strings.TrimSpace(raw), 64); ferr == nil {
		return fmt.Errorf("'%s' is not %s", raw, what)
	}
	return fmt.Errorf("'%s' is not a number", raw)
}
