package expr

import (
	"math"
	"strings"
	"time"

	"github.com/sluicesql/sluice/types"
)

// Date arithmetic on the proleptic Gregorian calendar (H. Hinnant's algorithms).

// addMonthsDays adds months to a date (days since epoch), clamping the day to the month's end.
func addMonthsDays(days, months int64) int64 {
	y, m, d := types.CivilFromDays(days)
	total := y*12 + (m - 1) + months
	ny, nm := floorDiv(total, 12), floorMod(total, 12)+1
	d = min(d, types.DaysInMonth(ny, nm))
	return types.DaysFromCivil(ny, nm, d)
}

func addMonthsTimestamp(v types.Value, months int64) types.Value {
	days, ms := floorDiv(v.I, millisPerDay), floorMod(v.I, millisPerDay)
	return types.TimestampValue(addMonthsDays(days, months)*millisPerDay+ms, v.N)
}

// subtractMonths is Calcite's/Flink's month difference of two dates (date0 - date1).
func subtractMonths(date0, date1 int64) int64 {
	if date0 < date1 {
		return -subtractMonths(date1, date0)
	}
	m := (date0 - date1) / 31
	for {
		date2 := addMonthsDays(date1, m)
		if date2 >= date0 {
			return m
		}
		date3 := addMonthsDays(date1, m+1)
		if date3 > date0 {
			return m
		}
		m++
	}
}

// subtractMonthsTs is the month difference of two timestamps in millis (t0 - t1).
func subtractMonthsTs(t0, t1 int64) int64 {
	ms0, ms1 := floorMod(t0, millisPerDay), floorMod(t1, millisPerDay)
	d0, d1 := floorDiv(t0, millisPerDay), floorDiv(t1, millisPerDay)
	x := subtractMonths(d0, d1)
	d2 := addMonthsDays(d1, x)
	if d2 == d0 && ms0 < ms1 {
		x--
	}
	return x
}

// wallClock returns the wall-clock view of a temporal value of type t as a TIMESTAMP value (millis as if
// UTC): TIMESTAMP_LTZ is shown in loc, DATE is midnight.
func wallClockFn(t types.Type, loc *time.Location) func(types.Value) types.Value {
	switch t.Kind {
	case types.TimestampLTZ:
		return func(v types.Value) types.Value { return types.TimestampToLocal(v, loc) }
	case types.Date:
		return func(v types.Value) types.Value { return types.TimestampValue(v.I*millisPerDay, 0) }
	case types.Time:
		return func(v types.Value) types.Value {
			return types.TimestampValue(v.I/1_000_000, int32(v.I%1_000_000))
		}
	}
	return func(v types.Value) types.Value { return v }
}

// timeOf returns a wall-clock TIMESTAMP value as a time.Time in UTC.
func timeOf(v types.Value) time.Time { return types.ValueToTime(v) }

func nowFn(c *callSite, t types.Type, f func(now time.Time, loc *time.Location) types.Value) (Expr, error) {
	env := c.env
	e := c.make(t.WithNullable(false), func([]types.Value) (types.Value, error) {
		return f(env.Now(), env.Location), nil
	})
	e.volatile = true
	return e, nil
}

func wallNow(now time.Time, loc *time.Location) types.Value {
	return types.TimestampToLocal(types.TimestampFromTime(now), loc)
}

func bindCurrentTimestamp(c *callSite) (Expr, error) {
	return nowFn(c, types.TimestampLTZType(3), func(now time.Time, _ *time.Location) types.Value {
		return types.TruncateTimestamp(types.TimestampFromTime(now), 3)
	})
}

func bindLocalTimestamp(c *callSite) (Expr, error) {
	return nowFn(c, types.TimestampType(3), func(now time.Time, loc *time.Location) types.Value {
		return types.TruncateTimestamp(wallNow(now, loc), 3)
	})
}

func bindCurrentDate(c *callSite) (Expr, error) {
	return nowFn(c, types.DateType(), func(now time.Time, loc *time.Location) types.Value {
		return types.DateValue(floorDiv(wallNow(now, loc).I, millisPerDay))
	})
}

func bindCurrentTime(c *callSite) (Expr, error) {
	return nowFn(c, types.TimeType(0), func(now time.Time, loc *time.Location) types.Value {
		ms := floorMod(wallNow(now, loc).I, millisPerDay)
		return types.TimeValue(ms / 1000 * 1_000_000_000)
	})
}

