package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/types"
)

// javaDateFormat is a compiled java.time DateTimeFormatter pattern (Flink's DATE_FORMAT, TO_TIMESTAMP,
// FROM_UNIXTIME and UNIX_TIMESTAMP use DateTimeFormatter; for the common letters it agrees with
// SimpleDateFormat). Supported letters: G y u Y M L d D Q q E e a H k K h m s S n w z Z X x; text in
// single quotes (” is a quote); other non-letters are literal; [ ] optional sections are ignored.
type javaDateFormat struct {
	items []dateItem
}

type dateItem struct {
	letter byte // 0 for literal text
	count  int
	lit    string
}

// compileDateFormat parses a pattern; an unknown letter is an error as in Java
// ("Unknown pattern letter: b").
func compileDateFormat(pattern string) (*javaDateFormat, error) {
	f := &javaDateFormat{}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(pattern) {
					return nil, fmt.Errorf("Pattern ends with an incomplete string literal: %s", pattern)
				}
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(pattern[j])
				j++
			}
			if j == i+1 {
				f.items = append(f.items, dateItem{lit: "'"})
			} else {
				f.items = append(f.items, dateItem{lit: b.String()})
			}
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			if !strings.ContainsRune("GyuYMLdDQqEeaHkKhmsSnwzZXx", rune(c)) {
				return nil, fmt.Errorf("Unknown pattern letter: %c", c)
			}
			f.items = append(f.items, dateItem{letter: c, count: j - i})
			i = j
		case c == '[' || c == ']':
			i++
		default:
			f.items = append(f.items, dateItem{lit: string(c)})
			i++
		}
	}
	return f, nil
}

var (
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August",
		"September", "October", "November", "December"}
	dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// AppendPadded appends n in decimal, zero-padded to width digits (a minus sign before the padding): the
