package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
)

// Explain prints a physical plan tree as Flink does (+- and :- connectors). With modes, each node gets
// ", changelogMode=[I,UB,UA]". (Checkpoints derive operator ids from this text: keep it stable.)
func Explain(root Node, modes bool) string {
	return explainPlan(root, modes, false)
}

// explainPlan is Explain; with pushed, a scan also prints the projection pushed into its source
// (projection_explain.go), as EXPLAIN VERBOSE does. Checkpoints' operator ids come from the text without it.
func explainPlan(root Node, modes, pushed bool) string {
	if s, ok := root.(*Sink); ok {
		if m, ok := s.Input.(*SinkMaterializer); ok { // Flink prints it as the sink's upsertMaterialize=[true]
			root = withInputs(s, []Node{m.Input})
		}
	}
	return explainTree(root, func(n Node) string {
		line := n.Describe()
		if sc, ok := n.(*Scan); ok && pushed {
			line = sc.describePushed()
		}
		if lj, ok := n.(*LookupJoin); ok && pushed {
			line = lj.describePushed()
		}
		if modes {
			line = strings.TrimSuffix(line, ")") + ", changelogMode=[" + n.Mode().Kinds.String() + "])"
		}
		return line
	})
}

// ExplainLogical prints a logical plan (as bound, or between rewrite phases) with Flink's logical operator
// names (LogicalTableScan, LogicalProject, LogicalAggregate, ...), as in EXPLAIN's Abstract Syntax Tree
// section.
func ExplainLogical(root Node) string {
	return explainTree(root, func(n Node) string {
		d := n.Describe()
		i := strings.IndexByte(d, '(')
		if i < 0 {
			return d
		}
		return logicalName(n, d[:i]) + d[i:]
	})
}

// logicalName is the name of a node in a logical plan.
func logicalName(n Node, physical string) string {
	switch n.(type) {
	case *Scan:
		return "LogicalTableScan"
	case *Values:
		return "LogicalValues"
	case *Calc:
		return "LogicalCalc"
	case *Project:
		return "LogicalProject"
	case *Filter:
		return "LogicalFilter"
	case *Aggregate:
		return "LogicalAggregate"
	case *Join:
		return "LogicalJoin"
	case *Union:
		return "LogicalUnion"
	case *Sink:
		return "LogicalSink"
	case *SortLimit, *Sort, *TopN, *Limit:
		return "LogicalSort"
	case *WindowTVF:
		return "LogicalWindowTableFunction"
	case *WindowAggregate:
		return "LogicalWindowAggregate"
	case *InSubquery:
		return "LogicalInSubquery"
	case *SubqueryJoin:
		return "LogicalSubqueryFilter"
	case *GroupWindow:
		return "LogicalGroupWindow"
	}
	return "Logical" + physical
}

// explainTree prints a plan tree, one line per node (describe), with Flink's +- and :- connectors.
func explainTree(root Node, describe func(Node) string) string {
	var b strings.Builder
	var walk func(n Node, prefix string, last bool, top bool)
	walk = func(n Node, prefix string, last bool, top bool) {
		line := describe(n)
		if top {
			b.WriteString(line + "\n")
		} else {
			conn := ":- "
			if last {
				conn = "+- "
			}
			b.WriteString(prefix + conn + line + "\n")
		}
		ins := n.Inputs()
		childPrefix := prefix
		if !top {
			if last {
				childPrefix += "   "
			} else {
				childPrefix += ":  "
			}
		}
		for i, in := range ins {
			walk(in, childPrefix, i == len(ins)-1, false)
		}
	}
	walk(root, "", true, true)
	return b.String()
}

// ExplainText prints EXPLAIN's sections for the statements of a trace, as Flink does: the Abstract Syntax
// Tree (the logical plans as bound), the Optimized Physical Plan (with changelog modes when modes is set;
// mode names the runtime mode), and the Optimized Execution Plan (what the engine runs). With verbose, the
// plan after every rewrite phase that changed it, after the physical pass and, when a source was told to skip
// columns, after projection pushdown (scans print project=[...]) comes between the first two (as DataFusion's
// EXPLAIN VERBOSE).
func ExplainText(t *Trace, mode string, modes, verbose bool) string {
	var b strings.Builder
	b.WriteString("== Abstract Syntax Tree ==\n")
	for _, st := range t.Statements {
		b.WriteString(ExplainLogical(st.AST))
	}
	if verbose {
		for _, st := range t.Statements {
			for _, step := range st.Steps {
				fmt.Fprintf(&b, "\n== Plan after %s ==\n", step.Phase)
				b.WriteString(ExplainLogical(step.Plan))
			}
			b.WriteString("\n== Plan after physical ==\n")
			b.WriteString(Explain(st.Physical, true))
			if pushedAny(st.Physical) {
				b.WriteString("\n== Plan after projection pushdown ==\n")
				b.WriteString(explainPlan(st.Physical, true, true))
			}
		}
	}
	view := func(n Node) Node { return n }
	switch mode {
	case "streaming":
		view = withExchanges // explain_exchange.go
	case "batch":
		view = withBatchExchanges
	}
	fmt.Fprintf(&b, "\n== Optimized Physical Plan (%s) ==\n", mode)
	for _, st := range t.Statements {
		b.WriteString(explainPlan(view(st.Physical), modes, true))
	}
	b.WriteString("\n== Optimized Execution Plan ==\n")
	for _, st := range t.Statements {
		b.WriteString(explainPlan(view(executionView(st.Physical)), false, true))
	}
	return strings.TrimRight(b.String(), "\n")
}

// executionView returns the plan as the engine runs it: a batch aggregate's input sort is a node of its own.
func executionView(n Node) Node {
	ins := n.Inputs()
	if len(ins) == 0 {
		return n
	}
	out := make([]Node, len(ins))
	for i, in := range ins {
		out[i] = executionView(in)
	}
	n = withInputs(n, out)
	if a, ok := n.(*Aggregate); ok && len(a.InputSort) > 0 {
		a.Input = &inputSort{Input: a.Input, Keys: a.InputSort}
	}
	return n
}

// inputSort is the sort the engine runs before a batch aggregate (EXPLAIN's execution plan only).
type inputSort struct {
	Input Node
	Keys  []exec.SortKey
}

func (n *inputSort) Fields() []Field      { return n.Input.Fields() }
func (n *inputSort) Inputs() []Node       { return []Node{n.Input} }
func (n *inputSort) Mode() changelog.Mode { return n.Input.Mode() }
func (n *inputSort) Describe() string {
	return fmt.Sprintf("Sort(orderBy=[%s])", sortText(n.Keys, n.Input.Fields()))
}
