package exec

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// The statistical aggregates (STDDEV_POP, STDDEV_SAMP, STDDEV, VAR_POP, VAR_SAMP, VARIANCE) and COLLECT.
//
// Flink reduces the statistical aggregates (Calcite's AggregateReduceFunctionsRule) to
//
//	VAR_POP(x)  = (SUM(x*x) - SUM(x)*SUM(x)/COUNT(x)) / COUNT(x)
//	VAR_SAMP(x) = (SUM(x*x) - SUM(x)*SUM(x)/COUNT(x)) / CASE COUNT(x) WHEN 1 THEN NULL ELSE COUNT(x)-1 END
//	STDDEV_*(x) = POWER(VAR_*(x), 0.5)
//
// cast to the result type, which is AVG's (an integer argument gives an integer result), with x cast to
// that type first. The accumulator keeps the three sums (retractable) and evaluates the same expression in
// the same arithmetic: integers wrap at their type's width and divide truncating, the square root is taken
// in DOUBLE and truncated back. DECIMAL arguments are summed exactly; the divisions round HALF_UP to the
// result's scale.

// statFuncs are the statistical aggregates: sample (n-1) or population (n), square root or not.
var statFuncs = map[string]struct{ samp, sqrt bool }{
	"STDDEV_POP": {false, true}, "STDDEV_SAMP": {true, true}, "STDDEV": {true, true},
	"VAR_POP": {false, false}, "VAR_SAMP": {true, false}, "VARIANCE": {true, false},
}

// statResultType is AggResultType for the aggregates of this file; ok is false for other functions.
func statResultType(fn, call string, args []types.Type) (t types.Type, ok bool, err error) {
	_, stat := statFuncs[fn]
	if !stat && fn != "COLLECT" {
		return t, false, nil
	}
	if len(args) != 1 {
		return t, true, fmt.Errorf("%s expects 1 argument, got %d", call, len(args))
	}
	if fn == "COLLECT" {
		switch args[0].Kind {
		case types.Null, types.Invalid:
			return t, true, fmt.Errorf("%s is not supported: %s requires a typed argument", call, fn)
		}
		return types.MultisetType(args[0].WithNullable(true)).WithNullable(false), true, nil
	}
	if !args[0].IsNumeric() {
		return t, true, fmt.Errorf("%s is not supported: %s requires a numeric argument", call, fn)
	}
	return types.AvgResultType(args[0]).WithNullable(true), true, nil
}

// statAcc keeps COUNT(x), SUM(x) and SUM(x*x) of the non-null values.
type statAcc struct {
	s          *aggSpec
	samp, sqrt bool
	cnt        int64
	i, ii      int64   // integer sums (wrapped at the result type's width)
	f, ff      float64 // float sums
	d, dd      types.Value
}

func newStatAcc(s *aggSpec) *statAcc {
	m := statFuncs[s.fn]
	return &statAcc{s: s, samp: m.samp, sqrt: m.sqrt}
}

func (a *statAcc) apply(row []types.Value, sign int64) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	a.cnt += sign
	switch a.s.class {
	case numInt:
		k := a.s.resType.Kind
		x := wrapInt(asInt(v), k)
		a.i = wrapInt(a.i+sign*x, k)
		a.ii = wrapInt(a.ii+sign*wrapInt(x*x, k), k)
	case numDecimal:
		x := asDecimal(v)
		sq := types.DecimalMul(x, x)
		if a.d.T != types.TagDecimal {
			a.d, a.dd = types.DecimalValue(0, 0), types.DecimalValue(0, 0)
		}
		if sign > 0 {
			a.d, a.dd = types.DecimalAdd(a.d, x), types.DecimalAdd(a.dd, sq)
		} else {
			a.d, a.dd = types.DecimalSub(a.d, x), types.DecimalSub(a.dd, sq)
		}
	default:
		x := asFloat(v)
		a.f += float64(sign) * x
		a.ff += float64(sign) * x * x
	}
}

func (a *statAcc) add(row []types.Value)     { a.apply(row, 1) }
func (a *statAcc) retract(row []types.Value) { a.apply(row, -1) }

func (a *statAcc) result() types.Value {
	n := a.cnt
	if n <= 0 || (a.samp && n == 1) {
		return types.NullValue
	}
	den := n
	if a.samp {
		den = n - 1
	}
	switch a.s.class {
	case numInt:
		k := a.s.resType.Kind
		sq := wrapInt(a.i*a.i, k)
		v := (a.ii - sq/n) / den
		if a.sqrt {
			r := math.Sqrt(float64(v))
			if math.IsNaN(r) {
				return types.IntValue(0) // Java's (int) NaN
			}
			v = int64(r)
		}
		return types.IntValue(wrapInt(v, k))
	case numDecimal:
		scale := a.s.scale
		sq := types.DecimalMul(a.d, a.d)
		avg, err := types.DecimalDiv(sq, types.DecimalFromInt(n), scale)
		if err != nil {
			return types.NullValue
		}
		v, err := types.DecimalDiv(types.DecimalSub(a.dd, avg), types.DecimalFromInt(den), scale)
		if err != nil {
			return types.NullValue
		}
		if a.sqrt {
			r := math.Sqrt(types.DecimalToFloat(v))
			if v, err = types.DecimalFromFloat(r, scale); err != nil {
				return types.NullValue
			}
		}
		if !types.DecimalFits(v, a.s.resType.Precision, scale) {
			return types.NullValue // Flink's cast of a DECIMAL that does not fit
		}
		return v
	}
	v := (a.ff - a.f*a.f/float64(n)) / float64(den)
	if a.sqrt {
		v = math.Sqrt(v)
	}
	if a.s.resType.Kind == types.Float {
		v = float64(float32(v))
	}
	return types.FloatValue(v)
}

