package engine

import (
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// Processing-time window aggregates behind the hash exchange (Nexmark q12). A window TVF over PROCTIME()
// reads the clock, so it ends a chain of source subtasks (chainedScan); without an exchange the aggregate ran
// as exec.Parallel under the graph lock, fork-join per batch. When the aggregate's input is that TVF (TUMBLE,
// HOP or CUMULATE; through Calcs that pass the group keys on as columns) and the TVF's input is a chain of source subtasks, the source subtasks route their rows by
// the aggregate's group keys without the window columns (Flink: Exchange(hash[keys]) in front of the
// WindowAggregate, which assigns the windows of its processing time), and every keyed subtask runs its own
// clock, assigner and Calcs in front of its window aggregate: exec.NewProctimeStamp sets each row's time column to
// the subtask's clock as it arrives (so no row is late because it waited in a queue) and emits the clock as
// the watermark. The state is the aggregate's, as at parallelism 1 (exec.NewRoutedWindowAgg restores a
// checkpoint's entries by their route keys).

// exchangeProctimeWindow builds window aggregate n over a processing-time window TVF behind an exchange; it
// reports false (and builds nothing) when that path does not apply.
func (g *graph) exchangeProctimeWindow(n *planner.WindowAggregate, cfg exec.GroupAggConfig, out changelog.Output, j *Job) (bool, error) {
	if g.batch {
		return false, nil
	}
	tvf, calcs, cols, ok := g.proctimeTrace(n, cfg)
	if !ok {
		return false, nil
	}
	nin := len(tvf.Input.Fields()) // the TVF appends window_start, window_end, window_time
	var route, keys []int
	var kts []types.Type
	for i, k := range cols {
		if k < 0 || k == tvf.TimeCol {
			return false, nil // a computed key, or grouped by the stamped column itself
		}
		if k < nin {
			route, keys, kts = append(route, i), append(keys, k), append(kts, cfg.KeyTypes[i])
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	startKey, sliced := proctimeSlices(n, cfg, cols, nin, len(route))
	in := []exchangeInput{{node: tvf.Input, side: exec.ExchangeSide{Keys: keys, KeyTypes: kts}}}
	built := len(g.exchanges) // this exchange's index (upstream ones come after it)
	ok, err := g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		var agg changelog.Output
		var err error
		if sliced {
			agg, err = exec.NewSliceWindowAgg(cfg, n.Spec, startKey, n.WindowEndKey, o)
		} else {
			agg, err = exec.NewRoutedWindowAgg(cfg, n.WindowEndKey, route, o)
		}
		if err != nil {
			return nil, nil, err
		}
		op := agg
		for _, c := range calcs {
			op = exec.NewCalc(c.Projects, c.Filter, g.meter(c, op, j))
		}
		if sliced {
			op = exec.NewSliceAssigner(tvf.Spec, tvf.TimeCol, tvf.LTZ, g.loc, g.meter(tvf, op, j))
		} else {
			op = exec.NewWindowAssigner(tvf.Spec, tvf.TimeCol, tvf.LTZ, g.loc, g.meter(tvf, op, j))
		}
		return []changelog.Output{exec.NewProctimeStamp(g.now, g.loc, tvf.TimeCol, op)}, agg, nil
	}, out, j)
	if ok && err == nil {
		// the subtasks' clocks advance without input, so windows fire on a quiet input (exec.ProctimeTick)
		g.tickExchange(built, 2*exec.ProctimeTick)
	}
	return ok, err
}

// proctimeTrace follows window aggregate n's input down through Calcs (each with no other consumer) to a
// processing-time TUMBLE, HOP or CUMULATE TVF (with no other consumer, not yet marked sliced) and returns it,
// the Calcs from the top down, and the aggregate's keys as columns of the TVF's output (-1: computed).
func (g *graph) proctimeTrace(n *planner.WindowAggregate, cfg exec.GroupAggConfig) (*planner.WindowTVF, []*planner.Calc, []int, bool) {
	// the aggregate's keys as columns of the node below, down through the Calcs to the TVF (-1: computed)
	cols := append([]int(nil), cfg.Keys...)
	var calcs []*planner.Calc // from the top down
	below := n.Input
	for {
		c, ok := below.(*planner.Calc)
		if !ok {
			break
		}
		if g.parents[c] > 1 {
			return nil, nil, nil, false
		}
		for i, k := range cols {
			cols[i] = -1
			if in, isCol := expr.ColumnIndex(c.Projects[k]); isCol {
				cols[i] = in
			}
		}
		calcs = append(calcs, c)
		below = c.Input
	}
	tvf, ok := below.(*planner.WindowTVF)
	if !ok || !tvf.Proctime || tvf.Spec.Kind == exec.Session || g.parents[tvf] > 1 || g.sliced[tvf] {
		return nil, nil, nil, false
	}
	return tvf, calcs, cols, true
}

// proctimeSliceWindow is sliceWindow (window_slice.go) for a processing-time TUMBLE aggregate that does not
// run behind the exchange (exchangeProctimeWindow): at parallelism 1 the graph's clock (proctimeClock) then
// passes columnar batches to the slice assigner and the slice-shared aggregate (proctimeSlices).
func (g *graph) proctimeSliceWindow(n *planner.WindowAggregate, cfg exec.GroupAggConfig) (*planner.WindowTVF, int, bool) {
	if g.batch || g.staged != nil || g.stage != nil {
		return nil, 0, false
	}
	tvf, _, cols, ok := g.proctimeTrace(n, cfg)
	if !ok {
		return nil, 0, false
	}
	nin := len(tvf.Input.Fields())
	nroute := 0
	for _, k := range cols {
		if k < 0 || k == tvf.TimeCol {
			return nil, 0, false
		}
		if k < nin {
			nroute++
		}
	}
	startKey, ok := proctimeSlices(n, cfg, cols, nin, nroute)
	if !ok {
		return nil, 0, false
	}
	if g.sliced == nil {
		g.sliced = map[*planner.WindowTVF]bool{}
	}
	return tvf, startKey, true
}

// proctimeSlices reports whether the keyed subtasks of a processing-time TUMBLE aggregate run the
// slice-shared window aggregate (exec.NewSliceWindowAgg behind exec.NewSliceAssigner), which takes the
// stamp's columnar batches (exec/window_slice_vec.go), and the index in cfg.Keys of window_start. A TUMBLE
// window is one slice, so the assigner's rows are those of the per-window assigner and the Calcs between
// see the same values; the aggregate's keys must be window_start, window_end and columns of the TVF's input
// (cols: the keys as columns of the TVF's output, nin its input's width; nroute how many are input columns),
// so that its state key (the keys without the window's) is the exchange's route key. It migrates the
// per-window aggregate's checkpoints (exec/window_slice_migrate.go).
func proctimeSlices(n *planner.WindowAggregate, cfg exec.GroupAggConfig, cols []int, nin, nroute int) (int, bool) {
	if perWindowTumble || n.Spec.Kind != exec.Tumble || !exec.SliceWindowSupported(n.Spec, cfg.Aggs) ||
		nroute != len(cols)-2 || cols[n.WindowEndKey] != nin+1 {
		return 0, false
	}
	for i, k := range cols {
		if k == nin {
			return i, true
		}
	}
	return 0, false
}

// proctimeClock builds a processing-time clock in front of op (exec.NewProctimeClock) and, in streaming,
// registers it with the graph's ticker, which advances it every exec.ProctimeTick under the graph lock: a
// window (or an ORDER BY PROCTIME() sort) fires when its end passes although no row arrives, as Flink's
// processing-time timers do.
func (g *graph) proctimeClock(loc *time.Location, op changelog.Output) changelog.Output {
	c := exec.NewProctimeClock(g.now, loc, op)
	if !g.batch {
		g.miniBatch.add(c, 2*exec.ProctimeTick)
	}
	return c
}
