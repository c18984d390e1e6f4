package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// A scale-out window Top-N or window deduplication (Flink's: ROW_NUMBER() (or RANK, DENSE_RANK) OVER
// (PARTITION BY window_start, window_end, ... ORDER BY ...) with rn <= N over a window table function):
// stage 1 runs the Calcs, the WATERMARK's tracker and the window assigner as a window join's side does
// (windowedStage1, scaleout_window_join.go) and repartitions each row by its PARTITION BY columns (window
// bounds included) into '<name>-rank-repartition' (joinRepartitioner's side 0); stage 2 runs one
// exec.NewWindowRank per repartition partition on the interval join's path (intervalInputs, advanceWindow:
// the minimum watermark over every source partition), which emits a window's ranked rows when the watermark
// passes its end. Its state is written per change (exec/window_rank_keyed.go): per transaction the entry of
// every partition key (window included) that got a row, its kept rows in rank order (at most N, or N ranks
// with RANK/DENSE_RANK), a tombstone for each partition key of a window that fired, and the operator's meta
// entry (fired watermark); the source watermarks as a window join's. A window Top-N over a window
// aggregate (two stateful operators) is refused.

// scaleOutWindowRank is the part of a plan around a window Top-N.
type scaleOutWindowRank struct {
	rank    *planner.WindowRank
	in      windowedInput
	idle    time.Duration
	idleSet bool
}

// cutScaleOutWindowRank cuts a plan whose sink's Calcs read a window Top-N over a window table function.
func cutScaleOutWindowRank(p *scaleOutPlan, r *planner.WindowRank, root planner.Node) (*scaleOutPlan, error) {
	wr := &scaleOutWindowRank{rank: r}
	if wa, ok := calcsDownNode(r.Input).(*planner.WindowAggregate); ok {
		return nil, fmt.Errorf("the window Top-N's input is %s: a window Top-N over a window aggregate is two stateful operators (a scale-out job runs one); write the window aggregate's results to a kafka table and rank them in another job", wa.Describe())
	}
	b, err := cutWindowedInput(r.Input, &wr.in, "the window Top-N's input", "a window Top-N over SESSION windows is not supported; use TUMBLE, HOP or CUMULATE")
	if err != nil {
		return nil, err
	}
	if ss, ok := b.scan.Source.(connectors.SplitSource); ok {
		wr.idle, wr.idleSet = ss.WatermarkIdleTimeout()
		if _, _, ok := ss.WatermarkAlignment(); ok {
			return nil, fmt.Errorf("table '%s' sets 'scan.watermark.alignment.group': a scale-out window job does not align watermarks; remove the option", b.scan.Table.Name)
		}
	}
	p.wrank = wr
	p.branches = []*scaleOutBranch{b}
	p.fp = planFingerprint(root)
	return p, nil
}

// calcsDownNode is the first node under n's Calcs.
func calcsDownNode(n planner.Node) planner.Node {
	var cs []*planner.Calc
	return calcsDown(n, &cs)
}

// windowRankStage1 is the stage-1 output of a window Top-N's branch.
func (m *member) windowRankStage1() changelog.Output {
	wr := m.plan.wrank
	return m.windowedStage1(&wr.in, &joinRepartitioner{m: m, side: 0, keys: wr.rank.Partition})
}

// newWindowRankPart builds the window Top-N of one repartition partition; its output goes through the Calcs
// behind it to the sink of the member's current session.
func (m *member) newWindowRankPart() (*winPart, error) {
	r := m.plan.wrank.rank
	cfg := exec.WindowRankConfig{Partition: r.Partition, Order: r.Order, Limit: r.Limit, EndCol: r.EndCol,
		Types: m.sideTypes[0], LastOnTies: r.Dedup && r.Order[0].Desc, Func: r.Func}
	op := exec.NewWindowRank(cfg, m.postOutput())
	keyed := exec.WindowRankKeyedOf(op)
	snap, ok := op.(state.Snapshotter)
	if keyed == nil || !ok {
		return nil, fmt.Errorf("internal error: the window Top-N has no keyed state snapshots")
	}
	keyed.TrackChanges()
	ii := &intervalInputs{keyed: keyed}
	ii.in[0], ii.in[1] = op, noInput{}
	return &winPart{agg: ii, snap: snap, srcWM: map[uint32]int64{}, idle: map[uint32]bool{}, applied: math.MinInt64, last: map[string][]byte{}}, nil
}

// noInput is the missing second input of a one-input operator on the interval join's path: it takes the
// watermarks intervalInputs gives both inputs.
type noInput struct{}

func (noInput) Push(*changelog.Batch) error {
	return fmt.Errorf("internal error: a window Top-N has one input")
}
func (noInput) Watermark(int64) error { return nil }
func (noInput) End() error            { return nil }