// dateFormatArg returns the formatter for a format argument: compiled once when constant (an unknown
// pattern letter is then a bind-time error), per row otherwise.
func dateFormatArg(x Expr) (func(types.Value) (*javaDateFormat, error), error) {
	if v, okc := constValue(x); okc && !v.IsNull() {
		f, err := compileDateFormat(v.S)
		if err != nil {
			return nil, errorf("%s", err.Error())
		}
		return func(types.Value) (*javaDateFormat, error) { return f, nil }, nil
	}
	return func(v types.Value) (*javaDateFormat, error) { return compileDateFormat(v.S) }, nil
}

const defaultDateTimeFormat = "yyyy-MM-dd HH:mm:ss"

// bindDateFormat is DATE_FORMAT(ts, fmt): a TIMESTAMP, TIMESTAMP_LTZ (shown in the session zone) or DATE,
// or a string parsed as a timestamp (NULL when it does not parse).
func bindDateFormat(c *callSite) (Expr, error) {
	x := c.args[0]
	tx := x.Type()
	if !(isDateTimeT(tx) && tx.Kind != types.Time || isStrT(tx)) || !c.strArgs(1) {
		return nil, c.bad()
	}
	if tx.Kind == types.Null {
		c.args[0] = Literal(types.NullValue, types.TimestampType(3))
		x, tx = c.args[0], c.args[0].Type()
	}
	getFmt, err := dateFormatArg(c.args[1])
	if err != nil {
		return nil, err
	}
	var wall func(types.Value) (types.Value, bool)
	if tx.IsString() {
		wall = func(v types.Value) (types.Value, bool) {
			ts, err := types.ParseTimestamp(v.S, 9)
			return ts, err == nil
		}
	} else {
		w := wallClockFn(tx, c.env.Location)
		wall = func(v types.Value) (types.Value, bool) { return w(v), true }
	}
	loc := c.env.Location
	ltz := tx.Kind == types.TimestampLTZ
	return c.make(types.StringType(), strict2(x, c.args[1], func(v, fv types.Value) (types.Value, error) {
		f, err := getFmt(fv)
		if err != nil {
			return types.NullValue, err
		}
		w, okw := wall(v)
		if !okw {
			return types.NullValue, nil
		}
		t := timeOf(w)
		if ltz {
			t = types.ValueToTime(v).In(loc)
		}
		return str(string(f.format(nil, t)))
	})), nil
}

// parseWall parses s with an optional format into a wall-clock TIMESTAMP value; ok is false when it
// does not parse.
// When the text carries a zone offset (X, x, Z), the result is the UTC wall clock and zoned is true.
func parseWallFn(fmtArg Expr, defaultParse func(string) (types.Value, error)) (func(s, f types.Value) (v types.Value, ok, zoned bool, err error), error) {
	if fmtArg == nil {
		return func(s, _ types.Value) (types.Value, bool, bool, error) {
			v, err := defaultParse(s.S)
			return v, err == nil, false, nil
		}, nil
	}
	getFmt, err := dateFormatArg(fmtArg)
	if err != nil {
		return nil, err
	}
	return func(s, fv types.Value) (types.Value, bool, bool, error) {
		f, err := getFmt(fv)
		if err != nil {
			return types.NullValue, false, false, err
		}
		p, okp := f.parse(s.S)
		if !okp {
			return types.NullValue, false, false, nil
		}
		ms, ns := p.wallMillis()
		if p.hasOffset {
			// text with an explicit offset: convert to the UTC wall clock.
			ms -= int64(p.offset) * 1000
		}
		return types.TimestampValue(ms, ns), true, p.hasOffset, nil
	}, nil
}

