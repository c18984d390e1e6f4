package exec

import (
	"time"

	"github.com/sluicesql/sluice/expr"
)

// The DATE_FORMAT writers of the era (G), ISO week-based fields (Y w), quarters (Q q), numeric
// weekdays (e) and zones (z Z X x), as the row path writes them (expr/datefmt.go) from a civil wall clock.

var quarterNamesVec = [...]string{"1st quarter", "2nd quarter", "3rd quarter", "4th quarter"}

// appendYear writes a year field of n letters: two digits for yy, else zero-padded to n.
func appendYear(dst []byte, year int64, n int) []byte {
	if n == 2 {
		return expr.AppendPadded(dst, (year%100+100)%100, 2)
	}
	return expr.AppendPadded(dst, year, n)
}

// isoWeek is the ISO-8601 week-based year and week of c's date: the week (Monday to Sunday) belongs to the
// year of its Thursday, and week 1 holds January 4.
func isoWeek(c *civil) (year int64, week int) {
	monday0 := (c.wday + 6) % 7 // 0 = Monday
	th := civilOf((c.days+3-int64(monday0))*86_400_000, 0)
	return th.year, (th.yday-1)/7 + 1
}

// formatCivilMore writes field f (a letter formatCivil leaves to it).
func formatCivilMore(dst []byte, f dateField, c *civil) []byte {
	n := f.count
	switch f.letter {
	case 'G':
		if c.year <= 0 {
			return append(dst, "BC"...)
		}
		return append(dst, "AD"...)
	case 'Y':
		y, _ := isoWeek(c)
		return appendYear(dst, y, n)
	case 'w':
		_, w := isoWeek(c)
		return expr.AppendPadded(dst, int64(w), n)
	case 'Q', 'q':
		q := (c.month-1)/3 + 1
		switch {
		case n >= 4:
			return append(dst, quarterNamesVec[q-1]...)
		case n == 3:
			return append(dst, 'Q', byte('0'+q))
		}
		return expr.AppendPadded(dst, int64(q), n)
	case 'e':
		switch {
		case n <= 2:
			return expr.AppendPadded(dst, int64(c.wday)+1, n)
		case n >= 4:
			return append(dst, dayNamesVec[c.wday]...)
		}
		return append(dst, dayNamesVec[c.wday][:3]...)
	case 'z':
		if c.loc == nil {
			return append(dst, "UTC"...)
		}
		name, _ := time.UnixMilli(c.inst).In(c.loc).Zone()
		return append(dst, name...)
	case 'Z':
		return expr.AppendZoneOffset(dst, c.off, false, n >= 4, false)
	case 'X':
		return expr.AppendZoneOffset(dst, c.off, true, n >= 3, n == 1)
	case 'x':
		return expr.AppendZoneOffset(dst, c.off, false, n >= 3, n == 1)
	}
	return dst
}
