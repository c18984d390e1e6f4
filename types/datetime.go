package types

import (
	"fmt"
	"strings"
	"time"
)

const (
	nanosPerMilli  = 1_000_000
	nanosPerSecond = 1_000_000_000
	nanosPerDay    = 86_400 * nanosPerSecond
	millisPerDay   = 86_400_000
)

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanner is a tiny cursor over date/time text.
type scanner struct {
	s string
	i int
}

// num reads between 1 and maxDigits digits.
func (p *scanner) num(maxDigits int) (int64, bool) {
	start := p.i
	var n int64
	for p.i < len(p.s) && p.i-start < maxDigits && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int64(p.s[p.i]-'0')
		p.i++
	}
	return n, p.i > start
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) done() bool { return p.i == len(p.s) }

// date reads yyyy-[m]m-[d]d and returns days since the epoch.
func (p *scanner) date() (int64, bool) {
	neg := p.eat('-')
	y, ok := p.num(9)
	if !ok || !p.eat('-') {
		return 0, false
	}
	m, ok := p.num(2)
	if !ok || !p.eat('-') || m < 1 || m > 12 {
		return 0, false
	}
	d, ok := p.num(2)
	if neg {
		y = -y
	}
	if !ok || d < 1 || d > daysInMonth(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// clock reads [h]h:[m]m[:[s]s[.fffffffff]] and returns nanoseconds of the day. Fraction digits beyond 9
// are ignored.
func (p *scanner) clock() (int64, bool) {
	h, ok := p.num(2)
	if !ok || !p.eat(':') || h > 23 {
		return 0, false
	}
	m, ok := p.num(2)
	if !ok || m > 59 {
		return 0, false
	}
	var sec, nanos int64
	if p.eat(':') {
		sec, ok = p.num(2)
		if !ok || sec > 59 {
			return 0, false
		}
		if p.eat('.') {
			start := p.i
			digits := 0
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				if digits < 9 {
					nanos = nanos*10 + int64(p.s[p.i]-'0')
					digits++
				}
				p.i++
			}
			if p.i == start {
				return 0, false
			}
			for ; digits < 9; digits++ {
				nanos *= 10
			}
		}
	}
	return ((h*60+m)*60+sec)*nanosPerSecond + nanos, true
}

// ParseDate parses 'yyyy-MM-dd' (surrounding spaces trimmed; one-digit month and day accepted).
func ParseDate(s string) (Value, error) {
	p := scanner{s: strings.TrimSpace(s)}
	d, ok := p.date()
	if !ok || !p.done() {
		return NullValue, fmt.Errorf("invalid DATE value %q", s)
	}
	return DateValue(d), nil
}

// ParseTime parses 'HH:mm:ss[.fffffffff]' (seconds optional; spaces trimmed).
func ParseTime(s string) (Value, error) {
	p := scanner{s: strings.TrimSpace(s)}
	n, ok := p.clock()
	if !ok || !p.done() {
		return NullValue, fmt.Errorf("invalid TIME value %q", s)
	}
	return TimeValue(n), nil
}

// ParseTimestamp parses 'yyyy-MM-dd[( |T)HH:mm[:ss[.fffffffff]]]' (a date alone is midnight; spaces
// trimmed) and truncates the fraction to precision digits. The text is taken as wall-clock time: the result
// is a TIMESTAMP value; callers convert to TIMESTAMP_LTZ through a time zone.
func ParseTimestamp(s string, precision int) (Value, error) {
	p := scanner{s: strings.TrimSpace(s)}
	d, ok := p.date()
	if !ok {
		return NullValue, fmt.Errorf("invalid TIMESTAMP value %q", s)
	}
	var n int64
	if !p.done() {
		if !p.eat(' ') && !p.eat('T') {
			return NullValue, fmt.Errorf("invalid TIMESTAMP value %q", s)
		}
		for p.eat(' ') {
		}
		n, ok = p.clock()
		if !ok || !p.done() {
			return NullValue, fmt.Errorf("invalid TIMESTAMP value %q", s)
		}
	}
	return TruncateTimestamp(timestampFromDayNanos(d, n), precision), nil
}

func timestampFromDayNanos(days, nanos int64) Value {
	return TimestampValue(days*millisPerDay+nanos/nanosPerMilli, int32(nanos%nanosPerMilli))
}

// TruncateTimestamp drops the fractional-second digits beyond precision (0..9), as Flink does when a
// timestamp is cast to a smaller precision.
func TruncateTimestamp(v Value, precision int) Value {
	if precision >= 9 || v.T != TagTimestamp {
		return v
	}
	precision = max(precision, 0)
	if precision >= 3 {
		u := int32(pow10[9-precision])
		v.N -= v.N % u
		return v
	}
	v.N = 0
	u := pow10[3-precision]
	v.I -= floorMod(v.I, u)
	return v
}

// TruncateTime drops the fractional-second digits of a TIME value beyond precision.
func TruncateTime(v Value, precision int) Value {
	if precision >= 9 || v.T != TagTime {
		return v
	}
	v.I -= v.I % pow10[9-max(precision, 0)]
	return v
}

// ValueToTime returns the timestamp value as a UTC time.Time (wall clock for TIMESTAMP, the instant for
// TIMESTAMP_LTZ).
func ValueToTime(v Value) time.Time {
	return time.UnixMilli(v.I).Add(time.Duration(v.N)).UTC()
}

// TimestampFromTime returns the instant t as a timestamp value (epoch millis and nanos of the milli).
func TimestampFromTime(t time.Time) Value {
	return TimestampValue(t.UnixMilli(), int32(t.Nanosecond()%nanosPerMilli))
}

// TimestampToLocal converts a TIMESTAMP_LTZ instant into the TIMESTAMP wall clock it shows in loc.
func TimestampToLocal(v Value, loc *time.Location) Value {
	if loc == nil || loc == time.UTC {
		return v
	}
	_, off := ValueToTime(v).In(loc).Zone()
	v.I += int64(off) * 1000
	return v
}

// TimestampFromLocal converts a TIMESTAMP wall clock in loc into the TIMESTAMP_LTZ instant, as Java's
// LocalDateTime.atZone(zone).toInstant() does: a wall clock that occurs twice (DST fall back) takes the
// earlier instant; one skipped by a gap (spring forward) is shifted forward by the gap's length.
func TimestampFromLocal(v Value, loc *time.Location) Value {
	if loc == nil || loc == time.UTC {
		return v
	}
	wallSec := floorDiv(v.I, 1000)
	offAt := func(sec int64) int64 {
		_, off := time.Unix(sec, 0).In(loc).Zone()
		return int64(off)
	}
	before, after := offAt(wallSec-14*3600-offAt(wallSec)), offAt(wallSec+14*3600-offAt(wallSec))
	best, found := int64(0), false
	for _, o := range [2]int64{before, after} {
		if offAt(wallSec-o) == o && (!found || o > best) { // larger offset = earlier instant
			best, found = o, true
		}
	}
	if !found {
		if o := offAt(wallSec - offAt(wallSec)); offAt(wallSec-o) == o {
			best, found = o, true
		}
	}
	if !found { // in a gap: use the offset in force before it
		best = before
	}
	v.I -= best * 1000
	return v
}

func append2(dst []byte, n int64) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }

