package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// watermarkAssigner builds the operator for a WATERMARK. When it reads a source with splits (Kafka
// partitions) through projections only, watermarks are tracked per split and combined as their minimum
// (exec.NewSplitWatermarkAssigner), with the idle timeout of the table ('scan.watermark.idle-timeout') or
// else of the session ('table.exec.source.idle-timeout'). Sources in one watermark alignment group
// ('scan.watermark.alignment.group') share an exec.AlignGroup.
func (g *graph) watermarkAssigner(n *planner.WatermarkAssigner, out changelog.Output) changelog.Output {
	src := splitSourceBelow(n.Input)
	if src == nil {
		return exec.NewWatermarkAssigner(n.Expr, out)
	}
	op, listener := exec.NewSplitWatermarkAssigner(n.Expr, g.splitIdleTimeout(src), time.Now, out)
	g.joinAlignGroup(src, listener)
	// A source read once for several branches (source reuse) feeds each branch's assigner: every listener
	// hears of every split.
	if f := g.splitFans[src]; f != nil {
		f.ls = append(f.ls, listener)
		return op
	}
	if g.splitFans == nil {
		g.splitFans = map[connectors.SplitSource]*splitFanout{}
	}
	f := &splitFanout{ls: []connectors.SplitListener{listener}}
	g.splitFans[src] = f
	src.SetSplitListener(f)
	return op
}

// subtaskWatermarkAssigner builds the WATERMARK operator chained into one subtask of a parallel source
// (pipeline.go): per-split watermarks over the partitions that subtask reads, its listener to hand to the
// subtask, idle in the subtasks' union while none of its partitions counts (Flink marks a source reader
// without active splits idle). Each subtask's tracker is a member of the alignment group on its own.
func (g *graph) subtaskWatermarkAssigner(n *planner.WatermarkAssigner, out changelog.Output) (changelog.Output, connectors.SplitListener) {
	src := splitSourceBelow(n.Input)
	op, listener := exec.NewSplitWatermarkAssigner(n.Expr, g.splitIdleTimeout(src), time.Now, out)
	listener.SignalIdle()
	g.joinAlignGroup(src, listener)
	return op, listener
}

// splitIdleTimeout is the idle timeout of the table ('scan.watermark.idle-timeout') or else of the session.
func (g *graph) splitIdleTimeout(src connectors.SplitSource) time.Duration {
	if idle, ok := src.WatermarkIdleTimeout(); ok {
		return idle
	}
	return g.idleTimeout
}

// joinAlignGroup adds sw to the source's watermark alignment group, when it has one.
func (g *graph) joinAlignGroup(src connectors.SplitSource, sw *exec.SplitWatermarks) {
	group, drift, ok := src.WatermarkAlignment()
	if !ok {
		return
	}
	if g.alignGroups == nil {
		g.alignGroups = map[string]*exec.AlignGroup{}
	}
	ag := g.alignGroups[group]
	if ag == nil {
		ag = exec.NewAlignGroup()
		g.alignGroups[group] = ag
	}
	ag.Join(sw, drift)
}

// splitFanout passes a source's split events to the watermark assigners of every branch that reads it. As
// an aligner it blocks the splits any of them blocks.
type splitFanout struct {
	ls []connectors.SplitListener
}

func (f *splitFanout) AddSplit(id int) {
	for _, l := range f.ls {
		l.AddSplit(id)
	}
}

func (f *splitFanout) SplitRows(id int) {
	for _, l := range f.ls {
		l.SplitRows(id)
	}
}

func (f *splitFanout) NameSplit(id int, name string) {
	for _, l := range f.ls {
		if n, ok := l.(connectors.SplitNamer); ok {
			n.NameSplit(id, name)
		}
	}
}

func (f *splitFanout) FinishSplit(id int) {
	for _, l := range f.ls {
		l.FinishSplit(id)
	}
}

func (f *splitFanout) Blocked(dst []int) []int {
	start := len(dst)
	for _, l := range f.ls {
		if a, ok := l.(connectors.SplitAligner); ok {
			dst = a.Blocked(dst)
		}
	}
	out := dst[:start] // each split once
	for _, id := range dst[start:] {
		if !slices.Contains(out[start:], id) {
			out = append(out, id)
		}
	}
	return out
}

// splitSourceBelow returns the source under n when only projections (Calcs without a filter) lie between.
func splitSourceBelow(n planner.Node) connectors.SplitSource {
	for {
		switch x := n.(type) {
		case *planner.Calc:
			if x.Filter != nil {
				return nil
			}
			n = x.Input
		case *planner.Scan:
			s, _ := x.Source.(connectors.SplitSource)
			return s
		default:
			return nil
		}
	}
}

// preShapeID returns the id that Sluice gave part n (of kind) before the WATERMARK of an upsert scan went
// below its ChangelogNormalize (planner.PreWatermarkPushdown: the assigner, the normalize and every node above
// them hashed another subtree), or "" when n's subtree has no such watermark. Restore looks a part up by
// it when the checkpoint has no part of n's id, so savepoints taken before keep their state: the
// normalize's and the join's keyed state, and the assigner's watermark (the same format as the assigners
// per split write, exec.SubtaskWatermarkState).
func (g *graph) preShapeID(kind string, n planner.Node) string {
	old, ok := planner.PreWatermarkPushdown(n)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte(kind + "\n" + planner.Explain(old, false)))
	id := kind[:2] + "-" + hex.EncodeToString(sum[:8])
	if g.seenIDs == nil {
		g.seenIDs = map[string]int{}
	}
	g.seenIDs["shape "+id]++ // counted apart from planIDs' ids, in the same order as they were
	if c := g.seenIDs["shape "+id]; c > 1 {
		id += "-" + strconv.Itoa(c)
	}
	return id
}
