package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// A scale-out window join (Flink's window join: TABLE(TUMBLE|HOP|CUMULATE(...)) L [LEFT|RIGHT|FULL] JOIN
// TABLE(...) R ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k, and the
// semi and anti window joins of EXISTS, IN, NOT EXISTS and NOT IN): on each side stage 1 decodes, runs the
// Calcs up to the WATERMARK, tracks the watermark of each source partition it owns (wmTracker), runs the
// Calcs up to the window table function, assigns the windows (exec.NewWindowAssigner: one row per window)
// and, after the Calcs between the function and the join, produces each row (joinRepartitioner: side byte,
// kind byte, row) to the repartition partition of its join key (the window bounds and the other equi-keys;
// for NOT IN, whose last key pair compares as NOT IN does, all keys but the last, so that a right row with a
// NULL last key meets every left row it rules out). After the rows of a transaction it writes the watermark
// and idle records of its source partitions into every repartition partition, as the interval join does.
// Stage 2 runs one exec window join per repartition partition in a winPart (the interval join's path:
// intervalJoin, advanceWindow, writeIntervalChangelog): the join gets the minimum watermark over every source
// partition of both sources and, when it passes a window's end, emits the window's joined rows (equal to the
// P=1 join's as a multiset) and drops its rows.
//
// The partition's state is backed by the changelog topic '<name>-join-changelog' (wjTracker, below): per
// transaction, for every join key and side that got rows in an open window, one entry with those rows (their
// places among the window's rows of the side, so that a restore gives them back to the join in arrival
// order); when a window fires, a tombstone for each of its entries; the watermark up to which windows fired
// (when it moved) and the source partitions' watermarks. A transaction costs in proportion to the rows it
// added and the windows it fired, not to the partition's open windows.

// scaleOutWindowJoin is the part of a plan around a window join.
type scaleOutWindowJoin struct {
	join *planner.WindowJoin
	wm   [2]*planner.WatermarkAssigner
	mid  [2][]*planner.Calc // between each side's WATERMARK and its window table function, the WATERMARK's side first
	tvf  [2]*planner.WindowTVF
	post [2][]*planner.Calc // between each side's window table function and the join, the function's side first
	keys [2][]int           // the columns each side is repartitioned by
	// idle is the tables' 'scan.watermark.idle-timeout' when idleSet, else the session's
	// 'table.exec.source.idle-timeout' (submitScaleOut); 0: source partitions never go idle.
	idle    time.Duration
	idleSet bool
}

