package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// SliceWindow reports whether the window aggregate n can run as a slice-shared window aggregate
// (exec.NewSliceWindowAgg over exec.NewSliceAssigner): its window is a HOP or CUMULATE that slices
// (exec.SliceWindowSupported), and between the window TVF and the aggregate window_start and window_end are
// only passed on as columns, to become the group keys, and window_time is not read: the rows then carry their
// slice's bounds in those columns, which only the aggregate sees. It returns the TVF, the nodes from n's
// input down to it (their rows change), and the index in n.Keys of window_start.
func SliceWindow(n *WindowAggregate) (tvf *WindowTVF, path []Node, startKey int, ok bool) {
	if !exec.SliceWindowSupported(n.Spec, n.Aggs) {
		return nil, nil, 0, false
	}
	tvf, path, cols, ok := sliceTrace(n.Input)
	if !ok {
		return nil, nil, 0, false
	}
	if startKey, ok = windowKeysOnly(n, cols); !ok {
		return nil, nil, 0, false
	}
	return tvf, path, startKey, true
}

// sliceTrace follows filters and projections down to a window TVF and returns where its window columns are
// (column → 0 window_start, 1 window_end, 2 window_time) in the output of in; ok is false when a filter or a
// computed expression reads one of them.
func sliceTrace(in Node) (tvf *WindowTVF, path []Node, cols map[int]int, ok bool) {
	switch n := in.(type) {
	case *WindowTVF:
		if n.Proctime {
			return nil, nil, nil, false
		}
		k := len(n.Out)
		return n, []Node{n}, map[int]int{k - 3: 0, k - 2: 1, k - 1: 2}, true
	case *Filter:
		tvf, path, cols, ok = sliceTrace(n.Input)
		if !ok || readsCols(n.Cond, cols) {
			return nil, nil, nil, false
		}
		return tvf, append(path, n), cols, true
	case *Calc:
		tvf, path, cols, ok = sliceTrace(n.Input)
		if !ok || (n.Filter != nil && readsCols(n.Filter, cols)) {
			return nil, nil, nil, false
		}
		if cols, ok = projectCols(n.Projects, cols); !ok {
			return nil, nil, nil, false
		}
		return tvf, append(path, n), cols, true
	case *Project:
		tvf, path, cols, ok = sliceTrace(n.Input)
		if !ok {
			return nil, nil, nil, false
		}
		if cols, ok = projectCols(n.Projects, cols); !ok {
			return nil, nil, nil, false
		}
		return tvf, append(path, n), cols, true
	}
	return nil, nil, nil, false
}

func projectCols(ps []expr.Expr, cols map[int]int) (map[int]int, bool) {
	out := map[int]int{}
	for i, p := range ps {
		if c, isCol := expr.ColumnIndex(p); isCol {
			if w, in := cols[c]; in {
				out[i] = w
			}
			continue
		}
		if readsCols(p, cols) {
			return nil, false
		}
	}
	return out, true
}

// readsCols reports whether x may read a column of cols.
func readsCols(x expr.Expr, cols map[int]int) bool {
	if c, isCol := expr.ColumnIndex(x); isCol {
		_, in := cols[c]
		return in
	}
	ch, known := expr.Children(x)
	if !known {
		return true
	}
	for _, c := range ch {
		if readsCols(c, cols) {
			return true
		}
	}
	return false
}
