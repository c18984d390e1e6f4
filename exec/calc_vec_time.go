package exec

import (
	"strings"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// DATE_FORMAT(ts, pattern) over a TIMESTAMP, TIMESTAMP_LTZ, DATE or string column: the pattern is compiled
// into field writers (java.time letters as the row path implements them, expr/datefmt.go) that append to
// the kernel's reused string arena from civil date arithmetic on the epoch millis — no time.Time per row.
// Every letter the row path knows has a writer (the era, ISO week fields, quarters, numeric weekdays and
// zones in calc_vec_datefmt.go); a pattern the row path rejects stays on the row path (a constant one at
// compile time, a pattern column's by bailing).

// dateField is one item of a compiled pattern: literal text (letter 0) or a letter repeated count times.
type dateField struct {
	letter byte
	count  int
	lit    string
}

var monthNamesVec = [...]string{"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

var dayNamesVec = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// compileDateFields parses a pattern as expr's compileDateFormat does; ok is false for a letter the
// writers do not implement or a pattern the row path rejects.
func compileDateFields(p string) (fs []dateField, ok bool) {
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(p) {
					return nil, false
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				fs = append(fs, dateField{lit: "'"})
			} else {
				fs = append(fs, dateField{lit: b.String()})
			}
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			if !strings.ContainsRune("GyuYMLdDQqEeaHkKhmsSnwzZXx", rune(c)) {
				return nil, false
			}
			fs = append(fs, dateField{letter: c, count: j - i})
			i = j
		case c == '[' || c == ']':
			i++
		default:
			fs = append(fs, dateField{lit: string(c)})
			i++
		}
	}
	return fs, true
}

