package engine

import "github.com/sluicesql/sluice/planner"

// sessionWindow reports whether the window aggregate n over SESSION windows keeps running accumulators
// (planner.SessionWindow), returning its window TVF, which then gives every row its own window, and the
// index in n.Keys of window_start; under the same conditions as sliceWindow.
func (g *graph) sessionWindow(n *planner.WindowAggregate) (*planner.WindowTVF, int, bool) {
	return g.rowWindowed(planner.SessionWindow(n))
}
