package planner

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

// What the nodes of projection pushdown's walk (projection.go) that are not projections read of their
// inputs, given what their readers need of their outputs. Each returns nil (every input column) when the
// node's output is read whole or when it holds an expression the walk cannot look into.

// overNeeds: an OVER aggregate's output is its input's columns followed by one column per aggregate. The
// input keeps what is read of those columns, the partition keys, the ORDER BY columns and every aggregate's
// arguments and FILTER column (all aggregates are computed whether or not their column is read).
func overNeeds(x *OverAggregate, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	in := passThrough(need, len(x.Input.Fields()))
	keepWhole(in, x.Partition...)
	keepWhole(in, x.OrderCol)
	for _, k := range x.Order {
		keepWhole(in, k.Col)
	}
	for _, a := range x.Aggs {
		keepWhole(in, a.Args...)
		keepWhole(in, a.Filter)
	}
	return in
}

// passThrough returns the needs of the input of a node whose first width output columns are its input's
// columns: what is read of those (need's first width entries).
func passThrough(need []*colNeed, width int) []*colNeed {
	in := make([]*colNeed, width)
	copy(in, need)
	return in
}

// keepWhole marks the columns cols of in read whole; a column outside in (negative: none) is ignored.
func keepWhole(in []*colNeed, cols ...int) {
	for _, c := range cols {
		if c >= 0 && c < len(in) {
			merge(&in[c], needAll)
		}
	}
}

// matchNeeds: MATCH_RECOGNIZE (ONE ROW PER MATCH) outputs its partition columns and measures, which it
// computes from its input's rows; every output column is computed whatever is read of it. The input keeps the
// PARTITION BY and ORDER BY columns and what the DEFINE conditions, the MEASURES and the navigated values
// (FIRST/LAST/aggregates of v.x) read. DEFINE and MEASURES read the input row followed by one column per slot.
func matchNeeds(x *MatchRecognize) []*colNeed {
	width := len(x.Input.Fields())
	in := make([]*colNeed, width+len(x.Slots))
	keepWhole(in[:width], x.Partition...)
	keepWhole(in[:width], x.TimeCol)
	for _, k := range x.Order {
		keepWhole(in[:width], k.Col)
	}
	for _, d := range x.Defines {
		if d != nil && !reads(d, in, needAll) {
			return nil
		}
	}
	for _, m := range x.Measures {
		if !reads(m, in, needAll) {
			return nil
		}
	}
	for _, s := range x.Slots {
		if s.Arg != nil && !reads(s.Arg, in[:width], needAll) {
			return nil
		}
	}
	return in[:width]
}

// lookupNeeds: a lookup join's output is its input's columns followed by the dimension table's. The input
// keeps what is read of its columns and the lookup keys. (What is read of the dimension columns goes to a
// connectors.ProjectableLookupSource: dimNeeds.)
func lookupNeeds(x *LookupJoin, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	in := passThrough(need, len(x.Input.Fields()))
	keepWhole(in, x.LeftKeys...)
	return in
}

// windowNeeds: a window table function (TUMBLE, HOP, CUMULATE, SESSION; also a GROUP BY window's) outputs
// its input's columns followed by window_start, window_end and window_time. The input keeps what is read of
// its columns, the time column and a session window's partition keys.
func windowNeeds(x *WindowTVF, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	in := passThrough(need, len(x.Input.Fields()))
	keepWhole(in, x.TimeCol)
	keepWhole(in, x.Partition...)
	return in
}

// dimNeeds adds what x's readers (need; nil: everything) read of the dimension columns of lookup join x
// (its output columns after the input's) and its dim keys to w.dims. ROW members are not tracked: a dim
// column read at all is read whole.
func (w *needWalk) dimNeeds(x *LookupJoin, need []*colNeed) {
	width := len(x.Table.PhysicalColumns())
	off := len(x.Input.Fields())
	if need == nil || len(x.Out) != off+width {
		w.allDims[x] = true
		return
	}
	acc := w.dims[x]
	if acc == nil {
		acc = make([]*colNeed, width)
	}
	for i := 0; i < width; i++ {
		if need[off+i] != nil {
			merge(&acc[i], needAll)
		}
	}
	keepWhole(acc, x.DimKeys...)
	w.dims[x] = acc
}

// pushLookups hands each lookup join's projectable lookup source the dimension columns its readers need.
func (w *needWalk) pushLookups() {
	for x, need := range w.dims {
		if w.allDims[x] {
			continue
		}
		ps, ok := x.Lookup.(connectors.ProjectableLookupSource)
		if !ok {
			continue
		}
		phys := x.Table.PhysicalColumns()
		ts := make([]types.Type, len(phys))
		for i, c := range phys {
			ts[i] = c.Type
		}
		if p := projectionOf(need, ts); p != nil {
			ps.ApplyProjection(p)
			x.Pushed = p
		}
	}
}