// civil is a wall clock split into fields.
type civil struct {
	year             int64
	month, day, yday int   // 1-based
	wday             int   // 0 = Sunday
	hour, min, sec   int64 // of the day
	nano             int64 // of the second
	days             int64 // since 1970-01-01 (the wall clock's)
	// The zone the wall clock is read in (letters z Z X x): seconds east of UTC, and for a zone other
	// than UTC its location and the instant (epoch millis) for the zone's name.
	off  int64
	loc  *time.Location
	inst int64
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

var daysBefore = [...]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

// civilOf splits epoch millis plus nanos of the millisecond (a wall clock read as UTC).
func civilOf(ms int64, nanos int32) civil {
	days := floorDiv(ms, 86_400_000)
	msOfDay := ms - days*86_400_000
	// Days to a proleptic Gregorian date (H. Hinnant's days_from_civil inverse).
	z := days + 719_468
	era := floorDiv(z, 146_097)
	doe := z - era*146_097
	yoe := (doe - doe/1460 + doe/36524 - doe/146_096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	var c civil
	c.year, c.month, c.day, c.days = y, int(m), int(d), days
	leap := y%4 == 0 && (y%100 != 0 || y%400 == 0)
	c.yday = daysBefore[m-1] + int(d)
	if leap && m > 2 {
		c.yday++
	}
	c.wday = int(((days+4)%7 + 7) % 7) // 1970-01-01 was a Thursday
	c.hour, c.min, c.sec = msOfDay/3_600_000, msOfDay/60_000%60, msOfDay/1000%60
	c.nano = msOfDay%1000*1_000_000 + int64(nanos)
	return c
}

func formatCivil(dst []byte, fs []dateField, c *civil) []byte {
	for _, f := range fs {
		n := f.count
		switch f.letter {
		case 0:
			dst = append(dst, f.lit...)
		case 'y', 'u':
			dst = appendYear(dst, c.year, n)
		case 'M', 'L':
			switch {
			case n >= 4:
				dst = append(dst, monthNamesVec[c.month-1]...)
			case n == 3:
				dst = append(dst, monthNamesVec[c.month-1][:3]...)
			default:
				dst = expr.AppendPadded(dst, int64(c.month), n)
			}
		case 'd':
			dst = expr.AppendPadded(dst, int64(c.day), n)
		case 'D':
			dst = expr.AppendPadded(dst, int64(c.yday), n)
		case 'E':
			if n >= 4 {
				dst = append(dst, dayNamesVec[c.wday]...)
			} else {
				dst = append(dst, dayNamesVec[c.wday][:3]...)
			}
		default:
			dst = formatCivilMore(dst, f, c)
		case 'a':
			if c.hour < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'H':
			dst = expr.AppendPadded(dst, c.hour, n)
		case 'k':
			h := c.hour
			if h == 0 {
				h = 24
			}
			dst = expr.AppendPadded(dst, h, n)
		case 'K':
			dst = expr.AppendPadded(dst, c.hour%12, n)
		case 'h':
			h := c.hour % 12
			if h == 0 {
				h = 12
			}
			dst = expr.AppendPadded(dst, h, n)
		case 'm':
			dst = expr.AppendPadded(dst, c.min, n)
		case 's':
			dst = expr.AppendPadded(dst, c.sec, n)
		case 'S':
			dst = expr.AppendFraction(dst, c.nano, n)
		case 'n':
			dst = expr.AppendPadded(dst, c.nano, n)
		}
	}
	return dst
}

// compileDateFormat compiles DATE_FORMAT(x, pattern) for TIMESTAMP, TIMESTAMP_LTZ (the wall clock in the
// call's session zone), DATE and string operands (parsed as types.ParseTimestamp; NULL when the text does
// not parse). A constant pattern is compiled here; any other is compiled when a row's pattern differs from
// the previous row's, and a batch with a pattern the writers do not implement (or the row path rejects)
// bails.
func (c *vcompiler) compileDateFormat(call expr.Expr, args []expr.Expr) vexpr {
	if len(args) != 2 {
		return nil
	}
	return c.compileFormat(call, args, false)
}

// compileFromUnixtime compiles FROM_UNIXTIME(seconds[, pattern]) of an integer: the instant formatted in
// the session zone, as DATE_FORMAT of a TIMESTAMP_LTZ (the row path formats both with one formatter).
func (c *vcompiler) compileFromUnixtime(call expr.Expr, args []expr.Expr) vexpr {
	if len(args) == 0 || len(args) > 2 || !args[0].Type().IsNumeric() {
		return nil
	}
	if len(args) == 1 {
		args = []expr.Expr{args[0], expr.Literal(types.StringValue(expr.DefaultDateTimeFormat), types.StringType().WithNullable(false))}
	}
	k := c.compileFormat(call, args, true)
	if f, ok := k.(*vdateFormat); ok && !args[0].Type().IsIntegral() { // a DECIMAL or float: milliseconds
		ms := &vepochMillis{x: c.compileAsFloat(args[0])}
		if ms.x == nil {
			return nil
		}
		f.x, f.millis = ms, true
	}
	return k
}

// Epoch seconds FROM_UNIXTIME formats on the kernel path: years 1 to 9999 (others bail).
const minEpochSec, maxEpochSec = -62_135_596_800, 253_402_300_799

func (c *vcompiler) compileFormat(call expr.Expr, args []expr.Expr, epoch bool) vexpr {
	t := args[0].Type()
	k := &vdateFormat{kind: t.Kind, epoch: epoch}
	switch {
	case epoch:
		k.kind = types.BigInt
		loc, ok := expr.SessionZone(call)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	case t.Kind == types.Timestamp, t.Kind == types.Date, t.IsString():
	case t.Kind == types.TimestampLTZ:
		loc, ok := expr.SessionZone(call)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	default:
		return nil
	}
	if pv, ok := expr.LiteralOf(args[1]); ok {
		if pv.IsNull() {
			return nil
		}
		if k.fields, ok = compileDateFields(pv.S); !ok {
			return nil
		}
	} else if !args[1].Type().IsString() {
		return nil
	} else if k.pat = c.compile(args[1]); k.pat == nil {
		return nil
	}
	if k.x = c.compile(args[0]); k.x == nil {
		return nil
	}
	return k
}

// vdateFormat is DATE_FORMAT with a compiled pattern (fields) or a pattern column (pat).
type vdateFormat struct {
	x      vexpr
	kind   types.Kind // the operand's
	epoch  bool       // FROM_UNIXTIME: the operand is epoch seconds
	millis bool       // epoch: the operand is epoch milliseconds (of a DECIMAL or float)
	zone   *zoneOffsets
	fields []dateField
	pat    vexpr
	last   string // pat: the pattern fields hold
	have   bool   // pat: fields hold last's
	out    vec.Col
	nb, ob vec.Bitmap
}

func (k *vdateFormat) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	str := k.kind != types.Timestamp && k.kind != types.TimestampLTZ && k.kind != types.Date && !k.epoch
	if str && x.Kind != vec.Bytes || !str && x.Kind != vec.Int64 {
		return nil, errBail
	}
	n := b.N
	var pat *vec.Col
	in := x.Nulls
	if k.pat != nil {
		if pat, err = strCol(k.pat, b); err != nil {
			return nil, err
		}
		in = orNulls(&k.nb, n, x.Nulls, pat.Nulls)
	}
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	var bad vec.Bitmap // strings that do not parse
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || in.Get(i) {
			endRow(out)
			continue
		}
		if pat != nil {
			if p := pat.Str(i); !k.have || p != k.last {
				fs, ok := compileDateFields(p)
				if !ok {
					return nil, errBail // letters without a writer, or the row path's error
				}
				k.fields, k.last, k.have = fs, string([]byte(p)), true
			}
		}
		var c civil
		switch k.kind {
		case types.Date:
			c = civilOf(x.I64[i]*86_400_000, 0)
		case types.Timestamp:
			c = civilOf(x.I64[i], nanoAt(x, i))
		case types.TimestampLTZ:
			ms := x.I64[i]
			local := k.zone.toLocal(ms)
			c = civilOf(local, nanoAt(x, i))
			c.off, c.loc, c.inst = (local-ms)/1000, k.zone.loc, ms
		case types.BigInt:
			if k.millis {
				ms := x.I64[i]
				if ms < minEpochSec*1000 || ms > maxEpochSec*1000+999 {
					return nil, errBail
				}
				local := k.zone.toLocal(ms)
				c = civilOf(local, 0)
				c.off, c.loc, c.inst = (local-ms)/1000, k.zone.loc, ms
				break
			}
			sec := x.I64[i]
			if sec < minEpochSec || sec > maxEpochSec {
				return nil, errBail
			}
			local := k.zone.toLocal(sec * 1000)
			c = civilOf(local, 0)
			c.off, c.loc, c.inst = (local-sec*1000)/1000, k.zone.loc, sec*1000
		default:
			ts, err := types.ParseTimestamp(x.Str(i), 9)
			if err != nil {
				if bad == nil {
					k.ob = vec.ResetBitmap(k.ob, n)
					bad = k.ob
				}
				bad.Set(i)
				endRow(out)
				continue
			}
			c = civilOf(ts.I, ts.N)
		}
		out.Data = formatCivil(out.Data, k.fields, &c)
		endRow(out)
	}
	out.Nulls = in
	if bad != nil {
		out.Nulls = unionNulls(&k.ob, n, bad, in)
	}
	return out, nil
}

