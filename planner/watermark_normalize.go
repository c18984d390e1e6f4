package planner

import (
	"slices"

	"github.com/sluicesql/sluice/expr"
)

// watermarkBelowNormalize places a table's WATERMARK below the ChangelogNormalize of its upsert scan, as
// Flink pushes it into the source (SupportsWatermarkPushDown): the binder puts the WatermarkAssigner over
// the scan and its computed columns, and the physical pass puts the ChangelogNormalize right over the scan
// (physicalScan), so the assigner would see the normalized rows of all partitions with one highest row
// time, and the versions of a partition read late would be late at random. Below the normalize it reads the
// scan through projections only, as over a plain Kafka table, so the engine tracks watermarks per split (per
// partition, the minimum over partitions, idle timeout, alignment) and in every source subtask; the
// normalize forwards them (its keyed subtasks take the minimum over their channels).
//
// The plan w → Calcs (computed columns, no filter) → ChangelogNormalize → Scan becomes
// ChangelogNormalize → w → Calcs → Scan, the normalize's keys and metadata columns renumbered through the
// Calcs: a -D row carries the delete message's values for the metadata columns and for the computed
// columns that read metadata columns only (computed from the message, as they were above the normalize).
// Anything else is returned unchanged (a key the Calcs do not pass through as a plain column keeps
// the old shape).
func watermarkBelowNormalize(w *WatermarkAssigner) Node {
	var calcs []*Calc // top down
	n := w.Input
	for {
		c, ok := n.(*Calc)
		if !ok {
			break
		}
		if c.Filter != nil {
			return w
		}
		calcs = append(calcs, c)
		n = c.Input
	}
	cn, ok := n.(*ChangelogNormalize)
	if !ok || cn.Batch {
		return w
	}
	if _, ok := cn.Input.(*Scan); !ok {
		return w
	}
	keys := make([]int, 0, len(cn.Keys))
	for _, k := range cn.Keys {
		c, ok := colThroughCalcs(k, calcs)
		if !ok {
			return w
		}
		keys = append(keys, c)
	}
	meta := messageCols(cn.MetaCols, calcs)
	in := cn.Input
	for i := len(calcs) - 1; i >= 0; i-- {
		c := *calcs[i]
		c.Input = in
		in = &c
	}
	ww := *w
	ww.Input = in
	return &ChangelogNormalize{Input: &ww, Keys: keys, Batch: cn.Batch, MetaCols: meta}
}

// messageCols returns the columns of the top Calc's output (calcs top down) whose values a delete message
// gives: the metadata columns meta of the bottom Calc's input, passed through or read (alone, without other
// columns) by an expression. A computed column reading metadata and physical columns takes the stored
// row's value, as the physical columns are the stored row's.
func messageCols(meta []int, calcs []*Calc) []int {
	msg := map[int]bool{}
	for _, m := range meta {
		msg[m] = true
	}
	for i := len(calcs) - 1; i >= 0; i-- {
		next := map[int]bool{}
		for j, p := range calcs[i].Projects {
			if reads, ok := readsOnly(p, msg); reads && ok {
				next[j] = true
			}
		}
		msg = next
	}
	out := make([]int, 0, len(msg))
	for c := range msg {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// readsOnly reports whether x reads a column (reads) and only columns of cols (ok).
func readsOnly(x expr.Expr, cols map[int]bool) (reads, ok bool) {
	if c, isCol := expr.ColumnIndex(x); isCol {
		return true, cols[c]
	}
	children, known := expr.Children(x)
	if !known {
		return false, false
	}
	for _, ch := range children {
		r, o := readsOnly(ch, cols)
		if !o {
			return false, false
		}
		reads = reads || r
	}
	return reads, true
}

// colThroughCalcs returns the position in the top Calc's output of column col of the bottom Calc's input
// (calcs top down), when the Calcs pass it through as a plain column reference.
func colThroughCalcs(col int, calcs []*Calc) (int, bool) {
	for i := len(calcs) - 1; i >= 0; i-- {
		found := false
		for j, p := range calcs[i].Projects {
			if c, ok := expr.ColumnIndex(p); ok && c == col {
				col, found = j, true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return col, true
}

// PreWatermarkPushdown returns node n as the plans of Sluice before watermarkBelowNormalize had it (the
// WatermarkAssigner of an upsert scan above its ChangelogNormalize), and whether that differs: operator ids
// are hashes of a node's subtree as EXPLAIN prints it, so restore also looks a part up by the id of this
// shape, and savepoints taken before keep restoring (engine/watermarks.go: preShapeID). For the assigner it
// is the assigner above the normalize, for the normalize the normalize right over the scan, for the nodes
// above them the same nodes over the old shape.
func PreWatermarkPushdown(n Node) (Node, bool) {
	switch x := n.(type) {
	case *WatermarkAssigner:
		if sc, calcs := pushedWatermark(x); sc != nil {
			return preAssigner(x, sc, calcs), true
		}
	case *ChangelogNormalize:
		if w, ok := x.Input.(*WatermarkAssigner); ok {
			if sc, _ := pushedWatermark(w); sc != nil {
				return preNormalize(sc), true
			}
		}
	}
	ins := n.Inputs()
	olds := make([]Node, len(ins))
	changed := false
	for i, in := range ins {
		olds[i] = in
		if cn, ok := in.(*ChangelogNormalize); ok {
			if w, ok := cn.Input.(*WatermarkAssigner); ok {
				if sc, calcs := pushedWatermark(w); sc != nil {
					olds[i], changed = preAssigner(w, sc, calcs), true // the assigner stood here
					continue
				}
			}
		}
		if o, ok := PreWatermarkPushdown(in); ok {
			olds[i], changed = o, true
		}
	}
	if !changed {
		return n, false
	}
	return withInputs(n, olds), true
}

// pushedWatermark returns the upsert scan under w through Calcs without a filter (top down), when
// watermarkBelowNormalize placed w there.
func pushedWatermark(w *WatermarkAssigner) (*Scan, []*Calc) {
	var calcs []*Calc
	n := w.Input
	for {
		switch x := n.(type) {
		case *Calc:
			if x.Filter != nil {
				return nil, nil
			}
			calcs = append(calcs, x)
			n = x.Input
		case *Scan:
			if x.Source == nil || len(x.Source.ChangelogMode().UpsertKey) == 0 {
				return nil, nil
			}
			return x, calcs
		default:
			return nil, nil
		}
	}
}

// preNormalize is the ChangelogNormalize that physicalScan puts over upsert scan sc.
func preNormalize(sc *Scan) *ChangelogNormalize {
	return &ChangelogNormalize{Input: sc, Keys: sc.Source.ChangelogMode().UpsertKey, MetaCols: metaCols(sc.Table)}
}

// preAssigner is w with its Calcs over the ChangelogNormalize of sc.
func preAssigner(w *WatermarkAssigner, sc *Scan, calcs []*Calc) *WatermarkAssigner {
	var in Node = preNormalize(sc)
	for i := len(calcs) - 1; i >= 0; i-- {
		c := *calcs[i]
		c.Input = in
		in = &c
	}
	ww := *w
	ww.Input = in
	return &ww
}
