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
			return false, nil
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
	in := []exchangeInput{{node: tvf.Input, side: exec.ExchangeSide{Keys: keys, KeyTypes: kts}}}
	built := len(g.exchanges) // this exchange's index (upstream ones come after it)
	ok, err := g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
		agg, err := exec.NewRoutedWindowAgg(cfg, n.WindowEndKey, route, o)
		if err != nil {
			return nil, nil, err
		}
		op := agg
		for _, c := range calcs {
			op = exec.NewCalc(c.Projects, c.Filter, g.meter(c, op, j))
		}
		op = exec.NewWindowAssigner(tvf.Spec, tvf.TimeCol, tvf.LTZ, g.loc, g.meter(tvf, op, j))
		return []changelog.Output{exec.NewProctimeStamp(g.now, g.loc, tvf.TimeCol, op)}, agg, nil
	}, out, j)
	if ok && err == nil {
		// the subtasks' clocks advance without input, so windows fire on a quiet input (exec.ProctimeTick)
		g.tickExchange(built, 2*exec.ProctimeTick)
	}
	return ok, err
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