// compileVolatile compiles the volatile calls that have kernels: PROCTIME() (expr.CallParts does not open
// volatile calls; its printed form names it).
func (c *vcompiler) compileVolatile(x expr.Expr) vexpr {
	if x.Type().Kind == types.TimestampLTZ && x.String() == "PROCTIME()" {
		return &vclock{x: x}
	}
	if x.String() == "UNIX_TIMESTAMP()" {
		return c.compileNowFn(x)
	}
	return nil
}

// vclock is PROCTIME(): the processing time, read once per batch (a batch is processed at one instant; the
// row path reads the clock per row, microseconds apart). x is the row path's expression, evaluated for
// the reading.
type vclock struct {
	x     expr.Expr
	out   vec.Col
	nanos []int32
}

func (k *vclock) eval(b *vec.Batch) (*vec.Col, error) {
	v, err := k.x.Eval(nil)
	if err != nil {
		return nil, err
	}
	if v.T != types.TagTimestamp {
		return nil, errBail
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagTimestamp, I64: growI64(k.out.I64, n)}
	for i := range k.out.I64 {
		k.out.I64[i] = v.I
	}
	if v.N != 0 {
		if cap(k.nanos) < n {
			k.nanos = make([]int32, n)
		}
		k.out.Nanos = k.nanos[:n]
		for i := range k.out.Nanos {
			k.out.Nanos[i] = v.N
		}
	}
	return &k.out, nil
}
