package engine

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// sliceWindow reports whether the window aggregate n runs slice-shared (planner.SliceWindow), returning its
// window TVF and the index in n.Keys of window_start.
func (g *graph) sliceWindow(n *planner.WindowAggregate) (*planner.WindowTVF, int, bool) {
	if perWindowTumble && n.Spec.Kind == exec.Tumble {
		return nil, 0, false
	}
	return g.rowWindowed(planner.SliceWindow(n))
}

// perWindowTumble makes TUMBLE window aggregates run on the per-window aggregate (exec.NewWindowAgg), as they
// did before they ran slice-shared: a test hook, to write savepoints of that operator.
var perWindowTumble = false

// rowWindowed takes the planner's answer for a window aggregate whose TVF would assign rows their own slice
// or window (the aggregate then assigns the windows): not when a node on the path between the aggregate and
// the TVF has another consumer (it would see slices instead of windows), nor in a batch job cut into stages
// (an earlier stage would assign the windows).
func (g *graph) rowWindowed(tvf *planner.WindowTVF, path []planner.Node, startKey int, ok bool) (*planner.WindowTVF, int, bool) {
	if !ok || g.staged != nil || g.stage != nil {
		return nil, 0, false
	}
	for _, p := range path {
		if g.parents[p] > 1 {
			return nil, 0, false
		}
	}
	if g.sliced == nil {
		g.sliced = map[*planner.WindowTVF]bool{}
	}
	return tvf, startKey, true
}
