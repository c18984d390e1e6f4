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
	side [2]windowedInput
	keys [2][]int // the columns each side is repartitioned by
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
		b, err := cutWindowedInput(in, &wj.side[i], "the window join's "+[2]string{"left", "right"}[i]+" input", "a window join of SESSION windows is not supported (a key's sessions are merged before the join); use TUMBLE, HOP or CUMULATE")
		if err != nil {
			return nil, err
		}
		scan := b.scan
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
		p.branches = append(p.branches, b)
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

// windowedInput is an input of a window join or window Top-N between its WATERMARK and the operator.
type windowedInput struct {
	wm   *planner.WatermarkAssigner
	mid  []*planner.Calc // between the WATERMARK and the window table function, the WATERMARK's side first
	tvf  *planner.WindowTVF
	post []*planner.Calc // between the window table function and the operator, the function's side first
}

// cutWindowedInput cuts in, an input named what: Scan -> Calcs -> WATERMARK -> Calcs -> window table function
// (TUMBLE, HOP, CUMULATE on the rowtime) -> Calcs. It returns the branch (the scan and the Calcs under the
// WATERMARK); session says why SESSION windows are refused.
func cutWindowedInput(in planner.Node, wi *windowedInput, what, session string) (*scaleOutBranch, error) {
	n := calcsDown(in, &wi.post)
	tvf, ok := n.(*planner.WindowTVF)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not a window table function (TUMBLE, HOP, CUMULATE) over a source table with a WATERMARK; write that input's rows to a kafka table and read them in another job", what, n.Describe())
	}
	if tvf.Proctime {
		return nil, fmt.Errorf("%s %s windows on a processing-time attribute; a scale-out job's windows run on event time: declare a WATERMARK on the source table and window on its rowtime column", what, tvf.Describe())
	}
	if tvf.Spec.Kind == exec.Session {
		return nil, fmt.Errorf("%s is %s: %s", what, tvf.Describe(), session)
	}
	wi.tvf = tvf
	n = calcsDown(tvf.Input, &wi.mid)
	wa, ok := n.(*planner.WatermarkAssigner)
	if !ok {
		return nil, fmt.Errorf("%s's window table function reads %s, not a source table with a WATERMARK", what, n.Describe())
	}
	wi.wm = wa
	b := &scaleOutBranch{}
	n = calcsDown(wa.Input, &b.pre)
	scan, ok := n.(*planner.Scan)
	if !ok {
		return nil, fmt.Errorf("%s's WATERMARK reads %s, not a table scan", what, n.Describe())
	}
	if !in.Mode().IsInsertOnly() {
		return nil, fmt.Errorf("%s is not insert-only", what)
	}
	b.scan = scan
	return b, nil
}

// windowedStage1 is the stage-1 output of a windowed input, below the branch's Calcs under the WATERMARK:
// the watermark tracker, the Calcs, the window assigner, the Calcs behind it and then out.
func (m *member) windowedStage1(wi *windowedInput, out changelog.Output) changelog.Output {
	for i := len(wi.post) - 1; i >= 0; i-- {
		out = exec.NewCalc(wi.post[i].Projects, wi.post[i].Filter, out)
	}
	out = exec.NewWindowAssigner(wi.tvf.Spec, wi.tvf.TimeCol, wi.tvf.LTZ, m.win.loc, out)
	for i := len(wi.mid) - 1; i >= 0; i-- {
		out = exec.NewCalc(wi.mid[i].Projects, wi.mid[i].Filter, out)
	}
	return &wmTracker{ws: m.win, rowtime: wi.wm.Expr, out: out}
}

// windowJoinStage1 is the stage-1 output of side's branch of a window join: windowedStage1 and the
// repartitioner.
func (m *member) windowJoinStage1(side int) changelog.Output {
	wj := m.plan.wj
	return m.windowedStage1(&wj.side[side], &joinRepartitioner{m: m, side: side, keys: wj.keys[side]})
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
