package planner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/options"
)

// Plan shapes of Flink's streaming aggregation speed-ups ('table.exec.mini-batch.*',
// 'table.optimizer.agg-phase-strategy', 'table.optimizer.distinct-agg.split.*'), produced by the
// physical_rewrite phase (rule_minibatch.go, rule_two_phase.go, rule_split_distinct.go) after the physical
// pass, as Flink's PHYSICAL_REWRITE program does.

// MiniBatch is the buffering of mini-batch operators.
type MiniBatch struct {
	Latency time.Duration // 'table.exec.mini-batch.allow-latency'
	Size    int64         // 'table.exec.mini-batch.size'
}

// MiniBatchAssigner marks where mini-batches start (after the sources), as in Flink's plans. Rows pass
// through unchanged: the mini-batch operators downstream apply their buffers by size, by latency, before
// watermarks and at the end of input.
type MiniBatchAssigner struct {
	Input    Node
	Interval time.Duration
}

func (n *MiniBatchAssigner) Fields() []Field      { return n.Input.Fields() }
func (n *MiniBatchAssigner) Inputs() []Node       { return []Node{n.Input} }
func (n *MiniBatchAssigner) Mode() changelog.Mode { return n.Input.Mode() }
func (n *MiniBatchAssigner) Describe() string {
	return fmt.Sprintf("MiniBatchAssigner(interval=[%dms], mode=[ProcTime])", n.Interval.Milliseconds())
}

// LocalGroupAggregate is the local phase of a two-phase aggregate: per mini-batch, each key's rows combined
// into one insert-only row of partial accumulators (Out: the keys, each call's partial columns, count1).
type LocalGroupAggregate struct {
	Input     Node
	Keys      []int
	Aggs      []exec.AggCall
	Out       []Field
	MiniBatch MiniBatch
}

func (n *LocalGroupAggregate) Fields() []Field      { return n.Out }
func (n *LocalGroupAggregate) Inputs() []Node       { return []Node{n.Input} }
func (n *LocalGroupAggregate) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *LocalGroupAggregate) Describe() string {
	in := n.Input.Fields()
	var keys, sel []string
	for i, k := range n.Keys {
		keys = append(keys, in[k].Name)
		sel = append(sel, n.Out[i].Name)
	}
	col := len(n.Keys)
	for _, a := range n.Aggs {
		names, _ := exec.AggPartialColumns(a)
		var outs []string
		for range names {
			outs = append(outs, n.Out[col].Name)
			col++
		}
		as := outs[0]
		if len(outs) > 1 {
			as = "(" + strings.Join(outs, ", ") + ")"
		}
		sel = append(sel, aggText(a, in)+" AS "+as)
	}
	sel = append(sel, "COUNT1(*) AS "+n.Out[col].Name)
	if len(n.Keys) == 0 {
		return fmt.Sprintf("LocalGroupAggregate(select=[%s])", strings.Join(sel, ", "))
	}
	return fmt.Sprintf("LocalGroupAggregate(groupBy=[%s], select=[%s])", strings.Join(keys, ", "), strings.Join(sel, ", "))
}

// GlobalGroupAggregate is the global phase of a two-phase aggregate: it merges the partials of its input (a
// LocalGroupAggregate) into per-key state and emits the results as the one-phase GroupAggregate would. Keys
// and Aggs are the one-phase aggregate's (over the local aggregate's input).
type GlobalGroupAggregate struct {
	Input Node // *LocalGroupAggregate
	Keys  []int
	Aggs  []exec.AggCall
	Out   []Field
	// InsertOnlyInput: the local aggregate's input is insert-only (MIN/MAX keep O(1) state).
	InsertOnlyInput bool
}

func (n *GlobalGroupAggregate) Fields() []Field { return n.Out }
func (n *GlobalGroupAggregate) Inputs() []Node  { return []Node{n.Input} }
func (n *GlobalGroupAggregate) Mode() changelog.Mode {
	if n.InsertOnlyInput {
		return changelog.Mode{Kinds: changelog.KindsOf(changelog.Insert, changelog.UpdateBefore, changelog.UpdateAfter)}
	}
	return changelog.Retract
}
func (n *GlobalGroupAggregate) Describe() string {
	in := n.Input.Fields()
	var keys, sel []string
	for i := range n.Keys {
		keys = append(keys, in[i].Name)
		sel = append(sel, n.Out[i].Name)
	}
	col := len(n.Keys)
	for i, a := range n.Aggs {
		names, _ := exec.AggPartialColumns(a)
		sel = append(sel, a.Func+"("+in[col].Name+") AS "+n.Out[len(n.Keys)+i].Name)
		col += len(names)
	}
	if len(n.Keys) == 0 {
		return fmt.Sprintf("GlobalGroupAggregate(select=[%s])", strings.Join(sel, ", "))
	}
	return fmt.Sprintf("GlobalGroupAggregate(groupBy=[%s], select=[%s])", strings.Join(keys, ", "), strings.Join(sel, ", "))
}