// numeric fields of DATE_FORMAT's patterns, shared with the vectorized kernel (exec/calc_vec_time.go).
func AppendPadded(dst []byte, n int64, width int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	if n >= 0 && n < 100 && width <= 2 {
		if n >= 10 || width == 2 {
			dst = append(dst, byte('0'+n/10))
		}
		return append(dst, byte('0'+n%10))
	}
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// AppendFraction appends the first width digits of the nine-digit fraction ns (the pattern letter S: digits
// past the ninth are zeros).
func AppendFraction(dst []byte, ns int64, width int) []byte {
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	for i := 0; i < width; i++ {
		if i < 9 {
			dst = append(dst, buf[i])
		} else {
			dst = append(dst, '0')
		}
	}
	return dst
}

// format appends t (wall clock and zone taken from t) as the pattern says.
func (f *javaDateFormat) format(dst []byte, t time.Time) []byte {
	for _, it := range f.items {
		if it.letter == 0 {
			dst = append(dst, it.lit...)
			continue
		}
		n := it.count
		switch it.letter {
		case 'G':
			if t.Year() <= 0 {
				dst = append(dst, "BC"...)
			} else {
				dst = append(dst, "AD"...)
			}
		case 'y', 'u', 'Y':
			y := int64(t.Year())
			if it.letter == 'Y' {
				iy, _ := t.ISOWeek()
				y = int64(iy)
			}
			if n == 2 {
				dst = AppendPadded(dst, (y%100+100)%100, 2)
			} else {
				dst = AppendPadded(dst, y, n)
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				dst = append(dst, monthNames[t.Month()-1]...)
			case n == 3:
				dst = append(dst, monthNames[t.Month()-1][:3]...)
			default:
				dst = AppendPadded(dst, int64(t.Month()), n)
			}
		case 'd':
			dst = AppendPadded(dst, int64(t.Day()), n)
		case 'D':
			dst = AppendPadded(dst, int64(t.YearDay()), n)
		case 'Q', 'q':
			q := (int(t.Month())-1)/3 + 1
			switch {
			case n >= 4:
				dst = append(dst, [...]string{"1st", "2nd", "3rd", "4th"}[q-1]+" quarter"...)
			case n == 3:
				dst = append(dst, 'Q', byte('0'+q))
			default:
				dst = AppendPadded(dst, int64(q), n)
			}
		case 'E', 'e':
			wd := t.Weekday()
			switch {
			case it.letter == 'e' && n <= 2:
				dst = AppendPadded(dst, int64(wd)+1, n)
			case n >= 4:
				dst = append(dst, dayNames[wd]...)
			default:
				dst = append(dst, dayNames[wd][:3]...)
			}
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'H':
			dst = AppendPadded(dst, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = AppendPadded(dst, int64(h), n)
		case 'K':
			dst = AppendPadded(dst, int64(t.Hour()%12), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = AppendPadded(dst, int64(h), n)
		case 'm':
			dst = AppendPadded(dst, int64(t.Minute()), n)
		case 's':
			dst = AppendPadded(dst, int64(t.Second()), n)
		case 'S':
			dst = AppendFraction(dst, int64(t.Nanosecond()), n)
		case 'n':
			dst = AppendPadded(dst, int64(t.Nanosecond()), n)
		case 'w':
			_, w := t.ISOWeek()
			dst = AppendPadded(dst, int64(w), n)
		case 'z':
			name, _ := t.Zone()
			dst = append(dst, name...)
		case 'Z':
			dst = appendOffset(dst, t, false, n >= 4, false)
		case 'X':
			dst = appendOffset(dst, t, true, n >= 3, n == 1)
		case 'x':
			dst = appendOffset(dst, t, false, n >= 3, n == 1)
		}
	}
	return dst
}

// appendOffset writes t's zone offset (AppendZoneOffset).
func appendOffset(dst []byte, t time.Time, zulu, colon, hoursOnly bool) []byte {
	_, off := t.Zone()
	return AppendZoneOffset(dst, int64(off), zulu, colon, hoursOnly)
}

// AppendZoneOffset writes a zone offset of off seconds as DATE_FORMAT's Z/X/x letters do: +0800 / +08:00 /
// +08 (hoursOnly, on a whole hour); with zulu, a zero offset is Z.
func AppendZoneOffset(dst []byte, off int64, zulu, colon, hoursOnly bool) []byte {
	if off == 0 && zulu {
		return append(dst, 'Z')
	}
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	dst = AppendPadded(dst, off/3600, 2)
	if hoursOnly && off%3600 == 0 {
		return dst
	}
	if colon {
		dst = append(dst, ':')
	}
	return AppendPadded(dst, off/60%60, 2)
}

// parsed holds the fields read by parse.
type parsed struct {
	year, month, day     int
	hour, minute, second int
	nanos                int
	pm, hasAmPm, hour12  bool
	offset               int // seconds east of UTC
	hasOffset, hasTime   bool
	hasDate, dayOfYear   bool
}

// parse reads s with the pattern. The whole text must be consumed. Missing date fields default to
// 1970-01-01, missing time fields to zero.
func (f *javaDateFormat) parse(s string) (parsed, bool) {
	p := parsed{year: 1970, month: 1, day: 1}
	i := 0
	isNumeric := func(it dateItem) bool {
		switch it.letter {
		case 'y', 'u', 'Y', 'd', 'D', 'H', 'k', 'K', 'h', 'm', 's', 'S', 'n', 'w':
			return true
		case 'M', 'L':
			return it.count <= 2
		}
		return false
	}
	for k, it := range f.items {
		if it.letter == 0 {
			if !strings.HasPrefix(s[i:], it.lit) {
				return p, false
			}
			i += len(it.lit)
			continue
		}
		adjacent := k+1 < len(f.items) && isNumeric(f.items[k+1])
		readNum := func(minD, maxD int) (int, bool) {
			if adjacent && it.count > 1 {
				minD, maxD = it.count, it.count
			}
			j := i
			for j < len(s) && j-i < maxD && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j-i < minD || j == i {
				return 0, false
			}
			n, err := strconv.Atoi(s[i:j])
			i = j
			return n, err == nil
		}
		var okp bool
		switch it.letter {
		case 'y', 'u', 'Y':
			var y int
			if it.count == 2 {
				y, okp = readNum(2, 2)
				y += 2000
			} else {
				y, okp = readNum(it.count, 9)
			}
			p.year, p.hasDate = y, true
		case 'M', 'L':
			if it.count >= 3 {
				okp = false
				for m, name := range monthNames {
					cand := name
					if it.count == 3 {
						cand = name[:3]
					}
					if len(s)-i >= len(cand) && strings.EqualFold(s[i:i+len(cand)], cand) {
						p.month, okp = m+1, true
						i += len(cand)
						break
					}
				}
			} else {
				p.month, okp = readNum(it.count, 2)
			}
			p.hasDate = true
		case 'd':
			p.day, okp = readNum(it.count, 2)
			p.hasDate = true
		case 'D':
			var doy int
			doy, okp = readNum(it.count, 3)
			p.month, p.day = 1, doy
			p.hasDate, p.dayOfYear = true, true
		case 'H', 'k':
			p.hour, okp = readNum(it.count, 2)
			if it.letter == 'k' && p.hour == 24 {
				p.hour = 0
			}
			p.hasTime = true
		case 'K', 'h':
			p.hour, okp = readNum(it.count, 2)
			if p.hour == 12 {
				p.hour = 0
			}
			p.hour12, p.hasTime = true, true
		case 'm':
			p.minute, okp = readNum(it.count, 2)
			p.hasTime = true
		case 's':
			p.second, okp = readNum(it.count, 2)
			p.hasTime = true
		case 'S':
			j := i
			for j < len(s) && j-i < it.count && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			okp = j-i == it.count
			if okp {
				digits := s[i:j]
				for len(digits) < 9 {
					digits += "0"
				}
				p.nanos, _ = strconv.Atoi(digits[:9])
				i = j
			}
		case 'n':
			p.nanos, okp = readNum(1, 9)
		case 'a':
			switch {
			case len(s)-i >= 2 && strings.EqualFold(s[i:i+2], "AM"):
				okp = true
			case len(s)-i >= 2 && strings.EqualFold(s[i:i+2], "PM"):
				okp, p.pm = true, true
			}
			i += 2
			p.hasAmPm = true
		case 'E':
			okp = false
			for _, name := range dayNames {
				cand := name
				if it.count < 4 {
					cand = name[:3]
				}
				if len(s)-i >= len(cand) && strings.EqualFold(s[i:i+len(cand)], cand) {
					okp = true
					i += len(cand)
					break
				}
			}
		case 'X', 'x', 'Z':
			okp = p.parseOffset(s, &i)
		default:
			// G, Q, w, z, e: not supported when parsing
			okp = false
		}
		if !okp {
			return p, false
		}
	}
	if i != len(s) {
		return p, false
	}
	if p.hour12 && p.pm {
		p.hour += 12
	}
	if p.month < 1 || p.month > 12 || p.hour > 23 || p.minute > 59 || p.second > 59 {
		return p, false
	}
	maxDay := int(types.DaysInMonth(int64(p.year), int64(p.month)))
	if p.dayOfYear {
		maxDay = 365
		if types.IsLeapYear(int64(p.year)) {
			maxDay = 366
		}
	}
	if p.day < 1 || p.day > maxDay {
		return p, false
	}
	return p, true
}

func (p *parsed) parseOffset(s string, i *int) bool {
	if *i < len(s) && s[*i] == 'Z' {
		*i++
		p.hasOffset = true
		return true
	}
	if *i >= len(s) || s[*i] != '+' && s[*i] != '-' {
		return false
	}
	sign := 1
	if s[*i] == '-' {
		sign = -1
	}
	j := *i + 1
	digits := func(n int) (int, bool) {
		if j+n > len(s) {
			return 0, false
		}
		v, err := strconv.Atoi(s[j : j+n])
		if err != nil {
			return 0, false
		}
		j += n
		return v, true
	}
	h, ok := digits(2)
	if !ok {
		return false
	}
	m := 0
	if j < len(s) && s[j] == ':' {
		j++
		if m, ok = digits(2); !ok {
			return false
		}
	} else if j+2 <= len(s) && s[j] >= '0' && s[j] <= '9' {
		m, _ = digits(2)
	}
	p.offset = sign * (h*3600 + m*60)
	p.hasOffset = true
	*i = j
	return true
}

// wallMillis returns the parsed wall clock as epoch millis (as if UTC) and the nanos within the milli.
func (p parsed) wallMillis() (int64, int32) {
	days := types.DaysFromCivil(int64(p.year), int64(p.month), 1) + int64(p.day) - 1
	ms := days*millisPerDay + int64(p.hour)*3_600_000 + int64(p.minute)*60_000 + int64(p.second)*1000 +
		int64(p.nanos/1_000_000)
	return ms, int32(p.nanos % 1_000_000)
}
