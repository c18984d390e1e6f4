package engine

import (
	"slices"
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
	idle, ok := src.WatermarkIdleTimeout()
	if !ok {
		idle = g.idleTimeout
	}
	op, listener := exec.NewSplitWatermarkAssigner(n.Expr, idle, time.Now, out)
	if group, drift, ok := src.WatermarkAlignment(); ok {
		if g.alignGroups == nil {
			g.alignGroups = map[string]*exec.AlignGroup{}
		}
		ag := g.alignGroups[group]
		if ag == nil {
			ag = exec.NewAlignGroup()
			g.alignGroups[group] = ag
		}
		ag.Join(listener, drift)
	}
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
