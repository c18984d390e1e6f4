package exec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// accumulator is the per-group state of one aggregate call. add and retract receive the whole input row
// and read the call's argument columns from it; the values they keep are copied (strings are immutable).
type accumulator interface {
	add(row []types.Value)
	retract(row []types.Value)
	result() types.Value
	reset()
	// appendState appends the accumulator's state in its compact binary encoding (see accstate.go);
	// loadState replaces the state with the one at the start of src and returns the rest of src.
	appendState(dst []byte) []byte
	loadState(src []byte) ([]byte, error)
}

// numClass is how SUM and AVG add: in int64 (wrapping as Java does), in float64, or as exact decimals.
type numClass uint8

const (
	numUnknown numClass = iota // decided by the first value's tag (no types given)
	numInt
	numFloat
	numDecimal
)

// aggSpec is an AggCall compiled for execution.
type aggSpec struct {
	fn       string
	args     []int
	argType  types.Type // type of the first argument (zero Type when unknown)
	resType  types.Type
	filter   int
	distinct bool
	retract  bool // the input may carry -U/-D: keep state that supports retraction
	class    numClass
	scale    int // decimal result scale of SUM and AVG
}

func compileAgg(c AggCall, inTypes []types.Type, retract bool) (*aggSpec, error) {
	s := &aggSpec{fn: strings.ToUpper(c.Func), args: c.Args, filter: c.Filter, distinct: c.Distinct, retract: retract}
	if c.Filter < -1 {
		s.filter = -1
	}
	if len(c.Args) > 0 {
		switch {
		case len(c.ArgTypes) > 0:
			s.argType = c.ArgTypes[0]
		case c.Args[0] < len(inTypes):
			s.argType = inTypes[c.Args[0]]
		}
	}
	s.resType = c.Type
	if s.resType.Kind == types.Invalid && s.argType.Kind != types.Invalid {
		var ats []types.Type
		for i, a := range c.Args {
			switch {
			case i < len(c.ArgTypes):
				ats = append(ats, c.ArgTypes[i])
			case a < len(inTypes):
				ats = append(ats, inTypes[a])
			}
		}
		if t, err := AggResultType(s.fn, s.distinct, ats); err == nil {
			s.resType = t
		}
	}
	switch s.fn {
	case "COUNT":
	case "SUM", "SUM0", "AVG":
		if len(c.Args) != 1 {
			return nil, fmt.Errorf("%s expects 1 argument, got %d", s.fn, len(c.Args))
		}
		switch {
		case s.resType.IsIntegral():
			s.class = numInt
		case s.resType.Kind == types.Float || s.resType.Kind == types.Double:
			s.class = numFloat
		case s.resType.Kind == types.Decimal:
			s.class, s.scale = numDecimal, s.resType.Scale
		case s.resType.Kind != types.Invalid:
			return nil, fmt.Errorf("%s over %s is not supported", s.fn, s.resType)
		}
	case "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE", "BOOL_AND", "BOOL_OR":
		if len(c.Args) != 1 {
			return nil, fmt.Errorf("%s expects 1 argument, got %d", s.fn, len(c.Args))
		}
	case "LISTAGG":
		if len(c.Args) != 1 && len(c.Args) != 2 {
			return nil, fmt.Errorf("LISTAGG expects 1 or 2 arguments, got %d", len(c.Args))
		}
	default:
		if !isStatFunc(s.fn) {
			return nil, fmt.Errorf("aggregate function %s is not supported", c.Func)
		}
		if err := compileStat(s, len(c.Args)); err != nil { // accumulators_stat.go
			return nil, err
		}
	}
	return s, nil
}

// newAcc allocates the accumulator of one group.
func (s *aggSpec) newAcc() accumulator {
	var a accumulator
	switch s.fn {
	case "COUNT":
		a = &countAcc{args: s.args}
	case "SUM", "SUM0", "AVG":
		a = &sumAcc{s: s}
	case "MIN", "MAX":
		if s.retract {
			a = &minMaxRetractAcc{s: s, max: s.fn == "MAX", idx: map[string]*mmEntry{}}
		} else {
			a = &minMaxAcc{s: s, max: s.fn == "MAX"}
		}
	case "FIRST_VALUE", "LAST_VALUE":
		if s.retract {
			a = &firstLastRetractAcc{s: s, last: s.fn == "LAST_VALUE"}
		} else {
			a = &firstLastAcc{s: s, last: s.fn == "LAST_VALUE"}
		}
	case "LISTAGG":
		a = &listAggAcc{s: s, sep: ","}
	case "BOOL_AND", "BOOL_OR":
		a = &boolAcc{arg: s.args[0], and: s.fn == "BOOL_AND"}
	default:
		a = newStatOrCollect(s)
	}
	if s.distinct {
		cols := s.args
		if s.fn != "COUNT" {
			cols = s.args[:1]
		}
		d := &distinctAcc{s: s, cols: cols, inner: a}
		d.seen.narrowOK = true // 8-byte slots while the values fit (distinct_set_narrow.go)
		a = d
	}
	return a
}