// bindParseTemporal is TO_TIMESTAMP(s[, fmt]) → TIMESTAMP(3) and TO_DATE(s[, fmt]) → DATE; NULL when s
// does not parse.
func bindParseTemporal(toDate bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.strArgs(seq(0, len(c.args))...) {
			return nil, c.bad()
		}
		var fmtArg Expr
		if len(c.args) == 2 {
			fmtArg = c.args[1]
		}
		def := func(s string) (types.Value, error) { return types.ParseTimestamp(s, 3) }
		if toDate {
			def = func(s string) (types.Value, error) {
				d, err := types.ParseDate(s)
				return types.TimestampValue(d.I*millisPerDay, 0), err
			}
		}
		parse, err := parseWallFn(fmtArg, def)
		if err != nil {
			return nil, err
		}
		rt := types.TimestampType(3)
		conv := func(v types.Value) types.Value { return types.TruncateTimestamp(v, 3) }
		if toDate {
			rt = types.DateType()
			conv = func(v types.Value) types.Value { return types.DateValue(floorDiv(v.I, millisPerDay)) }
		}
		f := func(s, fv types.Value) (types.Value, error) {
			v, okp, _, err := parse(s, fv)
			if err != nil || !okp {
				return types.NullValue, err
			}
			return conv(v), nil
		}
		if fmtArg == nil {
			return c.make(rt, strict1(c.args[0], func(s types.Value) (types.Value, error) { return f(s, types.NullValue) })), nil
		}
		return c.make(rt, strict2(c.args[0], fmtArg, f)), nil
	}
}

// bindToTimestampLTZ is TO_TIMESTAMP_LTZ(n[, precision]): epoch seconds (precision 0) or milliseconds
// (precision 3, the default) as a TIMESTAMP_LTZ(3).
func bindToTimestampLTZ(c *callSite) (Expr, error) {
	if !isNumT(c.t(0)) {
		return nil, c.bad()
	}
	if isNullT(c.t(0)) {
		c.args[0] = Literal(types.NullValue, types.BigIntType())
	}
	prec := int64(3)
	if len(c.args) == 2 {
		p, okp := intLiteral(c.args[1])
		if !okp {
			return nil, c.bad()
		}
		if p != 0 && p != 3 {
			return nil, errorf("The precision value '%d' for function TO_TIMESTAMP_LTZ(numeric, precision) is unsupported, the supported value is '0' for second or '3' for millisecond.", p)
		}
		prec = p
	}
	scale := 1.0
	var mul int64 = 1
	if prec == 0 {
		scale, mul = 1000, 1000
	}
	tx := c.t(0)
	var f func(v types.Value) (types.Value, error)
	switch {
	case tx.IsIntegral():
		f = func(v types.Value) (types.Value, error) { return types.TimestampValue(v.I*mul, 0), nil }
	default:
		toF := toFloatFn(tx)
		f = func(v types.Value) (types.Value, error) {
			ms := toF(v) * scale
			if math.IsNaN(ms) || math.IsInf(ms, 0) {
				return types.NullValue, nil
			}
			whole := math.Floor(ms)
			return types.TimestampValue(int64(whole), int32(math.Round((ms-whole)*1e6))/1000*1000), nil
		}
	}
	e := c.make(types.TimestampLTZType(3).WithNullable(tx.Nullable()), strict1(c.args[0], f))
	return e, nil
}

// bindUnixTimestamp is UNIX_TIMESTAMP() (now, in seconds) or UNIX_TIMESTAMP(s[, fmt]): s parsed in the
// session zone; Long.MIN_VALUE when it does not parse, as Flink.
func bindUnixTimestamp(c *callSite) (Expr, error) {
	if len(c.args) == 0 {
		return nowFn(c, types.BigIntType(), func(now time.Time, _ *time.Location) types.Value {
			return types.IntValue(now.Unix())
		})
	}
	if !c.strArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	fmtArg := Literal(types.StringValue(defaultDateTimeFormat), types.StringType().WithNullable(false))
	if len(c.args) == 2 {
		fmtArg = c.args[1]
	}
	parse, err := parseWallFn(fmtArg, nil)
	if err != nil {
		return nil, err
	}
	loc := c.env.Location
	return c.make(types.BigIntType().WithNullable(anyNullable(c.args...)), strict2(c.args[0], fmtArg, func(s, fv types.Value) (types.Value, error) {
		v, okp, zoned, err := parse(s, fv)
		if err != nil {
			return types.NullValue, err
		}
		if !okp {
			return types.IntValue(math.MinInt64), nil
		}
		if zoned {
			return types.IntValue(floorDiv(v.I, 1000)), nil
		}
		return types.IntValue(floorDiv(types.TimestampFromLocal(v, loc).I, 1000)), nil
	})), nil
}

