package engine

import "fmt"

// noteRestoredChannels tells, after a restore from checkpoint dir, how many in-flight rows of an unaligned
// checkpoint each exchange replays before its new input (as Flink logs the recovered channel state).
func (g *graph) noteRestoredChannels(dir string) {
	if g.notice == nil {
		return
	}
	for _, r := range g.exchanges {
		n, at := r.x.RestoredInFlight()
		switch {
		case n == 0:
		case at != r.x.Subtasks():
			fmt.Fprintf(g.notice, "[INFO] Restored %d in-flight rows of %s from the unaligned checkpoint '%s', taken at parallelism %d and redistributed over %d subtasks by key; they are processed before new input.\n",
				n, r.name, dir, at, r.x.Subtasks())
		default:
			fmt.Fprintf(g.notice, "[INFO] Restored %d in-flight rows of %s from the unaligned checkpoint '%s'; they are processed before new input.\n", n, r.name, dir)
		}
	}
}
