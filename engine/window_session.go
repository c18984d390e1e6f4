package engine

import "github.com/sluicesql/sluice/planner"

// sessionWindow reports whether the window aggregate n over SESSION windows keeps running accumulators
// (planner.SessionWindow), returning its window TVF, which then gives every row its own window, and the
// index in n.Keys of window_start. Not when a node between the aggregate and the TVF has another consumer
// (it would see the rows' own windows instead of the sessions), nor in a batch job cut into stages (an
// earlier stage would assign the sessions).
func (g *graph) sessionWindow(n *planner.WindowAggregate) (*planner.WindowTVF, int, bool) {
	if g.staged != nil || g.stage != nil {
		return nil, 0, false
	}
	tvf, path, startKey, ok := planner.SessionWindow(n)
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