func (a *statAcc) reset() {
	a.cnt, a.i, a.ii, a.f, a.ff, a.d, a.dd = 0, 0, 0, 0, 0, types.Value{}, types.Value{}
}

// statAcc state: varint count; by class: int varint sum + varint sum of squares, float 8 + 8 bytes,
// decimal the two sum values (NULL before the first value).
func (a *statAcc) appendState(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.cnt)
	switch a.s.class {
	case numInt:
		dst = binary.AppendVarint(dst, a.i)
		dst = binary.AppendVarint(dst, a.ii)
	case numDecimal:
		dst = appendValue(dst, a.d)
		dst = appendValue(dst, a.dd)
	default:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.f))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.ff))
	}
	return dst
}

func (a *statAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	a.cnt = d.varint()
	switch a.s.class {
	case numInt:
		a.i, a.ii = d.varint(), d.varint()
	case numDecimal:
		a.d, a.dd = d.value(), d.value()
		for _, v := range []types.Value{a.d, a.dd} {
			if d.err == nil && v.T != types.TagNull && v.T != types.TagDecimal {
				return nil, fmt.Errorf("%s sum is a value of tag %d, not a decimal", a.s.fn, v.T)
			}
		}
	default:
		a.f, a.ff = d.float(), d.float()
	}
	return d.b, d.err
}

// collectAcc is COLLECT(x): the multiset of the non-null values, retractable (Flink's CollectAggFunction
// keeps a count per value). The result lists each value as many times as it was added, ordered by its key
// encoding, so equal multisets print alike; no values give an empty multiset.
type collectAcc struct {
	s    *aggSpec
	vals map[string]*collectEntry
	buf  []byte
}

type collectEntry struct {
	v types.Value
	n int64
}

func (a *collectAcc) apply(row []types.Value, sign int64) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
	e := a.vals[string(a.buf)]
	if e == nil {
		if sign < 0 {
			return
		}
		e = &collectEntry{v: v}
		a.vals[string(a.buf)] = e
	}
	if e.n += sign; e.n <= 0 {
		delete(a.vals, string(a.buf))
	}
}

func (a *collectAcc) add(row []types.Value)     { a.apply(row, 1) }
func (a *collectAcc) retract(row []types.Value) { a.apply(row, -1) }

func (a *collectAcc) result() types.Value {
	keys := make([]string, 0, len(a.vals))
	for k := range a.vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []types.Value{}
	for _, k := range keys {
		e := a.vals[k]
		for i := int64(0); i < e.n; i++ {
			out = append(out, e.v)
		}
	}
	return types.ArrayValue(out)
}

func (a *collectAcc) reset() { clear(a.vals) }

// collectAcc state: uvarint n, then n values each with a varint multiplicity.
func (a *collectAcc) appendState(dst []byte) []byte {
	keys := make([]string, 0, len(a.vals))
	for k := range a.vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		e := a.vals[k]
		dst = appendValue(dst, e.v)
		dst = binary.AppendVarint(dst, e.n)
	}
	return dst
}

func (a *collectAcc) loadState(src []byte) ([]byte, error) {
	a.reset()
	d := stateDec{b: src}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		v := d.value()
		c := d.varint()
		if d.err != nil {
			break
		}
		a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
		a.vals[string(a.buf)] = &collectEntry{v: v, n: c}
	}
	return d.b, d.err
}

// isStatFunc reports whether fn is one of this file's aggregates.
func isStatFunc(fn string) bool {
	_, ok := statFuncs[strings.ToUpper(fn)]
	return ok || strings.EqualFold(fn, "COLLECT")
}

// compileStat completes the aggSpec of a statistical aggregate or COLLECT.
func compileStat(s *aggSpec, nargs int) error {
	if nargs != 1 {
		return fmt.Errorf("%s expects 1 argument, got %d", s.fn, nargs)
	}
	if s.fn == "COLLECT" {
		return nil
	}
	switch {
	case s.resType.IsIntegral():
		s.class = numInt
	case s.resType.Kind == types.Float || s.resType.Kind == types.Double:
		s.class = numFloat
	case s.resType.Kind == types.Decimal:
		s.class, s.scale = numDecimal, s.resType.Scale
	default:
		return fmt.Errorf("%s over %s is not supported", s.fn, s.resType)
	}
	return nil
}

// newStatOrCollect allocates the accumulator of a statistical aggregate or COLLECT.
func newStatOrCollect(s *aggSpec) accumulator {
	if s.fn == "COLLECT" {
		return &collectAcc{s: s, vals: map[string]*collectEntry{}}
	}
	return newStatAcc(s)
}