// bindFromUnixtime is FROM_UNIXTIME(seconds[, fmt]): the instant formatted in the session zone.
func bindFromUnixtime(c *callSite) (Expr, error) {
	if !isNumT(c.t(0)) || len(c.args) == 2 && !c.strArgs(1) {
		return nil, c.bad()
	}
	if isNullT(c.t(0)) {
		c.args[0] = Literal(types.NullValue, types.BigIntType())
	}
	fmtArg := Literal(types.StringValue(defaultDateTimeFormat), types.StringType().WithNullable(false))
	if len(c.args) == 2 {
		fmtArg = c.args[1]
	}
	getFmt, err := dateFormatArg(fmtArg)
	if err != nil {
		return nil, err
	}
	toF := toFloatFn(c.t(0))
	integral := c.t(0).IsIntegral()
	loc := c.env.Location
	return c.strict(types.StringType(), strict2(c.args[0], fmtArg, func(n, fv types.Value) (types.Value, error) {
		f, err := getFmt(fv)
		if err != nil {
			return types.NullValue, err
		}
		var t time.Time
		if integral {
			t = time.Unix(n.I, 0)
		} else {
			t = time.UnixMilli(int64(math.Floor(toF(n) * 1000)))
		}
		return str(string(f.format(nil, t.In(loc))))
	})), nil
}

// extractField returns the field of a wall-clock timestamp value (days/millis as if UTC).
func extractField(unit string, v types.Value) (int64, bool) {
	days, ms := floorDiv(v.I, millisPerDay), floorMod(v.I, millisPerDay)
	y, m, d := types.CivilFromDays(days)
	switch unit {
	case "YEAR":
		return y, true
	case "QUARTER":
		return (m-1)/3 + 1, true
	case "MONTH":
		return m, true
	case "WEEK":
		_, w := timeOf(types.TimestampValue(days*millisPerDay, 0)).ISOWeek()
		return int64(w), true
	case "DAY", "DAYOFMONTH":
		return d, true
	case "DOY", "DAYOFYEAR":
		return days - types.DaysFromCivil(y, 1, 1) + 1, true
	case "DOW", "DAYOFWEEK":
		return floorMod(days+4, 7) + 1, true // 1970-01-01 was a Thursday; Sunday = 1
	case "ISODOW":
		return floorMod(days+3, 7) + 1, true // Monday = 1
	case "ISOYEAR":
		iy, _ := timeOf(types.TimestampValue(days*millisPerDay, 0)).ISOWeek()
		return int64(iy), true
	case "HOUR":
		return ms / 3_600_000, true
	case "MINUTE":
		return ms / 60_000 % 60, true
	case "SECOND":
		return ms / 1000 % 60, true
	case "MILLISECOND":
		return ms % 60_000, true
	case "MICROSECOND":
		return ms%60_000*1000 + int64(v.N)/1000, true
	case "NANOSECOND":
		return ms%60_000*1_000_000 + int64(v.N), true
	case "EPOCH":
		return floorDiv(v.I, 1000), true
	case "DECADE":
		return floorDiv(y, 10), true
	case "CENTURY":
		if y > 0 {
			return (y + 99) / 100, true
		}
		return -((-y + 99) / 100), true
	case "MILLENNIUM":
		if y > 0 {
			return (y + 999) / 1000, true
		}
		return -((-y + 999) / 1000), true
	}
	return 0, false
}

var extractUnits = []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOY", "DOW", "ISODOW", "ISOYEAR",
	"HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND", "NANOSECOND", "EPOCH", "DECADE", "CENTURY",
	"MILLENNIUM"}

func validUnit(unit string, units []string) bool {
	for _, u := range units {
		if u == unit {
			return true
		}
	}
	return false
}

