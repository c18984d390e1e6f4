package engine

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// A scale-out SESSION window aggregate (the SESSION window TVF, or the legacy GROUP BY SESSION(...), over one
// kafka scan with a WATERMARK) runs as the other window aggregates (scaleout_window.go) with these
// differences. Stage 1 gives every row its own window [t, t+gap) (exec.NewSliceAssigner, as the P=1 plan
// does for a session aggregate with running accumulators) and repartitions it by the session's partition
// key alone (the group keys other than window_start and window_end), so that all rows of a key, and thus
// all its sessions, meet in one repartition partition. Stage 2 runs one exec.NewSessionWindowAgg per
// repartition partition: it merges each row into the open sessions of its key and fires a session when the
// partition's combined watermark passes its end - 1. Its state (per partition key the open sessions, each
// with its bounds and accumulators; the watermark up to which sessions fired and the late-row count) goes to
// the changelog topic as the other window aggregates' does, so a member that takes the partition over
// restores the open sessions, and the fired watermark, and goes on merging and firing them as one process
// would: a row is late (dropped, counted) when its own window ends at or before the restored fired watermark,
// as before the rebalance.
//
// The changelog is written incrementally (windowDirty, scaleout_window_dirty.go, as for the other window
// aggregates): per transaction the entries of the partition keys that got a row or whose session fired, and
// the operator-wide entry, not a snapshot of every open session (BenchmarkScaleOutSessionCommit).
//
// Session aggregates whose calls do not merge their accumulators (DISTINCT, FIRST_VALUE, LAST_VALUE,
// LISTAGG, COLLECT), with a filter between the window and the aggregate, or grouped by other columns than
// the partition ones, hold the sessions' rows at P=1 (exec.NewSessionAssigner); a scale-out job refuses them.

// cutScaleOutSession checks a SESSION window aggregate for scale-out and sets win's session fields.
func cutScaleOutSession(win *scaleOutWindow) error {
	w := win.agg
	tvf, _, startKey, ok := planner.SessionWindow(w)
	if !ok {
		return fmt.Errorf("%s aggregates SESSION windows with %s; a scale-out job runs a session aggregate only with running accumulators: calls that merge (COUNT, SUM, MIN, MAX, AVG, ..., not DISTINCT, FIRST_VALUE, LAST_VALUE, LISTAGG, COLLECT), no filter between the window and the aggregate, and GROUP BY window_start, window_end and exactly the session's partition columns", w.Describe(), sessionRefusal(w))
	}
	if tvf.Proctime {
		return fmt.Errorf("%s windows on a processing-time attribute; a scale-out job's windows run on event time: declare a WATERMARK on the source table and window on its rowtime column", tvf.Describe())
	}
	win.session, win.startKey = true, startKey
	win.keys = nil
	for i, k := range w.Keys {
		if i != startKey && i != w.WindowEndKey {
			win.keys = append(win.keys, k)
		}
	}
	if len(win.keys) == 0 {
		// One key for the whole job: every row goes to one repartition partition (one member aggregates).
		return fmt.Errorf("%s aggregates SESSION windows without a partition key (a global session cannot be split by key); PARTITION BY a column (or GROUP BY one with the legacy SESSION(...))", w.Describe())
	}
	return nil
}

// sessionRefusal names what keeps the session aggregate w from running accumulators.
func sessionRefusal(w *planner.WindowAggregate) string {
	var calls []string
	for _, c := range w.Aggs {
		if !exec.SliceMergeable(c) {
			name := c.Func
			if c.Distinct {
				name += "(DISTINCT ...)"
			}
			calls = append(calls, name)
		}
	}
	if len(calls) > 0 {
		return "calls that need the sessions' rows (" + strings.Join(calls, ", ") + ")"
	}
	return "a filter between the window and the aggregate, or group keys other than the session's partition columns"
}