// countAcc counts rows whose arguments are all non-null (every row for COUNT(*)).
type countAcc struct {
	args []int
	n    int64
}

func (a *countAcc) counts(row []types.Value) bool {
	for _, c := range a.args {
		if row[c].T == types.TagNull {
			return false
		}
	}
	return true
}
func (a *countAcc) add(row []types.Value) {
	if a.counts(row) {
		a.n++
	}
}
func (a *countAcc) retract(row []types.Value) {
	if a.counts(row) {
		a.n--
	}
}
func (a *countAcc) result() types.Value { return types.IntValue(a.n) }
func (a *countAcc) reset()              { a.n = 0 }

// sumAcc is SUM, SUM0 and AVG: a sum and the number of non-null values, both retractable. SUM of no values
// is NULL (SUM0: zero); AVG divides as Flink does (integers truncate, decimals round HALF_UP).
type sumAcc struct {
	s     *aggSpec
	class numClass
	scale int
	cnt   int64
	i     int64
	f     float64
	d     types.Value
}

func (a *sumAcc) init(v types.Value) {
	a.class, a.scale = a.s.class, a.s.scale
	if a.class != numUnknown {
		return
	}
	switch v.T {
	case types.TagFloat:
		a.class = numFloat
	case types.TagDecimal:
		a.class, a.scale = numDecimal, int(v.N)
	default:
		a.class = numInt
	}
}

func (a *sumAcc) apply(row []types.Value, sign int64) { a.applyValue(row[a.s.args[0]], sign) }

// applyValue adds (sign 1) or subtracts (sign -1) one argument value.
func (a *sumAcc) applyValue(v types.Value, sign int64) {
	if v.T == types.TagNull {
		return
	}
	if a.class == numUnknown {
		a.init(v)
	}
	a.cnt += sign
	switch a.class {
	case numInt:
		a.i += sign * asInt(v)
	case numFloat:
		if sign > 0 {
			a.f += asFloat(v)
		} else {
			a.f -= asFloat(v)
		}
		if a.s.resType.Kind == types.Float {
			a.f = float64(float32(a.f))
		}
	case numDecimal:
		x := asDecimal(v)
		if a.d.T != types.TagDecimal {
			a.d = types.DecimalValue(0, a.scale)
		}
		if sign > 0 {
			a.d = types.DecimalAdd(a.d, x)
		} else {
			a.d = types.DecimalSub(a.d, x)
		}
	}
}

func (a *sumAcc) add(row []types.Value)     { a.apply(row, 1) }
func (a *sumAcc) retract(row []types.Value) { a.apply(row, -1) }

func (a *sumAcc) result() types.Value {
	if a.cnt == 0 {
		if a.s.fn != "SUM0" {
			return types.NullValue
		}
		switch a.s.class {
		case numFloat:
			return types.FloatValue(0)
		case numDecimal:
			return types.DecimalValue(0, a.s.scale)
		}
		return types.IntValue(0)
	}
	avg := a.s.fn == "AVG"
	switch a.class {
	case numInt:
		i := a.i
		if avg {
			i /= a.cnt
		}
		return types.IntValue(wrapInt(i, a.s.resType.Kind))
	case numFloat:
		f := a.f
		if avg {
			f /= float64(a.cnt)
		}
		if a.s.resType.Kind == types.Float {
			f = float64(float32(f))
		}
		return types.FloatValue(f)
	}
	if a.d.T != types.TagDecimal {
		return types.NullValue
	}
	var r types.Value
	if avg {
		var err error
		if r, err = types.DecimalDiv(a.d, types.DecimalFromInt(a.cnt), a.scale); err != nil {
			return types.NullValue
		}
	} else {
		r = types.DecimalRescale(a.d, a.scale)
	}
	if !types.DecimalFits(r, types.MaxDecimalPrecision, a.scale) {
		return types.NullValue // Flink yields NULL when a decimal sum overflows DECIMAL(38, s)
	}
	return r
}

func (a *sumAcc) reset() {
	a.class, a.cnt, a.i, a.f, a.d = a.s.class, 0, 0, 0, types.Value{}
	a.scale = a.s.scale
}

func asInt(v types.Value) int64 {
	switch v.T {
	case types.TagFloat:
		return int64(v.Float())
	case types.TagDecimal:
		i, _ := types.DecimalToInt(v)
		return i
	}
	return v.I
}

