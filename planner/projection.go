package planner

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Projection pushdown (Flink's PushProjectIntoTableSourceScanRule, and its nested-field form): after the
// physical pass, the plan is walked from the sink down, tracking which output columns of each node are read
// and, for ROW columns read only through field access (bid.price), which members. A source that can skip
// data (connectors.ProjectableSource: the kafka source, whose json value format then skips fields and ROW
// members without materializing them; filesystem, nexmark, datagen) is told what its scan's readers need,
// and a lookup join's connectors.ProjectableLookupSource what is read of the dimension columns. The scan keeps its row width;
// unread columns are NULL. The walk looks through projections, filters, watermark assigners (the rowtime
// and what the watermark expression reads are kept), unions (each input is read as the union is), OVER
// aggregates, MATCH_RECOGNIZE, lookup joins and window table functions (projection_shapes.go); other
// nodes (joins, aggregates, ranks, ...) read every column of their inputs, so the pushdown is exact for
// those shapes and conservative elsewhere. The projection handed to a source is kept on its scan
// (Scan.Pushed) for EXPLAIN VERBOSE.

// colNeed is what is read of one column: nil nothing, all the whole value, else the members in sub.
type colNeed struct {
	all bool
	sub []*colNeed
}

var needAll = &colNeed{all: true}

// merge adds what add reads to what is read of the column at *slot.
func merge(slot **colNeed, add *colNeed) {
	switch {
	case add == nil:
	case *slot == nil:
		*slot = add
	case (*slot).all || add.all:
		*slot = needAll
	default:
		n := &colNeed{sub: append([]*colNeed(nil), (*slot).sub...)}
		for i, s := range add.sub {
			for len(n.sub) <= i {
				n.sub = append(n.sub, nil)
			}
			merge(&n.sub[i], s)
		}
		*slot = n
	}
}

// member returns a need for field i of a ROW, read as inner.
func member(i int, inner *colNeed) *colNeed {
	n := &colNeed{sub: make([]*colNeed, i+1)}
	n.sub[i] = inner
	return n
}

// reads adds what x reads to in (the needs of x's input columns), x's value being read as out. It reports
// false when x holds an expression kind it cannot look into.
func reads(x expr.Expr, in []*colNeed, out *colNeed) bool {
	if c, ok := expr.ColumnIndex(x); ok {
		merge(&in[c], out)
		return true
	}
	if row, i, ok := expr.FieldAccess(x); ok {
		return reads(row, in, member(i, out))
	}
	cs, known := expr.Children(x)
	if !known {
		return false
	}
	for _, c := range cs {
		if !reads(c, in, needAll) {
			return false
		}
	}
	return true
}

// PushProjections walks the physical plans of a statement (or statement set), after ReuseSources, and tells
// projectable sources what their scans' readers need: for a scan shared by several readers, what any of
// them needs.
func PushProjections(roots []Node) {
	w := &needWalk{scans: map[*Scan][]*colNeed{}, all: map[*Scan]bool{}, dims: map[*LookupJoin][]*colNeed{}, allDims: map[*LookupJoin]bool{}}
	for _, r := range roots {
		w.push(r, nil)
	}
	w.pushLookups()
	for sc, need := range w.scans {
		if w.all[sc] {
			continue
		}
		ps, ok := sc.Source.(connectors.ProjectableSource)
		if !ok {
			continue
		}
		ts := make([]types.Type, len(sc.Out))
		for i, f := range sc.Out {
			ts[i] = f.Type
		}
		if p := projectionOf(need, ts); p != nil {
			ps.ApplyProjection(p)
			sc.Pushed = p
		}
	}
}

// needWalk collects, per scan, the union of what its readers need (all: some reader needs every column),
// and the same per lookup join of its dimension columns (dims, allDims).
type needWalk struct {
	scans   map[*Scan][]*colNeed
	all     map[*Scan]bool
	dims    map[*LookupJoin][]*colNeed
	allDims map[*LookupJoin]bool
}

// push visits n whose output columns are read as need (nil: all of them).
func (w *needWalk) push(n Node, need []*colNeed) {
	switch x := n.(type) {
	case *Calc:
		in := make([]*colNeed, len(x.Input.Fields()))
		ok := x.Filter == nil || reads(x.Filter, in, needAll)
		for i, p := range x.Projects {
			if !ok {
				break
			}
			out := needAll
			if need != nil {
				out = need[i]
			}
			if out != nil {
				ok = reads(p, in, out)
			}
		}
		if !ok {
			in = nil
		}
		w.push(x.Input, in)
	case *WatermarkAssigner:
		var in []*colNeed
		if need != nil {
			in = append([]*colNeed(nil), need...)
			if !reads(x.Expr, in, needAll) {
				in = nil
			}
			if i := fieldIndex(x.Input.Fields(), x.Rowtime); in != nil && i >= 0 {
				merge(&in[i], needAll)
			}
		}
		w.push(x.Input, in)
	case *MiniBatchAssigner:
		w.push(x.Input, need)
	case *Union:
		for _, in := range x.Ins {
			w.push(in, append([]*colNeed(nil), need...))
		}
	case *OverAggregate:
		w.push(x.Input, overNeeds(x, need))
	case *MatchRecognize:
		w.push(x.Input, matchNeeds(x))
	case *LookupJoin:
		w.dimNeeds(x, need)
		w.push(x.Input, lookupNeeds(x, need))
	case *WindowTVF:
		w.push(x.Input, windowNeeds(x, need))
	case *Scan:
		if need == nil {
			w.all[x] = true
			return
		}
		acc := w.scans[x]
		if acc == nil {
			acc = make([]*colNeed, len(x.Out))
		}
		for i, nd := range need {
			merge(&acc[i], nd)
		}
		w.scans[x] = acc
	default:
		for _, in := range n.Inputs() {
			w.push(in, nil)
		}
	}
}

func fieldIndex(fs []Field, name string) int {
	for i, f := range fs {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// projectionOf converts the needs of columns (or ROW members) of types ts into a formats.Projection; nil
// when everything is read.
func projectionOf(need []*colNeed, ts []types.Type) *formats.Projection {
	p := &formats.Projection{Need: make([]bool, len(ts)), Sub: make([]*formats.Projection, len(ts))}
	partial := false
	for i := range ts {
		var n *colNeed
		if i < len(need) {
			n = need[i]
		}
		switch {
		case n == nil:
			partial = true
		case n.all:
			p.Need[i] = true
		default:
			p.Need[i] = true
			if ts[i].Kind != types.Row {
				continue // a member path into a non-ROW cannot happen; read the whole value
			}
			sub := make([]types.Type, len(ts[i].Fields))
			for k, f := range ts[i].Fields {
				sub[k] = f.Type
			}
			p.Sub[i] = projectionOf(n.sub, sub)
			if p.Sub[i] == nil {
				continue
			}
			partial = true
		}
	}
	if !partial {
		return nil
	}
	return p
}