// extractEval returns the evaluation of EXTRACT(unit FROM x).
func extractEval(c *callSite, unit string, x Expr) (evalFn, bool) {
	tx := x.Type()
	switch tx.Kind {
	case types.IntervalYearMonth:
		switch unit {
		case "YEAR":
			return strict1(x, func(v types.Value) (types.Value, error) { return types.IntValue(v.I / 12), nil }), true
		case "MONTH":
			return strict1(x, func(v types.Value) (types.Value, error) { return types.IntValue(v.I % 12), nil }), true
		}
		return nil, false
	case types.IntervalDayTime:
		div, mod := int64(0), int64(0)
		switch unit {
		case "DAY":
			div, mod = millisPerDay, 0
		case "HOUR":
			div, mod = 3_600_000, 24
		case "MINUTE":
			div, mod = 60_000, 60
		case "SECOND":
			div, mod = 1000, 60
		case "MILLISECOND":
			div, mod = 1, 60_000
		default:
			return nil, false
		}
		return strict1(x, func(v types.Value) (types.Value, error) {
			r := v.I / div
			if mod != 0 {
				r %= mod
			}
			return types.IntValue(r), nil
		}), true
	case types.Time:
		switch unit {
		case "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND", "NANOSECOND":
		default:
			return nil, false
		}
	case types.Date, types.Timestamp, types.TimestampLTZ:
	default:
		return nil, false
	}
	if !validUnit(unit, extractUnits) {
		return nil, false
	}
	wall := wallClockFn(tx, c.env.Location)
	return strict1(x, func(v types.Value) (types.Value, error) {
		r, _ := extractField(unit, wall(v))
		return types.IntValue(r), nil
	}), true
}

// bindExtract is EXTRACT(unit, x) with the unit as a string literal.
func bindExtract(c *callSite) (Expr, error) {
	unit, okc := strLiteral(c.args[0])
	if !okc {
		return nil, c.bad()
	}
	unit = strings.ToUpper(unit)
	x := c.args[1]
	if isNullT(x.Type()) {
		x = Literal(types.NullValue, types.TimestampType(3))
	}
	f, okf := extractEval(c, unit, x)
	if !okf {
		return nil, c.bad()
	}
	e := c.make(types.BigIntType().WithNullable(x.Type().Nullable()), f)
	e.args = []Expr{x}
	e.str = func() string { return "EXTRACT(" + unit + " FROM " + x.String() + ")" }
	return e, nil
}

// bindDatePart is YEAR(x), MONTH(x), ... = EXTRACT(unit FROM x).
func bindDatePart(unit string) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		x := c.args[0]
		if isNullT(x.Type()) {
			x = Literal(types.NullValue, types.TimestampType(3))
		}
		if !isDateTimeT(x.Type()) {
			return nil, c.bad()
		}
		f, okf := extractEval(c, unit, x)
		if !okf {
			return nil, c.bad()
		}
		c.args = []Expr{x}
		return c.make(types.BigIntType().WithNullable(x.Type().Nullable()), f), nil
	}
}

// unitMillis is the length of a fixed-length TIMESTAMPADD/TIMESTAMPDIFF unit; months for month-based
// units are reported separately.
func timeUnit(unit string) (millis int64, months int64, ok bool) {
	switch strings.TrimPrefix(unit, "SQL_TSI_") {
	case "YEAR":
		return 0, 12, true
	case "QUARTER":
		return 0, 3, true
	case "MONTH":
		return 0, 1, true
	case "WEEK":
		return 7 * millisPerDay, 0, true
	case "DAY":
		return millisPerDay, 0, true
	case "HOUR":
		return 3_600_000, 0, true
	case "MINUTE":
		return 60_000, 0, true
	case "SECOND":
		return 1000, 0, true
	case "MILLISECOND":
		return 1, 0, true
	}
	return 0, 0, false
}

