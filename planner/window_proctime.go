package planner

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// Processing-time windows: a window function over a PROCTIME() column (a computed column pt AS PROCTIME()
// or a view's PROCTIME() AS pt). In streaming mode Flink runs them only under a window aggregation, which
// fires each window when the processing-time clock passes its end; a window table function over processing
// time on its own, and any processing-time window in batch mode, is Flink's "Processing time Window
// TableFunction is not supported yet."

// isProctimeCol reports whether column col of n is a processing-time attribute: a PROCTIME() call passed up
// unchanged through projections, filters and watermark assigners.
func isProctimeCol(n Node, col int) bool {
	for {
		var projects []expr.Expr
		switch x := n.(type) {
		case *Project:
			projects, n = x.Projects, x.Input
		case *Calc:
			projects, n = x.Projects, x.Input
		case *Filter:
			n = x.Input
			continue
		case *WatermarkAssigner:
			n = x.Input
			continue
		default:
			return false
		}
		if col >= len(projects) {
			return false
		}
		if expr.IsProctime(projects[col]) {
			return true
		}
		c, ok := expr.ColumnIndex(projects[col])
		if !ok {
			return false
		}
		col = c
	}
}

// proctimeWindowErr is Flink's error for a processing-time window it cannot run, with the way out.
func proctimeWindowErr(at sql.Pos, batch bool) error {
	how := "aggregate its rows by window_start, window_end (a window aggregation)"
	if batch {
		how = "use an event-time attribute (a column with a WATERMARK), or SET 'execution.runtime-mode' = 'streaming'"
	}
	return sql.Errorf(at, ErrUnsupported, "Processing time Window TableFunction is not supported yet; %s", how)
}

// checkProctimeWindows refuses, in the physical plan n, the processing-time window functions that no window
// aggregation consumes (streaming) and all of them (batch).
func (p *Planner) checkProctimeWindows(n Node) error {
	consumed := map[*WindowTVF]bool{}
	var walk func(n Node) error
	walk = func(n Node) error {
		if a, ok := n.(*WindowAggregate); ok {
			if tvf := windowInput(aggregateInput(a)); tvf != nil {
				consumed[tvf] = true
			}
		}
		if w, ok := n.(*WindowTVF); ok && w.Proctime && (p.Batch || !consumed[w]) {
			return proctimeWindowErr(w.Pos, p.Batch)
		}
		for _, in := range n.Inputs() {
			if err := walk(in); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(n)
}

// aggregateInput is the windowed rows under a window aggregate's pre-projection.
func aggregateInput(a *WindowAggregate) Node {
	switch x := a.Input.(type) {
	case *Project:
		return x.Input
	case *Calc:
		return x.Input
	}
	return a.Input
}
