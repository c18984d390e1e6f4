package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/planner"
)

// Warnings for a 'scan.parallelism' that a job does not honour. The option is validated by the connectors
// that accept it (kafka, upsert-kafka, datagen); a job reads such a table with that many source subtasks
// when it can (pipeline.go; in batch, the tasks of a source stage: batch_tasks.go), and says so when it
// cannot, instead of ignoring the option silently: in batch mode outside a split source stage, for a table
// read once for several branches (source reuse), and under scale-out.

// scanParallelismWarnings returns a warning for every table of the plan whose 'scan.parallelism' is above 1
// while its source runs as one instance in graph g (nil: the job runs under scale-out).
func scanParallelismWarnings(g *graph, roots []planner.Node, batch bool) []string {
	var scans []*planner.Scan
	seen := map[planner.Node]bool{}
	reused := map[*planner.Scan]bool{}
	var walk func(n planner.Node)
	walk = func(n planner.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		if sc, ok := n.(*planner.Scan); ok {
			scans = append(scans, sc)
		}
		if g != nil && g.parents[n] > 1 {
			if sc := scanBelowChain(n); sc != nil {
				reused[sc] = true
			}
		}
		for _, in := range n.Inputs() {
			walk(in)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	var out []string
	for _, sc := range scans {
		v, ok := sc.Table.Options["scan.parallelism"]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 1 {
			continue
		}
		var why string
		switch {
		case g == nil:
			why = "under scale-out ('sluice.scale-out.enabled'): each process reads the splits the consumer group assigns it with one subtask; start more processes to read with more"
		case batch && g.splitInStages(sc):
			continue
		case batch:
			why = "in batch mode here: a batch job reads a source as several tasks only when the job (INSERT or SELECT) runs in stages ('execution.batch-shuffle-mode' = 'ALL_EXCHANGES_BLOCKING' and a restart strategy) and the table's stage reads only splittable scans (one, or a UNION ALL of several) under projections and filters, without a WATERMARK"
		case g.runsAsSubtasks(sc):
			continue
		case reused[sc]:
			why = "here: the table is read once for several branches of the job (source reuse, 'table.optimizer.reuse-source-enabled'), and that shared source runs as one instance"
		default:
			why = "here: the source runs as one instance in this job"
		}
		out = append(out, fmt.Sprintf("[WARNING] Table %s: 'scan.parallelism' = '%d' has no effect %s. Remove the option to silence this warning.",
			sc.Table.Name, n, why))
	}
	return out
}

// scanBelowChain returns the scan under n when only projections, filters and watermark assigners lie
// between (the nodes a source subtask chains), else nil.
func scanBelowChain(n planner.Node) *planner.Scan {
	for {
		switch x := n.(type) {
		case *planner.Calc:
			n = x.Input
		case *planner.WatermarkAssigner:
			n = x.Input
		case *planner.Scan:
			return x
		default:
			return nil
		}
	}
}

// splitInStages reports whether a batch job cut into stages reads scan sc as several tasks.
func (g *graph) splitInStages(sc *planner.Scan) bool {
	if g == nil || g.staged == nil {
		return false
	}
	for _, st := range g.staged.stages {
		for _, s := range st.split {
			if s.scan == sc && !s.single && len(st.tasks) > 1 {
				return true
			}
		}
	}
	return false
}

// runsAsSubtasks reports whether the graph runs scan sc's source as several subtasks.
func (g *graph) runsAsSubtasks(sc *planner.Scan) bool {
	for _, sr := range g.sources {
		if sr.src == sc.Source && len(sr.subs) > 0 {
			return true
		}
	}
	return false
}

// noteScanParallelism prints the warnings of scanParallelismWarnings.
func (s *Session) noteScanParallelism(g *graph, roots []planner.Node, batch bool) {
	for _, w := range scanParallelismWarnings(g, roots, batch) {
		fmt.Fprintln(s.cfg.Notice, w)
	}
}