// bindTimestampAdd is TIMESTAMPADD(unit, n, t).
func bindTimestampAdd(c *callSite) (Expr, error) {
	unit, okc := strLiteral(c.args[0])
	unit = strings.ToUpper(unit)
	unitMs, unitMonths, oku := timeUnit(unit)
	if !okc || !oku || !c.intArgs(1) || !isDateTimeT(c.t(2)) {
		return nil, c.bad()
	}
	n, x := c.args[1], c.args[2]
	if isNullT(x.Type()) {
		x = Literal(types.NullValue, types.TimestampType(3))
	}
	tx := x.Type()
	rt := tx
	loc := c.env.Location
	var f func(v, k types.Value) (types.Value, error)
	switch tx.Kind {
	case types.Date:
		if unitMonths == 0 && unitMs < millisPerDay {
			p := 0
			if unitMs < 1000 {
				p = 3
			}
			rt = types.TimestampType(p)
			f = func(v, k types.Value) (types.Value, error) {
				return types.TimestampValue(v.I*millisPerDay+k.I*unitMs, 0), nil
			}
		} else if unitMonths != 0 {
			f = func(v, k types.Value) (types.Value, error) {
				return types.DateValue(addMonthsDays(v.I, k.I*unitMonths)), nil
			}
		} else {
			f = func(v, k types.Value) (types.Value, error) {
				return types.DateValue(v.I + k.I*unitMs/millisPerDay), nil
			}
		}
	case types.Time:
		if unitMonths != 0 || unitMs >= millisPerDay {
			return nil, c.bad()
		}
		f = func(v, k types.Value) (types.Value, error) {
			return types.TimeValue(floorMod(v.I+k.I*unitMs*1_000_000, nanosPerDay)), nil
		}
	case types.Timestamp:
		if unitMonths != 0 {
			f = func(v, k types.Value) (types.Value, error) { return addMonthsTimestamp(v, k.I*unitMonths), nil }
		} else {
			f = func(v, k types.Value) (types.Value, error) { return types.TimestampValue(v.I+k.I*unitMs, v.N), nil }
		}
	case types.TimestampLTZ:
		// calendar units move the wall clock of the session zone; shorter ones move the instant.
		if unitMonths != 0 || unitMs >= millisPerDay {
			f = func(v, k types.Value) (types.Value, error) {
				w := types.TimestampToLocal(v, loc)
				if unitMonths != 0 {
					w = addMonthsTimestamp(w, k.I*unitMonths)
				} else {
					w = types.TimestampValue(w.I+k.I*unitMs, w.N)
				}
				return types.TimestampFromLocal(w, loc), nil
			}
		} else {
			f = func(v, k types.Value) (types.Value, error) { return types.TimestampValue(v.I+k.I*unitMs, v.N), nil }
		}
	}
	e := c.make(rt.WithNullable(anyNullable(n, x)), strict2(x, n, f))
	e.args = []Expr{n, x}
	e.str = func() string { return "TIMESTAMPADD(" + unit + ", " + n.String() + ", " + x.String() + ")" }
	return e, nil
}

// bindTimestampDiff is TIMESTAMPDIFF(unit, a, b): the number of whole units from a to b, as INT.
func bindTimestampDiff(c *callSite) (Expr, error) {
	unit, okc := strLiteral(c.args[0])
	unit = strings.ToUpper(unit)
	unitMs, unitMonths, oku := timeUnit(unit)
	if !okc || !oku {
		return nil, c.bad()
	}
	a, b := c.args[1], c.args[2]
	ta, tb := a.Type(), b.Type()
	okt := func(t types.Type) bool { return t.IsTimestamp() || t.Kind == types.Date || isNullT(t) }
	if !okt(ta) || !okt(tb) {
		return nil, c.bad()
	}
	// Compare instants for TIMESTAMP_LTZ, wall clocks otherwise.
	loc := c.env.Location
	conv := func(t types.Type) func(types.Value) types.Value {
		switch t.Kind {
		case types.Date:
			return func(v types.Value) types.Value { return types.TimestampValue(v.I*millisPerDay, 0) }
		case types.TimestampLTZ:
			if unitMonths != 0 {
				return func(v types.Value) types.Value { return types.TimestampToLocal(v, loc) }
			}
		}
		return func(v types.Value) types.Value { return v }
	}
	ca, cb := conv(ta), conv(tb)
	if isNullT(ta) {
		a = Literal(types.NullValue, types.TimestampType(3))
	}
	if isNullT(tb) {
		b = Literal(types.NullValue, types.TimestampType(3))
	}
	e := c.make(types.IntType().WithNullable(anyNullable(a, b)), strict2(a, b, func(x, y types.Value) (types.Value, error) {
		x, y = ca(x), cb(y)
		if unitMonths != 0 {
			return types.IntValue(int64(int32(subtractMonthsTs(y.I, x.I) / unitMonths))), nil
		}
		return types.IntValue(int64(int32((y.I - x.I) / unitMs))), nil
	}))
	e.args = []Expr{a, b}
	e.str = func() string { return "TIMESTAMPDIFF(" + unit + ", " + a.String() + ", " + b.String() + ")" }
	return e, nil
}
