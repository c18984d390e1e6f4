package planner

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// PushScanFilters hands a Calc's filter to the scan directly below it (connectors.FilterableSource: the
// kafka source, whose json value format then decodes the filter's fields first and the rest only for the
// rows that pass; issue 14 part 2). Only a scan with that Calc as its single reader takes it, and only a
// deterministic filter that reads some of the scan's columns and has a vector form. The Calc keeps the
// filter and still evaluates it; plans and EXPLAIN do not change (Flink's kafka connector does not push
// filters either). Call after PushProjections.
//
// A filter above a WatermarkAssigner (or the Calc of a table's computed columns below one) is not pushed:
// the assigner sits between the scan and the Calc, and it must see every row the scan reads, as in Flink,
// where the watermark is generated over all records (in the source once pushed into it) and the filter is
// evaluated above it; rows dropped in the scan would no longer advance the watermark, changing window
// results and late-data decisions. So the Nexmark-over-Kafka DDL (computed dateTime and its WATERMARK)
// keeps the plain path.
func PushScanFilters(roots []Node) {
	readers := map[*Scan]int{}
	calcs := map[*Scan]*Calc{}
	reused := map[*Scan]bool{}
	seen := map[Node]bool{}
	var walk func(n Node)
	walk = func(n Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			if sc, ok := in.(*Scan); ok {
				readers[sc]++
				if c, ok := n.(*Calc); ok {
					calcs[sc] = c
				}
			}
			walk(in)
		}
		if sc, ok := n.(*Scan); ok && sc.ReusedBy != nil {
			reused[sc.ReusedBy] = true
		}
	}
	for _, r := range roots {
		if sc, ok := r.(*Scan); ok {
			readers[sc]++ // a root scan's reader is the sink
		}
		walk(r)
	}
	for sc, c := range calcs {
		if readers[sc] != 1 || reused[sc] || sc.ReusedBy != nil || c.Filter == nil || !deterministic(c.Filter) {
			continue
		}
		fs, ok := sc.Source.(connectors.FilterableSource)
		if !ok {
			continue
		}
		in := make([]*colNeed, len(sc.Out))
		if !reads(c.Filter, in, needAll) {
			continue
		}
		ts := make([]types.Type, len(sc.Out))
		for i, f := range sc.Out {
			ts[i] = f.Type
		}
		p := projectionOf(in, ts)
		if p == nil {
			continue // the filter reads every column: nothing is left to decode later
		}
		if f := exec.CompileScanFilter(c.Filter); f != nil {
			fs.ApplyFilter(p, f)
		}
	}
}

// deterministic reports whether x evaluates to the same value for the same row: column references,
// literals and deterministic built-in calls, casts, CASE and IN over them (no UDF, RAND, CURRENT_TIMESTAMP).
func deterministic(x expr.Expr) bool {
	var kids []expr.Expr
	if _, ok := expr.ColumnIndex(x); ok {
		return true
	}
	if _, ok := expr.LiteralOf(x); ok {
		return true
	}
	if _, args, ok := expr.CallParts(x); ok {
		kids = args
	} else if op, _, _, ok := expr.CastParts(x); ok {
		kids = []expr.Expr{op}
	} else if conds, results, els, ok := expr.CaseParts(x); ok {
		kids = append(append(kids, conds...), results...)
		if els != nil {
			kids = append(kids, els)
		}
	} else if op, list, _, ok := expr.InListParts(x); ok {
		kids = append([]expr.Expr{op}, list...)
	} else {
		return false
	}
	for _, k := range kids {
		if !deterministic(k) {
			return false
		}
	}
	return true
}
