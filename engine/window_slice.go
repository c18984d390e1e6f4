package engine

import "github.com/sluicesql/sluice/planner"

// sliceWindow reports whether the window aggregate n runs slice-shared (planner.SliceWindow), returning its
// window TVF and the index in n.Keys of window_start. Not when a node between the aggregate and the TVF has
// another consumer (it would see slices for windows), nor in a batch job cut into stages (an earlier stage
// would assign the windows).
func (g *graph) sliceWindow(n *planner.WindowAggregate) (*planner.WindowTVF, int, bool) {
	if g.staged != nil || g.stage != nil {
		return nil, 0, false
	}
	tvf, path, startKey, ok := planner.SliceWindow(n)
	if !ok {
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
