package planner

import (
	"errors"
	"fmt"
	"strings"
)

// Rule is one rewrite of the plan, in the manner of Flink's planner rules and DataFusion's optimizer rules:
// Rewrite looks at one node (whose inputs have already been rewritten) and returns its replacement and true,
// or the node itself and false when the rule does not apply. Rules never modify the node they are given
// (plans are shared with EXPLAIN's earlier sections); they build new nodes.
type Rule interface {
	Name() string
	Rewrite(n Node) (Node, bool)
}

// Phase is a named, ordered list of rules (Flink's optimize programs: subquery_rewrite, window_rewrite,
// ...). The driver applies the rules bottom-up over the whole plan, in order at every node, and repeats
// until a pass changes nothing.
type Phase struct {
	Name  string
	Rules []Rule
}

// ErrInternal marks planner bugs (a rule that does not reach a fixpoint, a logical node that no rule
// replaced): errors users cannot fix, which the fuzz tests look for.
var ErrInternal = errors.New("internal error")

// maxPasses bounds the passes of one phase: a rule that keeps rewriting (a loop) becomes an error, not a
// hang.
const maxPasses = 100

// phases returns the rewrite program for the runtime mode. Each phase runs to its fixpoint before the next.
func phases(batch bool) []Phase {
	ps := []Phase{
		{Name: "subquery_rewrite", Rules: []Rule{inSubqueryToSemiJoin{}, subqueryToJoin{deferWindowed: true}, setOpRewrite{}}},
		{Name: "window_rewrite", Rules: []Rule{groupWindowToTVF{}, windowAggregateRule{}}},
		{Name: "predicate_pushdown", Rules: []Rule{rankLimitPushdown{}}},
		{Name: "window_operators", Rules: []Rule{windowRankRule{}, windowJoinRule{}, windowSemiJoinRule{}, subqueryToJoin{}, windowAggregateRule{}}},
	}
	if batch {
		// Batch has no watermarks: Flink's batch program drops the watermark assigners (time_indicator).
		ps = append(ps, Phase{Name: "time_indicator", Rules: []Rule{watermarkAssignerRemove{}}})
	}
	return append(ps, Phase{Name: "project_rewrite", Rules: []Rule{projectRemove{}, calcMerge{}, projectToCalc{}, filterToCalc{}, projectJoinTranspose{}, trimJoinReaders{}}})
}

// PhaseStep is the plan after one phase that changed it (EXPLAIN VERBOSE).
type PhaseStep struct {
	Phase string
	Plan  Node
}

// Optimize applies the phases in order and returns the rewritten plan and the plan after each phase that
// changed it.
func Optimize(n Node, program []Phase) (Node, []PhaseStep, error) {
	var steps []PhaseStep
	for _, ph := range program {
		out, changed, err := runPhase(n, ph)
		if err != nil {
			return nil, nil, err
		}
		if changed {
			steps = append(steps, PhaseStep{Phase: ph.Name, Plan: out})
		}
		n = out
	}
	return n, steps, nil
}

func runPhase(n Node, ph Phase) (Node, bool, error) {
	changed := false
	for pass := 0; pass < maxPasses; pass++ {
		var fired []string
		n = transformUp(n, ph.Rules, &fired)
		if len(fired) == 0 {
			return n, changed, nil
		}
		changed = true
		if pass == maxPasses-1 {
			return nil, false, fmt.Errorf("%w: planner phase %s did not reach a fixpoint after %d passes (rules still firing: %s); please report this with the statement",
				ErrInternal, ph.Name, maxPasses, strings.Join(fired, ", "))
		}
	}
	return n, changed, nil
}

// transformUp rewrites the inputs of n, then n itself with each rule in order; fired collects the names of
// the rules that applied.
func transformUp(n Node, rules []Rule, fired *[]string) Node {
	ins := n.Inputs()
	var newIns []Node
	for i, in := range ins {
		out := transformUp(in, rules, fired)
		if out != in && newIns == nil {
			newIns = append([]Node{}, ins...)
		}
		if newIns != nil {
			newIns[i] = out
		}
	}
	if newIns != nil {
		n = withInputs(n, newIns)
	}
	for _, r := range rules {
		if out, ok := r.Rewrite(n); ok {
			n = out
			*fired = append(*fired, r.Name())
		}
	}
	return n
}

// withInputs returns a copy of n with the given inputs (in the order of n.Inputs()).
func withInputs(n Node, ins []Node) Node {
	switch n := n.(type) {
	case *Scan, *Values:
		return n
	case *Calc:
		c := *n
		c.Input = ins[0]
		return &c
	case *WatermarkAssigner:
		c := *n
		c.Input = ins[0]
		return &c
	case *Aggregate:
		c := *n
		c.Input = ins[0]
		return &c
	case *Sort:
		c := *n
		c.Input = ins[0]
		return &c
	case *TopN:
		c := *n
		c.Input = ins[0]
		return &c
	case *TemporalSort:
		c := *n
		c.Input = ins[0]
		return &c
	case *Limit:
		c := *n
		c.Input = ins[0]
		return &c
	case *Union:
		c := *n
		c.Ins = ins
		return &c
	case *Sink:
		c := *n
		c.Input = ins[0]
		return &c
	case *ChangelogNormalize:
		c := *n
		c.Input = ins[0]
		return &c
	case *SinkMaterializer:
		c := *n
		c.Input = ins[0]
		return &c
	case *Join:
		c := *n
		c.Left, c.Right = ins[0], ins[1]
		return &c
	case *WindowTVF:
		c := *n
		c.Input = ins[0]
		return &c
	case *WindowAggregate:
		c := *n
		c.Input = ins[0]
		return &c
	case *Rank:
		c := *n
		c.Input = ins[0]
		return &c
	case *WindowRank:
		c := *n
		c.Input = ins[0]
		return &c
	case *WindowJoin:
		c := *n
		c.Left, c.Right = ins[0], ins[1]
		return &c
	case *OverAggregate:
		c := *n
		c.Input = ins[0]
		return &c
	case *MatchRecognize:
		c := *n
		c.Input = ins[0]
		return &c
	case *TemporalJoin:
		c := *n
		c.Left, c.Right = ins[0], ins[1]
		return &c
	case *LookupJoin:
		c := *n
		c.Input = ins[0]
		return &c
	case *Project:
		c := *n
		c.Input = ins[0]
		return &c
	case *Filter:
		c := *n
		c.Input = ins[0]
		return &c
	case *SortLimit:
		c := *n
		c.Input = ins[0]
		return &c
	case *InSubquery:
		c := *n
		c.Input, c.Sub = ins[0], ins[1]
		return &c
	case *Expand:
		c := *n
		c.Input = ins[0]
		return &c
	case *Replicate:
		c := *n
		c.Input = ins[0]
		return &c
	case *SubqueryJoin:
		c := *n
		c.Input, c.Sub = ins[0], ins[1]
		return &c
	case *SetOp:
		c := *n
		c.Left, c.Right = ins[0], ins[1]
		return &c
	case *GroupWindow:
		c := *n
		c.Window.Input = ins[0]
		return &c
	case *MiniBatchAssigner:
		c := *n
		c.Input = ins[0]
		return &c
	case *LocalGroupAggregate:
		c := *n
		c.Input = ins[0]
		return &c
	case *GlobalGroupAggregate:
		c := *n
		c.Input = ins[0]
		return &c
	}
	panic(fmt.Sprintf("planner: withInputs: unknown node %T", n))
}