func asFloat(v types.Value) float64 {
	switch v.T {
	case types.TagInt:
		return float64(v.I)
	case types.TagDecimal:
		return types.DecimalToFloat(v)
	}
	return v.Float()
}

func asDecimal(v types.Value) types.Value {
	if v.T == types.TagInt {
		return types.DecimalFromInt(v.I)
	}
	return v
}

// wrapInt truncates i to the width of an integer type, as Java's narrowing conversion does.
func wrapInt(i int64, k types.Kind) int64 {
	switch k {
	case types.TinyInt:
		return int64(int8(i))
	case types.SmallInt:
		return int64(int16(i))
	case types.Int:
		return int64(int32(i))
	}
	return i
}

// minMaxAcc is MIN/MAX over insert-only input: the best value so far.
type minMaxAcc struct {
	s   *aggSpec
	max bool
	has bool
	v   types.Value
}

func (a *minMaxAcc) add(row []types.Value) { a.addValue(row[a.s.args[0]]) }

// addValue takes one argument value.
func (a *minMaxAcc) addValue(v types.Value) {
	if v.T == types.TagNull {
		return
	}
	if !a.has {
		a.v, a.has = v, true
		return
	}
	c := types.Compare(v, a.v, a.s.argType)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = v
	}
}
func (a *minMaxAcc) retract([]types.Value) {}
func (a *minMaxAcc) result() types.Value {
	if !a.has {
		return types.NullValue
	}
	return a.v
}
func (a *minMaxAcc) reset() { a.has, a.v = false, types.Value{} }

// minMaxRetractAcc is MIN/MAX with retraction: a multiset of the values (encoding → count) kept in a heap
// ordered by the order-preserving encoding, so that retracting the current minimum reveals the next one.
type minMaxRetractAcc struct {
	s   *aggSpec
	max bool
	idx map[string]*mmEntry
	h   []*mmEntry
	buf []byte
}

type mmEntry struct {
	key string
	v   types.Value
	n   int64
	pos int
}

func (a *minMaxRetractAcc) less(i, j int) bool {
	if a.max {
		return a.h[i].key > a.h[j].key
	}
	return a.h[i].key < a.h[j].key
}

func (a *minMaxRetractAcc) swap(i, j int) {
	a.h[i], a.h[j] = a.h[j], a.h[i]
	a.h[i].pos, a.h[j].pos = i, j
}

func (a *minMaxRetractAcc) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !a.less(j, i) {
			break
		}
		a.swap(i, j)
		j = i
	}
}

func (a *minMaxRetractAcc) down(i int) bool {
	i0, n := i, len(a.h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && a.less(r, l) {
			j = r
		}
		if !a.less(j, i) {
			break
		}
		a.swap(i, j)
		i = j
	}
	return i > i0
}

func (a *minMaxRetractAcc) add(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
	if e := a.idx[string(a.buf)]; e != nil {
		e.n++
		return
	}
	e := &mmEntry{key: string(a.buf), v: v, n: 1, pos: len(a.h)}
	a.idx[e.key] = e
	a.h = append(a.h, e)
	a.up(e.pos)
}

func (a *minMaxRetractAcc) retract(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	a.buf = types.AppendKey(a.buf[:0], v, a.s.argType)
	e := a.idx[string(a.buf)]
	if e == nil {
		return
	}
	if e.n--; e.n > 0 {
		return
	}
	delete(a.idx, e.key)
	i, last := e.pos, len(a.h)-1
	if i != last {
		a.swap(i, last)
	}
	a.h[last] = nil
	a.h = a.h[:last]
	if i != last {
		if !a.down(i) {
			a.up(i)
		}
	}
}

func (a *minMaxRetractAcc) result() types.Value {
	if len(a.h) == 0 {
		return types.NullValue
	}
	return a.h[0].v
}

func (a *minMaxRetractAcc) reset() {
	clear(a.idx)
	clear(a.h)
	a.h = a.h[:0]
}

// firstLastAcc is FIRST_VALUE/LAST_VALUE over insert-only input: the first (last) non-null value.
type firstLastAcc struct {
	s    *aggSpec
	last bool
	has  bool
	v    types.Value
}

func (a *firstLastAcc) add(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull || (a.has && !a.last) {
		return
	}
	a.v, a.has = v, true
}
func (a *firstLastAcc) retract([]types.Value) {}
func (a *firstLastAcc) result() types.Value {
	if !a.has {
		return types.NullValue
	}
	return a.v
}
func (a *firstLastAcc) reset() { a.has, a.v = false, types.Value{} }

// firstLastRetractAcc is FIRST_VALUE/LAST_VALUE with retraction: the non-null values in arrival order; a
// retraction removes the earliest equal value.
type firstLastRetractAcc struct {
	s    *aggSpec
	last bool
	vals []types.Value
}

