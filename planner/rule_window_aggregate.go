package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// windowAggregateRule makes an aggregation grouped by window_start and window_end of a window TVF a window
// aggregation (Flink's StreamPhysicalWindowAggregateRule): final results per window, insert-only.
type windowAggregateRule struct{}

func (windowAggregateRule) Name() string { return "WindowAggregateRule" }

func (windowAggregateRule) Rewrite(n Node) (Node, bool) {
	a, ok := n.(*Aggregate)
	if !ok || a.Distinct {
		return n, false
	}
	// The aggregate's input is its pre-projection (group keys first) over the windowed rows, under the
	// Expand of grouping sets when there are some (window_start and window_end must be in every set).
	under := a.Input
	ex, _ := under.(*Expand)
	if ex != nil {
		under = ex.Input
	}
	var pre []expr.Expr
	if p, ok := under.(*Project); ok {
		under, pre = p.Input, p.Projects
	} else {
		pre = identity(under.Fields())
	}
	tvf := windowInput(under)
	if tvf == nil {
		return overWindowed(a, ex, under, pre)
	}
	startKey, endKey := -1, -1
	nin := len(tvf.Out)
	for i, k := range a.Keys {
		if k >= len(pre) || expandNulls(ex, k) {
			continue
		}
		if c, ok := expr.ColumnIndex(pre[k]); ok {
			switch c {
			case nin - 3:
				startKey = i
			case nin - 2:
				endKey = i
			}
		}
	}
	if startKey < 0 || endKey < 0 {
		return n, false
	}
	return &WindowAggregate{Input: a.Input, Keys: a.Keys, Aggs: a.Aggs, WindowEndKey: endKey, Spec: tvf.Spec, Out: a.Out}, true
}

// windowInput returns the window TVF under in when in is the TVF or projections and filters of it that
// keep its columns in place.
func windowInput(in Node) *WindowTVF {
	cols := make([]int, len(in.Fields()))
	for i := range cols {
		cols[i] = i
	}
	for {
		var projects []expr.Expr
		switch n := in.(type) {
		case *WindowTVF:
			if len(cols) != len(n.Out) {
				return nil
			}
			for i, c := range cols {
				if c != i {
					return nil
				}
			}
			return n
		case *Filter:
			in = n.Input
			continue
		case *Calc:
			projects, in = n.Projects, n.Input
		case *Project:
			projects, in = n.Projects, n.Input
		default:
			return nil
		}
		for i, c := range cols {
			ci, ok := expr.ColumnIndex(projects[c])
			if !ok {
				return nil
			}
			cols[i] = ci
		}
	}
}

// expandNulls reports whether the Expand ex (nil: none) sets column c to NULL in some grouping set.
func expandNulls(ex *Expand, c int) bool {
	if ex == nil {
		return false
	}
	for _, nulls := range ex.Nulls {
		for _, n := range nulls {
			if n == c {
				return true
			}
		}
	}
	return false
}

// overWindowed makes an aggregation grouped by window_start and window_end of a window operator's output
// (a window aggregate, window Top-N or window join, as Nexmark q5 groups a window aggregate's result) a
// window aggregate of the same window, as Flink does: its rows of a window all arrive when that window
// fires, before the watermark passes its end.
func overWindowed(a *Aggregate, ex *Expand, under Node, pre []expr.Expr) (Node, bool) {
	startKey, endKey := -1, -1
	var specs []exec.WindowSpec
	for i, k := range a.Keys {
		if k >= len(pre) || expandNulls(ex, k) {
			continue
		}
		c, ok := expr.ColumnIndex(pre[k])
		if !ok {
			continue
		}
		kind, spec := windowColumn(under, c)
		switch kind {
		case windowStartCol:
			startKey = i
		case windowEndCol:
			endKey = i
		default:
			continue
		}
		specs = append(specs, spec)
	}
	if startKey < 0 || endKey < 0 || !windowOperatorBelow(under) {
		return a, false
	}
	for _, s := range specs[1:] {
		if s != specs[0] {
			return a, false
		}
	}
	return &WindowAggregate{Input: a.Input, Keys: a.Keys, Aggs: a.Aggs, WindowEndKey: endKey, Spec: specs[0], Out: a.Out}, true
}

// windowOperatorBelow reports whether n is a window aggregate, window Top-N or window join under
// projections and filters (whose output is insert-only and grouped by window).
func windowOperatorBelow(n Node) bool {
	for {
		switch x := n.(type) {
		case *WindowAggregate, *WindowRank, *WindowJoin:
			return true
		case *Calc:
			n = x.Input
		case *Project:
			n = x.Input
		case *Filter:
			n = x.Input
		default:
			return false
		}
	}
}
