package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// windowTimeInput follows column col of a window operator (or a TemporalSort, or MATCH_RECOGNIZE) to the
// column of its input that makes it a rowtime attribute, as Flink's planner keeps time attributes through
// them: window_time of a window TVF (the TVF's time column must be one), window_time among a window
// aggregate's group keys, any column of a window join's, window Top-N's or temporal sort's input, and
// MATCH_ROWTIME() (the pattern's order column). ok is false when col is not a time attribute there.
func windowTimeInput(n Node, col int) (Node, int, bool) {
	switch x := n.(type) {
	case *WindowTVF:
		nin := len(x.Out)
		switch {
		case col == nin-1:
			return x.Input, x.TimeCol, !x.Proctime
		case col >= nin-3:
			return nil, 0, false
		}
		return x.Input, col, true
	case *WindowAggregate:
		// Only window_time keeps its time attribute: other keys (the TVF's time column among them) and the
		// aggregates are plain values.
		if col >= len(x.Keys) {
			return nil, 0, false
		}
		k := x.Keys[col]
		if kind, _ := windowColumn(x.Input, k); kind != windowTimeCol || !isWindowTimeOutput(x.Input, k) {
			return nil, 0, false
		}
		return x.Input, k, true
	case *WindowJoin:
		if nl := len(x.Left.Fields()); col >= nl {
			return x.Right, col - nl, x.Type != exec.SemiJoin && x.Type != exec.AntiJoin
		}
		return x.Left, col, true
	case *WindowRank:
		return x.Input, col, col < len(x.Input.Fields())
	case *TemporalSort:
		return x.Input, col, !x.Proctime
	case *MatchRecognize:
		i := col - len(x.Partition)
		if x.ProcTime || i < 0 || i >= len(x.Measures) {
			return nil, 0, false
		}
		c, ok := expr.ColumnIndex(x.Measures[i])
		nin := len(x.Input.Fields())
		if !ok || c < nin || c-nin >= len(x.Slots) || x.Slots[c-nin].Kind != exec.SlotRowtime {
			return nil, 0, false
		}
		return x.Input, x.TimeCol, true
	}
	return nil, 0, false
}

// isWindowTimeOutput reports whether column col of n traces to the window_time column of a window TVF
// (not its input's time column, which windowColumn also reports).
func isWindowTimeOutput(n Node, col int) bool {
	for {
		switch x := n.(type) {
		case *WindowTVF:
			return col == len(x.Out)-1
		case *Calc:
			c, ok := expr.ColumnIndex(x.Projects[col])
			if !ok {
				return false
			}
			n, col = x.Input, c
		case *Project:
			c, ok := expr.ColumnIndex(x.Projects[col])
			if !ok {
				return false
			}
			n, col = x.Input, c
		case *Filter:
			n = x.Input
		default:
			// Through nested window operators: windowColumn has found a window time column; a window
			// aggregate over a window aggregate keeps it only when it is the inner window_time, which
			// isRowtimeCol checks on the way down.
			return true
		}
	}
}
