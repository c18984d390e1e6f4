package exec

import (
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The calls of a one-phase group aggregate over a columnar batch (groupagg_vec.go): per batch, each call is
// bound to its argument and FILTER columns and to the way it reads them, then every row updates the group's
// accumulators exactly as accumulate (groupagg.go) does with the row's values.

// How a call reads its columns.
const (
	ccValues        = iota // any call: the values of its argument columns in a scratch row, then add/retract
	ccCount                // COUNT, COUNT(*): the NULL bitmaps
	ccSumInt               // SUM, SUM0, AVG of an integer class over an Int64 column of integers
	ccSumFloat             // SUM, SUM0, AVG of a floating-point class over a Float64 column
	ccMinMaxInt            // insert-only MIN, MAX of an integer type over an Int64 column of integers
	ccCountDistinct        // COUNT(DISTINCT x): x's key encoding into the distinct set
)

// colCall is one call bound to a batch's columns.
type colCall struct {
	op     uint8
	args   []*vec.Col
	filter *vec.Col // nil: no FILTER clause
}

// bindColumns binds every call to b's columns (checkColumns checked they exist).
func (g *groupAgg) bindColumns(b *vec.Batch) {
	if len(g.cols) != len(g.specs) {
		g.cols = make([]colCall, len(g.specs))
	}
	if cap(g.colRow) < len(b.Cols) {
		g.colRow = make([]types.Value, len(b.Cols))
	}
	g.colRow = g.colRow[:len(b.Cols)]
	for j, s := range g.specs {
		cc := &g.cols[j]
		cc.args = cc.args[:0]
		for _, a := range s.args {
			cc.args = append(cc.args, b.Cols[a])
		}
		cc.filter = nil
		if s.filter >= 0 {
			cc.filter = b.Cols[s.filter]
		}
		cc.op = callOp(s, cc.args)
	}
}

// unbindColumns drops the references to the batch, which belongs to the caller once the push returns.
func (g *groupAgg) unbindColumns() {
	for j := range g.cols {
		cc := &g.cols[j]
		clear(cc.args)
		cc.filter = nil
	}
	clear(g.colRow)
}

// callOp chooses how call s reads argument columns args.
func callOp(s *aggSpec, args []*vec.Col) uint8 {
	intCol := func(c *vec.Col) bool { return c.Kind == vec.Int64 && c.Tag == types.TagInt }
	if s.distinct {
		if s.fn == "COUNT" && len(args) == 1 {
			return ccCountDistinct
		}
		return ccValues
	}
	switch s.fn {
	case "COUNT":
		return ccCount
	case "SUM", "SUM0", "AVG":
		switch {
		case s.class == numInt && intCol(args[0]):
			return ccSumInt
		case s.class == numFloat && args[0].Kind == vec.Float64:
			return ccSumFloat
		}
	case "MIN", "MAX":
		if !s.retract && len(args) == 1 && s.argType.IsIntegral() && intCol(args[0]) {
			return ccMinMaxInt
		}
	}
	return ccValues
}

// accumulateColumns adds (sign 1) or retracts (sign -1) physical row i of the bound batch into accs.
func (g *groupAgg) accumulateColumns(accs []accumulator, i int, sign int64) {
	for j, acc := range accs {
		cc := &g.cols[j]
		if cc.filter != nil && !colTrue(cc.filter, i) {
			continue
		}
		switch cc.op {
		case ccCount:
			if argsPresent(cc.args, i) {
				acc.(*countAcc).n += sign
			}
		case ccSumInt:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			a := acc.(*sumAcc)
			if a.class == numUnknown {
				a.class, a.scale = a.s.class, a.s.scale
			}
			a.cnt += sign
			a.i += sign * col.I64[i]
		case ccSumFloat:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			a := acc.(*sumAcc)
			if a.class == numUnknown {
				a.class, a.scale = a.s.class, a.s.scale
			}
			a.cnt += sign
			if sign > 0 {
				a.f += col.F64[i]
			} else {
				a.f -= col.F64[i]
			}
			if a.s.resType.Kind == types.Float {
				a.f = float64(float32(a.f))
			}
		case ccMinMaxInt:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			a, x := acc.(*minMaxAcc), col.I64[i]
			switch {
			case !a.has:
				a.v, a.has = types.Value{T: types.TagInt, I: x}, true
			case a.v.T != types.TagInt || a.v.N != 0 || a.v.X != nil || a.v.S != "":
				a.addValue(col.Value(i)) // a restored value of another form: compared as the row path does
			case a.max && x > a.v.I || !a.max && x < a.v.I:
				a.v.I = x
			}
		case ccCountDistinct:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			a := acc.(*distinctAcc)
			// The encoding goes to the operator's scratch buffer, not the aggregate's own: one buffer for
			// every group stays in the cache, where a buffer per aggregate per group is one more miss each.
			g.dkey = types.AppendKey(g.dkey[:0], keyValue(col, i), a.s.argType)
			if a.changeKey(g.dkey, sign) {
				a.inner.(*countAcc).n += sign // the argument is not NULL: the inner COUNT counts it
			}
		default:
			row := g.colRow
			for k, a := range g.specs[j].args {
				row[a] = cc.args[k].Value(i)
			}
			if sign > 0 {
				acc.add(row)
			} else {
				acc.retract(row)
			}
		}
	}
}

// changeKey adds (sign 1) or retracts (sign -1) one occurrence of the argument encoding key and reports
// whether the inner aggregate sees it: a value new to the set, or one whose last occurrence went (as add
// and retract do).
func (a *distinctAcc) changeKey(key []byte, sign int64) bool {
	if sign > 0 {
		if a.sh != nil {
			return a.sh.add(key, a.v, 1)
		}
		return a.seen.add(key, 1) == 1
	}
	if a.sh != nil {
		return a.sh.sub(key, a.v) == 0
	}
	return a.seen.sub(key) == 0
}