// cutScaleOutWindowJoin cuts a plan whose sink's Calcs read a window join: on each side Scan -> Calcs ->
// WATERMARK -> Calcs -> window table function (TUMBLE, HOP, CUMULATE on the rowtime) -> Calcs -> the join.
func cutScaleOutWindowJoin(p *scaleOutPlan, j *planner.WindowJoin, root planner.Node) (*scaleOutPlan, error) {
	wj := &scaleOutWindowJoin{join: j}
	var idleTable string
	for i, in := range []planner.Node{j.Left, j.Right} {
		side := [2]string{"left", "right"}[i]
		n := calcsDown(in, &wj.post[i])
		tvf, ok := n.(*planner.WindowTVF)
		if !ok {
			return nil, fmt.Errorf("the window join's %s input is %s, not a window table function (TUMBLE, HOP, CUMULATE) over a source table with a WATERMARK; write that input's rows to a kafka table and join them in another job", side, n.Describe())
		}
		if tvf.Proctime {
			return nil, fmt.Errorf("the window join's %s input %s windows on a processing-time attribute; a scale-out window join runs on event time: declare a WATERMARK on the source table and window on its rowtime column", side, tvf.Describe())
		}
		if tvf.Spec.Kind == exec.Session {
			return nil, fmt.Errorf("the window join's %s input is %s: a window join of SESSION windows is not supported (a key's sessions are merged before the join); use TUMBLE, HOP or CUMULATE", side, tvf.Describe())
		}
		wj.tvf[i] = tvf
		n = calcsDown(tvf.Input, &wj.mid[i])
		wa, ok := n.(*planner.WatermarkAssigner)
		if !ok {
			return nil, fmt.Errorf("the window join's %s window table function's input is %s, not a source table with a WATERMARK", side, n.Describe())
		}
		wj.wm[i] = wa
		var pre []*planner.Calc
		n = calcsDown(wa.Input, &pre)
		scan, ok := n.(*planner.Scan)
		if !ok {
			return nil, fmt.Errorf("the window join's %s WATERMARK's input is %s, not a table scan", side, n.Describe())
		}
		if !in.Mode().IsInsertOnly() {
			return nil, fmt.Errorf("the window join's %s input is not insert-only", side)
		}
		if ss, ok := scan.Source.(connectors.SplitSource); ok {
			if d, set := ss.WatermarkIdleTimeout(); set {
				if wj.idleSet && d != wj.idle {
					return nil, fmt.Errorf("tables '%s' and '%s' set other 'scan.watermark.idle-timeout' values (%s, %s): a scale-out window join's watermark is the minimum over both sources' partitions, with one idle timeout; set the same value on both", idleTable, scan.Table.Name, wj.idle, d)
				}
				wj.idle, wj.idleSet, idleTable = d, true, scan.Table.Name
			}
			if _, _, ok := ss.WatermarkAlignment(); ok {
				return nil, fmt.Errorf("table '%s' sets 'scan.watermark.alignment.group': a scale-out window join does not align watermarks; remove the option", scan.Table.Name)
			}
		}
		p.branches = append(p.branches, &scaleOutBranch{scan: scan, pre: pre})
	}
	if err := checkKeyTypes(j.Left, j.Right, j.LeftKeys, j.RightKeys); err != nil {
		return nil, err
	}
	wj.keys = [2][]int{j.LeftKeys, j.RightKeys}
	if j.NullAware {
		// NOT IN: a right row whose last key is NULL rules out every left row of its group (the other keys).
		wj.keys = [2][]int{j.LeftKeys[:len(j.LeftKeys)-1], j.RightKeys[:len(j.RightKeys)-1]}
	}
	p.wj = wj
	p.fp = planFingerprint(root)
	return p, nil
}

// windowJoinStage1 is the stage-1 output of side's branch of a window join, below the branch's Calcs under
// the WATERMARK: the watermark tracker, the Calcs, the window assigner, the Calcs behind it and the
// repartitioner.
func (m *member) windowJoinStage1(side int) changelog.Output {
	wj := m.plan.wj
	var out changelog.Output = &joinRepartitioner{m: m, side: side, keys: wj.keys[side]}
	for i := len(wj.post[side]) - 1; i >= 0; i-- {
		c := wj.post[side][i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	tvf := wj.tvf[side]
	out = exec.NewWindowAssigner(tvf.Spec, tvf.TimeCol, tvf.LTZ, m.win.loc, out)
	for i := len(wj.mid[side]) - 1; i >= 0; i-- {
		c := wj.mid[side][i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return &wmTracker{ws: m.win, rowtime: wj.wm[side].Expr, out: out}
}

// newWindowJoinPart builds the window join of one repartition partition; its output goes through the Calcs
// behind it to the sink of the member's current session. The partition runs on the interval join's path
// (intervalInputs; scaleout_interval.go) with a wjTracker between the records and the join.
func (m *member) newWindowJoinPart() *winPart {
	j := m.plan.wj.join
	cfg := exec.WindowJoinConfig{Type: j.Type, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Residual: j.Residual,
		LeftTypes: m.sideTypes[0], RightTypes: m.sideTypes[1], LeftEnd: j.LeftEnd, RightEnd: j.RightEnd, NullAware: j.NullAware}
	l, r := exec.NewWindowJoin(cfg, m.postOutput())
	t := newWJTracker(cfg, l, r)
	ii := &intervalInputs{keyed: t}
	ii.in[0], ii.in[1] = &wjSide{t: t, side: 0}, &wjSide{t: t, side: 1}
	return &winPart{agg: ii, snap: t, srcWM: map[uint32]int64{}, idle: map[uint32]bool{}, applied: math.MinInt64, last: map[string][]byte{}}
}
