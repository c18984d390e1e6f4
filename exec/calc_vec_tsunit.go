package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TIMESTAMPADD(unit, n, t) and TIMESTAMPDIFF(unit, a, b) for every unit and operand type the row path
// takes (expr/datetime.go): calendar units (YEAR, QUARTER, MONTH) move the wall clock's date with the day
// clamped to the month, as do DAY and WEEK on a TIMESTAMP_LTZ (in the session zone); shorter units add
// milliseconds (wrapping as the row path's int64 arithmetic; a TIME wraps around the day).

const nsPerDay = 86_400_000_000_000

// compileTimeUnit compiles TIMESTAMPADD (add) or TIMESTAMPDIFF.
func (c *vcompiler) compileTimeUnit(x expr.Expr, add bool) vexpr {
	unitMs, months, a, b, ok := expr.TimeUnitParts(x)
	if !ok {
		return nil
	}
	k := &vtsUnit{add: add, unitMs: unitMs, months: months, kindA: a.Type().Kind, kindB: b.Type().Kind, tag: vec.ColFor(x.Type()).Tag}
	if add {
		// a is the count, b the temporal operand
		if !a.Type().IsIntegral() {
			return nil
		}
		switch k.kindB {
		case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		default:
			return nil
		}
	} else {
		for _, kd := range []types.Kind{k.kindA, k.kindB} {
			if kd != types.Date && kd != types.Timestamp && kd != types.TimestampLTZ {
				return nil
			}
		}
	}
	if k.kindA == types.TimestampLTZ || k.kindB == types.TimestampLTZ {
		loc, ok := expr.SessionZone(x)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	}
	if k.a, k.b = c.compile(a), c.compile(b); k.a == nil || k.b == nil {
		return nil
	}
	return k
}

// vtsUnit is TIMESTAMPADD (add: a is the count, b the DATE, TIME or timestamp) or TIMESTAMPDIFF (the
// INT count of whole units from a to b).
type vtsUnit struct {
	a, b         vexpr
	add          bool
	unitMs       int64
	months       int64
	kindA, kindB types.Kind
	tag          types.Tag
	zone         *zoneOffsets
	out          vec.Col
	nb           vec.Bitmap
}

func (k *vtsUnit) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.a, b)
	if err != nil {
		return nil, err
	}
	y, err := intCol(k.b, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: k.tag, I64: growI64(k.out.I64, n), Nulls: orNulls(&k.nb, n, x.Nulls, y.Nulls)}
	out := k.out.I64[:n]
	if !k.add {
		k.diff(out, x.I64[:n], y.I64[:n])
		return &k.out, nil
	}
	cnt, v := x.I64[:n], y.I64[:n]
	switch {
	case k.kindB == types.Date && k.months == 0 && k.unitMs < msPerDay: // a TIMESTAMP
		for i := range out {
			out[i] = v[i]*msPerDay + cnt[i]*k.unitMs
		}
	case k.kindB == types.Date && k.months != 0:
		for i := range out {
			out[i] = k.addMonthsAt(v[i], cnt[i]*k.months, x.Nulls, y.Nulls, i)
		}
	case k.kindB == types.Date:
		for i := range out {
			out[i] = v[i] + cnt[i]*k.unitMs/msPerDay
		}
	case k.kindB == types.Time:
		if k.months != 0 || k.unitMs >= msPerDay {
			return nil, errBail
		}
		for i := range out {
			out[i] = floorMod(v[i]+cnt[i]*k.unitMs*1_000_000, nsPerDay)
		}
	case k.months != 0 || k.kindB == types.TimestampLTZ && k.unitMs >= msPerDay:
		k.out.Nanos = y.Nanos
		for i := range out {
			if x.Nulls.Get(i) || y.Nulls.Get(i) {
				out[i] = 0
				continue
			}
			w := v[i]
			if k.zone != nil {
				w = k.zone.toLocal(w)
			}
			if k.months != 0 {
				w = expr.AddMonthsDays(floorDiv(w, msPerDay), cnt[i]*k.months)*msPerDay + floorMod(w, msPerDay)
			} else {
				w += cnt[i] * k.unitMs
			}
			if k.zone != nil {
				w = k.zone.fromLocal(w)
			}
			out[i] = w
		}
	default: // milliseconds onto a TIMESTAMP or TIMESTAMP_LTZ
		k.out.Nanos = y.Nanos
		for i := range out {
			out[i] = v[i] + cnt[i]*k.unitMs
		}
	}
	return &k.out, nil
}

// addMonthsAt is AddMonthsDays for row i (0 where the row is NULL: its slots hold garbage).
func (k *vtsUnit) addMonthsAt(days, months int64, xn, yn vec.Bitmap, i int) int64 {
	if xn.Get(i) || yn.Get(i) {
		return 0
	}
	return expr.AddMonthsDays(days, months)
}

// diff computes TIMESTAMPDIFF into out.
func (k *vtsUnit) diff(out, xs, ys []int64) {
	nulls := k.out.Nulls
	for i := range out {
		if nulls.Get(i) {
			out[i] = 0
			continue
		}
		p, q := k.wall(k.kindA, xs[i]), k.wall(k.kindB, ys[i])
		if k.months != 0 {
			out[i] = int64(int32(expr.SubtractMonthsTs(q, p) / k.months))
		} else {
			out[i] = int64(int32((q - p) / k.unitMs))
		}
	}
}

// wall is TIMESTAMPDIFF's view of an operand: a DATE's midnight, a TIMESTAMP_LTZ's wall clock for calendar
// units (its instant otherwise), a TIMESTAMP's millis.
func (k *vtsUnit) wall(kind types.Kind, v int64) int64 {
	switch {
	case kind == types.Date:
		return v * msPerDay
	case kind == types.TimestampLTZ && k.months != 0:
		return k.zone.toLocal(v)
	}
	return v
}
