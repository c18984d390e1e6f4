package planner

import "github.com/sluicesql/sluice/expr"

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
		return n, false
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