func (a *firstLastRetractAcc) add(row []types.Value) {
	if v := row[a.s.args[0]]; v.T != types.TagNull {
		a.vals = append(a.vals, v)
	}
}
func (a *firstLastRetractAcc) retract(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	for i := range a.vals {
		if types.Equal(a.vals[i], v, a.s.argType) {
			a.vals = slices.Delete(a.vals, i, i+1)
			return
		}
	}
}
func (a *firstLastRetractAcc) result() types.Value {
	if len(a.vals) == 0 {
		return types.NullValue
	}
	if a.last {
		return a.vals[len(a.vals)-1]
	}
	return a.vals[0]
}
func (a *firstLastRetractAcc) reset() { clear(a.vals); a.vals = a.vals[:0] }

// listAggAcc is LISTAGG(x[, sep]): the non-null values in arrival order joined by the separator (',' by
// default; the latest non-null separator argument otherwise). A retraction removes the earliest equal value.
type listAggAcc struct {
	s    *aggSpec
	list []string
	sep  string
}

func (a *listAggAcc) add(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	a.list = append(a.list, v.S)
	if len(a.s.args) > 1 {
		if sep := row[a.s.args[1]]; sep.T != types.TagNull {
			a.sep = sep.S
		}
	}
}
func (a *listAggAcc) retract(row []types.Value) {
	v := row[a.s.args[0]]
	if v.T == types.TagNull {
		return
	}
	if i := slices.Index(a.list, v.S); i >= 0 {
		a.list = slices.Delete(a.list, i, i+1)
	}
}
func (a *listAggAcc) result() types.Value {
	if len(a.list) == 0 {
		return types.NullValue
	}
	return types.StringValue(strings.Join(a.list, a.sep))
}
func (a *listAggAcc) reset() { clear(a.list); a.list, a.sep = a.list[:0], "," }

// boolAcc is BOOL_AND/BOOL_OR: counts of TRUE and FALSE values, NULL when there are none.
type boolAcc struct {
	arg           int
	and           bool
	trues, falses int64
}

func (a *boolAcc) apply(row []types.Value, d int64) { a.applyValue(row[a.arg], d) }

// applyValue counts one argument value d times.
func (a *boolAcc) applyValue(v types.Value, d int64) {
	if v.T == types.TagNull {
		return
	}
	if v.I != 0 {
		a.trues += d
	} else {
		a.falses += d
	}
}
func (a *boolAcc) add(row []types.Value)     { a.apply(row, 1) }
func (a *boolAcc) retract(row []types.Value) { a.apply(row, -1) }
func (a *boolAcc) result() types.Value {
	if a.trues+a.falses <= 0 {
		return types.NullValue
	}
	if a.and {
		return types.BoolValue(a.falses == 0)
	}
	return types.BoolValue(a.trues > 0)
}
func (a *boolAcc) reset() { a.trues, a.falses = 0, 0 }

// distinctAcc feeds inner each distinct argument value once: a value is added when its count goes from 0
// to 1 and retracted when it drops back to 0. Rows with a NULL argument are ignored.
type distinctAcc struct {
	s     *aggSpec
	cols  []int
	inner accumulator
	seen  distinctSet // argument encoding → multiplicity (distinct_set.go), unless sh is set
	sh    *sharedDistinct
	v     int // sh's variant of this aggregate (distinct_shared.go)
	buf   []byte
}

func (a *distinctAcc) key(row []types.Value) bool {
	a.buf = a.buf[:0]
	for i, c := range a.cols {
		v := row[c]
		if v.T == types.TagNull {
			return false
		}
		var t types.Type
		if i == 0 {
			t = a.s.argType
		}
		a.buf = types.AppendKey(a.buf, v, t)
	}
	return true
}

func (a *distinctAcc) add(row []types.Value) {
	if !a.key(row) {
		return
	}
	if a.sh != nil {
		if a.sh.add(a.buf, a.v, 1) {
			a.inner.add(row)
		}
		return
	}
	if a.seen.add(a.buf, 1) == 1 {
		a.inner.add(row)
	}
}

func (a *distinctAcc) retract(row []types.Value) {
	if !a.key(row) {
		return
	}
	n := int64(-1)
	if a.sh != nil {
		n = a.sh.sub(a.buf, a.v)
	} else {
		n = a.seen.sub(a.buf)
	}
	if n == 0 {
		a.inner.retract(row)
	}
}

func (a *distinctAcc) result() types.Value { return a.inner.result() }
func (a *distinctAcc) reset() {
	if a.sh != nil {
		a.sh.reset(a.v)
	} else {
		a.seen.reset()
	}
	a.inner.reset()
}
