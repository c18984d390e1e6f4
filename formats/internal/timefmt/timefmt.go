// Package timefmt parses and writes the strict date and time layouts that the text formats (json, csv) use,
// directly on bytes and without allocating:
//
//	DATE          yyyy-MM-dd                                   (java ISO_LOCAL_DATE)
//	TIME          HH:mm[:ss[.f]]                               (java ISO_LOCAL_TIME)
//	TIMESTAMP     yyyy-MM-dd HH:mm:ss[.f]  or with 'T'          (Flink SQL / ISO-8601 timestamp formats)
//	TIMESTAMP_LTZ the same followed by 'Z' (UTC)
//
// where f is 1 to 9 fraction digits; writing uses the fewest fraction digits (none when zero), as Java's
// appendFraction(NANO_OF_SECOND, 0, 9, true) does. It is not the CAST parser (types.Cast), which is lenient.
package timefmt

import "github.com/sluicesql/sluice/types"

// DaysFromCivil and CivilFromDays are the calendar conversions of package types.
var (
	DaysFromCivil = types.DaysFromCivil
	CivilFromDays = types.CivilFromDays
)

const (
	nanosPerSecond = int64(1e9)
	nanosPerDay    = 86400 * nanosPerSecond
	millisPerDay   = int64(86400000)
)

func digits(b []byte, n int) (int64, bool) {
	if len(b) < n {
		return 0, false
	}
	var v int64
	for i := 0; i < n; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseDate parses yyyy-MM-dd at the start of b and returns the rest.
func parseDate(b []byte) (days int64, rest []byte, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, nil, false
	}
	y, ok1 := digits(b, 4)
	m, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > types.DaysInMonth(y, m) {
		return 0, nil, false
	}
	return DaysFromCivil(y, m, d), b[10:], true
}

// parseTime parses HH:mm[:ss[.f]] at the start of b and returns nanoseconds of the day and the rest.
func parseTime(b []byte) (nanos int64, rest []byte, ok bool) {
	if len(b) < 5 || b[2] != ':' {
		return 0, nil, false
	}
	h, ok1 := digits(b, 2)
	mi, ok2 := digits(b[3:], 2)
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, nil, false
	}
	var s, frac int64
	b = b[5:]
	if len(b) > 0 && b[0] == ':' {
		var ok3 bool
		if s, ok3 = digits(b[1:], 2); !ok3 || s > 59 {
			return 0, nil, false
		}
		b = b[3:]
		if len(b) > 0 && b[0] == '.' {
			n := 0
			for n < len(b)-1 && n < 9 && b[1+n] >= '0' && b[1+n] <= '9' {
				frac = frac*10 + int64(b[1+n]-'0')
				n++
			}
			if n == 0 {
				return 0, nil, false
			}
			for i := n; i < 9; i++ {
				frac *= 10
			}
			b = b[1+n:]
		}
	}
	return (h*3600+mi*60+s)*nanosPerSecond + frac, b, true
}

// ParseDate parses exactly yyyy-MM-dd.
func ParseDate(b []byte) (days int64, ok bool) {
	days, rest, ok := parseDate(b)
	return days, ok && len(rest) == 0
}

// ParseTime parses exactly HH:mm[:ss[.f]] into nanoseconds of the day.
func ParseTime(b []byte) (nanos int64, ok bool) {
	nanos, rest, ok := parseTime(b)
	return nanos, ok && len(rest) == 0
}

// ParseTimestamp parses exactly yyyy-MM-dd<sep>HH:mm[:ss[.f]], followed by 'Z' when zulu is set, into
// milliseconds since the epoch and nanoseconds within the millisecond.
func ParseTimestamp(b []byte, sep byte, zulu bool) (millis int64, nanoOfMilli int32, ok bool) {
	days, rest, ok := parseDate(b)
	if !ok || len(rest) == 0 || rest[0] != sep {
		return 0, 0, false
	}
	nanos, rest, ok := parseTime(rest[1:])
	if !ok {
		return 0, 0, false
	}
	if zulu {
		if len(rest) != 1 || rest[0] != 'Z' {
			return 0, 0, false
		}
	} else if len(rest) != 0 {
		return 0, 0, false
	}
	return days*millisPerDay + nanos/1e6, int32(nanos % 1e6), true
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// AppendDate writes yyyy-MM-dd (years beyond 0..9999 with a sign and more digits, as Java does).
func AppendDate(dst []byte, days int64) []byte {
	y, m, d := CivilFromDays(days)
	switch {
	case y > 9999:
		dst = append(dst, '+')
		dst = appendInt(dst, y)
	case y < 0:
		dst = append(dst, '-')
		dst = appendPadded(dst, -y, 4)
	default:
		dst = appendPadded(dst, y, 4)
	}
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func appendInt(dst []byte, v int64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

func appendPadded(dst []byte, v int64, n int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || len(buf)-i < n {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[i:]...)
}

// AppendTime writes HH:mm:ss[.f] for nanoseconds of the day, with the fewest fraction digits.
func AppendTime(dst []byte, nanos int64) []byte {
	nanos = ((nanos % nanosPerDay) + nanosPerDay) % nanosPerDay
	secs := nanos / nanosPerSecond
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	return AppendFraction(dst, nanos%nanosPerSecond)
}

// AppendFraction writes '.' and the nanoseconds with trailing zeros removed; nothing when zero.
func AppendFraction(dst []byte, nanos int64) []byte {
	if nanos == 0 {
		return dst
	}
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	n := 9
	for buf[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, buf[:n]...)
}

// AppendTimestamp writes yyyy-MM-dd<sep>HH:mm:ss[.f], then 'Z' when zulu is set.
func AppendTimestamp(dst []byte, millis int64, nanoOfMilli int32, sep byte, zulu bool) []byte {
	days := millis / millisPerDay
	rem := millis % millisPerDay
	if rem < 0 {
		rem += millisPerDay
		days--
	}
	dst = AppendDate(dst, days)
	dst = append(dst, sep)
	dst = AppendTime(dst, rem*1e6+int64(nanoOfMilli))
	if zulu {
		dst = append(dst, 'Z')
	}
	return dst
}

// TruncateNanos truncates nanoseconds to precision fraction digits (0..9).
func TruncateNanos(nanos int64, precision int) int64 {
	if precision >= 9 || precision < 0 {
		return nanos
	}
	div := int64(1)
	for i := precision; i < 9; i++ {
		div *= 10
	}
	return nanos - nanos%div
}