// appendFraction writes '.' and precision digits of nanos (nothing when precision is 0).
func appendFraction(dst []byte, nanos int64, precision int) []byte {
	if precision <= 0 {
		return dst
	}
	if precision > 9 {
		precision = 9
	}
	dst = append(dst, '.')
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	return append(dst, buf[:precision]...)
}

// FormatDate appends 'yyyy-MM-dd'.
func FormatDate(dst []byte, v Value) []byte {
	y, m, d := civilFromDays(v.I)
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	if y < 1000 {
		dst = append(dst, "000"[:4-digits64(uint64(y))]...)
	}
	dst = appendInt(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// FormatTime appends 'HH:mm:ss' plus exactly precision fraction digits.
func FormatTime(dst []byte, v Value, precision int) []byte {
	n := floorMod(v.I, nanosPerDay)
	secs := n / nanosPerSecond
	dst = append2(dst, secs/3600)
	dst = append(dst, ':')
	dst = append2(dst, secs/60%60)
	dst = append(dst, ':')
	dst = append2(dst, secs%60)
	return appendFraction(dst, n%nanosPerSecond, precision)
}

// FormatTimestamp appends 'yyyy-MM-dd HH:mm:ss' plus exactly precision fraction digits, as Flink's CAST
// to STRING prints a TIMESTAMP(precision) (TIMESTAMP(3) prints '.000').
func FormatTimestamp(dst []byte, v Value, precision int) []byte {
	days := floorDiv(v.I, millisPerDay)
	nanos := floorMod(v.I, millisPerDay)*nanosPerMilli + int64(v.N)
	dst = FormatDate(dst, DateValue(days))
	dst = append(dst, ' ')
	return FormatTime(dst, TimeValue(nanos), precision)
}

// TimestampDate returns the DATE of a TIMESTAMP value.
func TimestampDate(v Value) Value { return DateValue(floorDiv(v.I, millisPerDay)) }

// TimestampTime returns the TIME of day of a TIMESTAMP value.
func TimestampTime(v Value) Value {
	return TimeValue(floorMod(v.I, millisPerDay)*nanosPerMilli + int64(v.N))
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
func DaysFromCivil(y, m, d int64) int64 { return daysFromCivil(y, m, d) }

// CivilFromDays is the inverse of DaysFromCivil: year, month (1-12), day (1-31).
func CivilFromDays(days int64) (y, m, d int64) { return civilFromDays(days) }

// IsLeapYear reports a leap year of the proleptic Gregorian calendar.
func IsLeapYear(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DaysInMonth returns the number of days of month m (1-12) of year y.
func DaysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if IsLeapYear(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