// aggOptions are the session's aggregation speed-up settings.
type aggOptions struct {
	miniBatch      *MiniBatch // nil: off
	phase          string     // AUTO, ONE_PHASE, TWO_PHASE
	splitDistinct  bool
	distinctBucket int64
}

// readAggOptions reads and checks the settings (Flink's checks: mini-batch needs a latency and a size
// above 0).
func readAggOptions(session map[string]string) (aggOptions, error) {
	o := aggOptions{phase: "AUTO", distinctBucket: 1024}
	if v := session["table.optimizer.agg-phase-strategy"]; v != "" {
		o.phase = strings.ToUpper(v)
	}
	if v := session["table.optimizer.distinct-agg.split.enabled"]; v != "" {
		o.splitDistinct = strings.EqualFold(v, "true")
	}
	if v := session["table.optimizer.distinct-agg.split.bucket-num"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("%w: 'table.optimizer.distinct-agg.split.bucket-num' must be a positive integer, got '%s'", ErrValidation, v)
		}
		o.distinctBucket = n
	}
	if !strings.EqualFold(session["table.exec.mini-batch.enabled"], "true") {
		return o, nil
	}
	mb := &MiniBatch{Size: -1}
	if v := session["table.exec.mini-batch.allow-latency"]; v != "" {
		d, err := options.ParseDuration(v)
		if err != nil {
			return o, fmt.Errorf("%w: 'table.exec.mini-batch.allow-latency': %v", ErrValidation, err)
		}
		mb.Latency = d
	}
	if v := session["table.exec.mini-batch.size"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return o, fmt.Errorf("%w: 'table.exec.mini-batch.size': %v", ErrValidation, err)
		}
		mb.Size = n
	}
	if mb.Latency.Milliseconds() <= 0 {
		return o, fmt.Errorf("%w: MiniBatch Latency must be greater than 0 ms. 'table.exec.mini-batch.enabled' is true: SET 'table.exec.mini-batch.allow-latency' to a positive duration (e.g. '5 s'), or SET 'table.exec.mini-batch.enabled' = 'false'", ErrValidation)
	}
	if mb.Size <= 0 {
		return o, fmt.Errorf("%w: MiniBatch Size must be greater than 0. 'table.exec.mini-batch.enabled' is true: SET 'table.exec.mini-batch.size' to a positive number of rows (e.g. '5000'), or SET 'table.exec.mini-batch.enabled' = 'false'", ErrValidation)
	}
	o.miniBatch = mb
	return o, nil
}

// physicalRewrite is the streaming program after the physical pass: mini-batch, two-phase aggregation and
// split distinct aggregation as the session's options ask.
func physicalRewrite(n Node, session map[string]string) (Node, []PhaseStep, error) {
	o, err := readAggOptions(session)
	if err != nil {
		return nil, nil, err
	}
	var rules []Rule
	if o.splitDistinct {
		rules = append(rules, splitDistinctRule{buckets: o.distinctBucket})
	}
	if o.miniBatch != nil && hasGroupAggregate(n) {
		rules = append(rules, miniBatchRule{mb: *o.miniBatch}, miniBatchAssignerRule{interval: o.miniBatch.Latency, underWatermark: sourcesUnderWatermark(n, false, nil)})
		if o.phase != "ONE_PHASE" {
			rules = append(rules, twoPhaseRule{})
		}
	}
	if len(rules) == 0 {
		return n, nil, nil
	}
	return Optimize(n, []Phase{{Name: "physical_rewrite", Rules: rules}})
}

// hasGroupAggregate reports a streaming group aggregate in the plan.
func hasGroupAggregate(n Node) bool {
	if a, ok := n.(*Aggregate); ok && !a.Batch {
		return true
	}
	for _, in := range n.Inputs() {
		if hasGroupAggregate(in) {
			return true
		}
	}
	return false
}
