package exec

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Merging accumulators: the slice-shared window aggregate (window_slice.go) keeps one accumulator per
// (slice, key) and computes a window's result by merging the accumulators of the window's slices into a
// fresh one. mergeFrom adds the state of o (an accumulator of the same call) into the receiver; o is not
// changed.

// mergingAcc is implemented by the accumulators whose states merge.
type mergingAcc interface {
	mergeFrom(o accumulator)
}

// SliceMergeable reports whether a window aggregate can compute the call from merged slice accumulators:
// COUNT, SUM, SUM0, AVG, MIN, MAX, BOOL_AND, BOOL_OR and the statistical aggregates (STDDEV*, VAR*), not
// DISTINCT calls. FIRST_VALUE, LAST_VALUE and LISTAGG depend on the arrival order across slices, COLLECT
// and DISTINCT on the set of values; those keep the per-window aggregation.
func SliceMergeable(c AggCall) bool {
	if c.Distinct {
		return false
	}
	fn := strings.ToUpper(c.Func)
	switch fn {
	case "COUNT", "SUM", "SUM0", "AVG", "MIN", "MAX", "BOOL_AND", "BOOL_OR":
		return true
	}
	_, stat := statFuncs[fn]
	return stat
}

func (a *countAcc) mergeFrom(o accumulator) { a.n += o.(*countAcc).n }

func (a *sumAcc) mergeFrom(o accumulator) {
	b := o.(*sumAcc)
	if b.class == numUnknown {
		return // no value seen
	}
	if a.class == numUnknown {
		a.class, a.scale = b.class, b.scale
	}
	a.cnt += b.cnt
	switch a.class {
	case numInt:
		a.i += b.i
	case numFloat:
		a.f += b.f
		if a.s.resType.Kind == types.Float {
			a.f = float64(float32(a.f))
		}
	case numDecimal:
		if b.d.T != types.TagDecimal {
			return
		}
		if a.d.T != types.TagDecimal {
			a.d = types.DecimalValue(0, a.scale)
		}
		a.d = types.DecimalAdd(a.d, b.d)
	}
}

func (a *minMaxAcc) mergeFrom(o accumulator) {
	b := o.(*minMaxAcc)
	if !b.has {
		return
	}
	if !a.has {
		a.v, a.has = b.v, true
		return
	}
	c := types.Compare(b.v, a.v, a.s.argType)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = b.v
	}
}

func (a *boolAcc) mergeFrom(o accumulator) {
	b := o.(*boolAcc)
	a.trues += b.trues
	a.falses += b.falses
}

func (a *statAcc) mergeFrom(o accumulator) {
	b := o.(*statAcc)
	a.cnt += b.cnt
	switch a.s.class {
	case numInt:
		k := a.s.resType.Kind
		a.i = wrapInt(a.i+b.i, k)
		a.ii = wrapInt(a.ii+b.ii, k)
	case numDecimal:
		if b.d.T != types.TagDecimal {
			return
		}
		if a.d.T != types.TagDecimal {
			a.d, a.dd = types.DecimalValue(0, 0), types.DecimalValue(0, 0)
		}
		a.d, a.dd = types.DecimalAdd(a.d, b.d), types.DecimalAdd(a.dd, b.dd)
	default:
		a.f += b.f
		a.ff += b.ff
	}
}

var (
	_ mergingAcc = (*countAcc)(nil)
	_ mergingAcc = (*sumAcc)(nil)
	_ mergingAcc = (*minMaxAcc)(nil)
	_ mergingAcc = (*boolAcc)(nil)
	_ mergingAcc = (*statAcc)(nil)
)
