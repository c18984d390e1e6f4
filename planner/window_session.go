package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// SessionWindow reports whether the window aggregate n over SESSION windows can keep running accumulators
// per (partition key, session) (exec.NewSessionWindowAgg over exec.NewSliceAssigner, which gives every row
// its own window [t, t+gap) to merge) instead of holding the sessions' rows: every aggregate call merges
// (exec.SessionWindowSupported); between the window TVF and the aggregate there are only projections (a
// filter would drop rows after the sessions were cut: the rows it drops still extend and bridge sessions),
// window_start and window_end are only passed on to become group keys and window_time is not read (as for
// SliceWindow); and the group keys other than the window's are exactly the TVF's partition columns, passed
// on as columns (other keys would group a session's rows apart, or sessions of several partitions
// together). It returns the TVF, the nodes from n's input down to it (their rows change), and the index in
// n.Keys of window_start.
//
// Session aggregates that do not qualify keep the row-holding path (exec.NewSessionAssigner, then
// exec.NewWindowAgg): DISTINCT calls, FIRST_VALUE, LAST_VALUE, LISTAGG, COLLECT; a filter between the TVF and
// the aggregate; group keys other than the partition columns; processing-time sessions.
func SessionWindow(n *WindowAggregate) (tvf *WindowTVF, path []Node, startKey int, ok bool) {
	if !exec.SessionWindowSupported(n.Spec, n.Aggs) {
		return nil, nil, 0, false
	}
	tvf, path, cols, ok := sliceTrace(n.Input)
	if !ok || tvf.Spec.Kind != exec.Session {
		return nil, nil, 0, false
	}
	startKey, ok = windowKeysOnly(n, cols)
	if !ok {
		return nil, nil, 0, false
	}
	// Follow the partition columns from the TVF (whose first columns are its input's) up to n's input.
	part := map[int]int{} // column → the TVF input's partition column it holds
	for _, c := range tvf.Partition {
		part[c] = c
	}
	for _, p := range path[1:] {
		var projects []expr.Expr
		switch p := p.(type) {
		case *Calc:
			if p.Filter != nil {
				return nil, nil, 0, false
			}
			projects = p.Projects
		case *Project:
			projects = p.Projects
		default: // a Filter
			return nil, nil, 0, false
		}
		next := map[int]int{}
		for i, x := range projects {
			if c, isCol := expr.ColumnIndex(x); isCol {
				if pc, in := part[c]; in {
					next[i] = pc
				}
			}
		}
		part = next
	}
	seen := map[int]bool{}
	for i, k := range n.Keys {
		if i == startKey || i == n.WindowEndKey {
			continue
		}
		pc, in := part[k]
		if !in {
			return nil, nil, 0, false
		}
		seen[pc] = true
	}
	for _, c := range tvf.Partition {
		if !seen[c] {
			return nil, nil, 0, false
		}
	}
	return tvf, path, startKey, true
}

// windowKeysOnly finds window_start and window_end among n's keys (cols: where the window columns are in
// n's input, from sliceTrace) and checks that no other key and no aggregate argument or filter reads a
// window column. It returns the index in n.Keys of window_start.
func windowKeysOnly(n *WindowAggregate, cols map[int]int) (startKey int, ok bool) {
	startKey = -1
	for i, k := range n.Keys {
		switch w, in := cols[k]; {
		case !in:
		case w == 0 && startKey < 0:
			startKey = i
		case w == 1 && i == n.WindowEndKey:
		default:
			return 0, false
		}
	}
	if startKey < 0 {
		return 0, false
	}
	if w, in := cols[n.Keys[n.WindowEndKey]]; !in || w != 1 {
		return 0, false
	}
	for _, c := range n.Aggs {
		for _, a := range c.Args {
			if _, in := cols[a]; in {
				return 0, false
			}
		}
		if _, in := cols[c.Filter]; in && c.Filter >= 0 {
			return 0, false
		}
	}
	return startKey, true
}
