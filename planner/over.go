package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func isOverAgg(e sql.Expr) (*sql.FuncCall, bool) {
	f, ok := e.(*sql.FuncCall)
	if !ok || f.Over == nil || !aggFuncs[f.Name] {
		return nil, false
	}
	return f, true
}

func hasOverAgg(s *sql.Select) bool {
	found := false
	for _, it := range s.Items {
		rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
			if _, ok := isOverAgg(e); ok {
				found = true
				return e, true
			}
			return nil, false
		})
	}
	return found
}

func windowSpecText(w *sql.WindowSpec) string {
	var b strings.Builder
	for _, e := range w.PartitionBy {
		b.WriteString(sql.FormatExpr(e) + ",")
	}
	b.WriteString("|")
	for _, o := range w.OrderBy {
		fmt.Fprintf(&b, "%s %v,", sql.FormatExpr(o.Expr), o.Desc)
	}
	return b.String() + "|" + w.Frame
}

// overAggregate plans aggregates with an OVER window (all with the same window) as an OverAggregate node over
// in; the calls become references to its result columns.
func (p *Planner) overAggregate(in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	if len(s.GroupBy) > 0 {
		return nil, nil, nil, sql.Errorf(s.P, ErrUnsupported, "OVER aggregates in an aggregating query are not supported yet; aggregate in a subquery first")
	}
	var calls []*sql.FuncCall
	for _, it := range s.Items {
		rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
			if f, ok := isOverAgg(e); ok {
				calls = append(calls, f)
				return e, true
			}
			return nil, false
		})
	}
	// OVER w refers to WINDOW w AS (...).
	for _, c := range calls {
		if c.Over.Ref == "" {
			continue
		}
		found := false
		for _, nw := range s.Windows {
			if strings.EqualFold(nw.Name, c.Over.Ref) {
				c.Over, found = nw.Spec, true
			}
		}
		if !found {
			return nil, nil, nil, sql.Errorf(c.Over.P, ErrValidation, "Window '%s' not found; define it with WINDOW %s AS (...)", c.Over.Ref, c.Over.Ref)
		}
	}
	// This pass plans the calls over the first call's window; calls over other windows are planned by
	// further passes, each an OverAggregate over the previous one.
	w := calls[0].Over
	var same []*sql.FuncCall
	for _, c := range calls {
		if windowSpecText(c.Over) == windowSpecText(w) {
			same = append(same, c)
		}
	}
	calls = same
	index := map[*sql.FuncCall]int{}
	for i, c := range calls {
		index[c] = i
	}
	if w.Ref != "" {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "named windows (OVER %s) are not supported yet", w.Ref)
	}
	if len(w.OrderBy) != 1 || w.OrderBy[0].Desc {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "OVER windows must be ordered by one time attribute, ascending (e.g. ORDER BY ts)")
	}
	oref, ok := unparen(w.OrderBy[0].Expr).(*sql.ColumnRef)
	if !ok {
		return nil, nil, nil, sql.Errorf(w.OrderBy[0].Expr.Position(), ErrUnsupported, "OVER windows must be ordered by a time attribute column")
	}
	orderCol, err := sc.resolve(oref)
	if err != nil {
		return nil, nil, nil, err
	}
	ot := sc.cols[orderCol].typ
	orderErr := sql.Errorf(oref.P, ErrValidation, "OVER windows' ordering in stream mode must be defined on a time attribute; %s is %s (declare WATERMARK FOR %s AS ...)", sc.cols[orderCol].name, ot, sc.cols[orderCol].name)
	if !ot.IsTimestamp() {
		return nil, nil, nil, orderErr
	}
	// Streaming mode needs a time attribute (a column with a watermark): checked by the physical pass.
	orderAttr := timeAttribute{name: sc.cols[orderCol].name, err: orderErr}
	var frame exec.OverFrame
	ftext := strings.ToUpper(w.Frame)
	switch {
	case ftext == "":
		frame.Unbounded = true
	case !strings.HasSuffix(ftext, "CURRENT ROW"):
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "OVER window frames must end at CURRENT ROW (got %s)", w.Frame)
	default:
		frame.Rows = strings.HasPrefix(ftext, "ROWS")
		if strings.Contains(ftext, "UNBOUNDED PRECEDING") {
			frame.Unbounded = true
		} else if w.FrameStart == nil {
			frame.Preceding = 0
		} else {
			x, err := p.b.expr(w.FrameStart, &scope{})
			if err != nil {
				return nil, nil, nil, err
			}
			v, err := x.Eval(nil)
			if err != nil || v.IsNull() || !expr.IsConstant(x) {
				return nil, nil, nil, sql.Errorf(w.FrameStart.Position(), ErrValidation, "the OVER frame's PRECEDING bound must be a constant")
			}
			switch {
			case frame.Rows && x.Type().IsIntegral():
				frame.Preceding = v.I
			case !frame.Rows && x.Type().Kind == types.IntervalDayTime:
				frame.Preceding = v.I
			default:
				return nil, nil, nil, sql.Errorf(w.FrameStart.Position(), ErrValidation, "ROWS frames take a row count and RANGE frames an INTERVAL, got %s", x.Type())
			}
		}
	}
	var partition []int
	for _, e := range w.PartitionBy {
		ref, ok := unparen(e).(*sql.ColumnRef)
		if !ok {
			return nil, nil, nil, sql.Errorf(e.Position(), ErrUnsupported, "PARTITION BY takes columns; compute %s in a subquery first", sql.FormatExpr(e))
		}
		c, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, nil, err
		}
		partition = append(partition, c)
	}
	// Pre-projection: the input columns, then the calls' arguments.
	fields := in.Fields()
	pre := identity(fields)
	preOut := append([]Field{}, fields...)
	var aggs []exec.AggCall
	for i, f := range calls {
		if f.Filter != nil {
			return nil, nil, nil, sql.Errorf(f.P, ErrUnsupported, "FILTER is not supported in OVER aggregates yet")
		}
		call := exec.AggCall{Func: f.Name, Distinct: f.Distinct, Filter: -1}
		if !(f.Name == "COUNT" && (f.Star || len(f.Args) == 0)) {
			for _, a := range f.Args {
				x, err := p.b.expr(a, sc)
				if err != nil {
					return nil, nil, nil, err
				}
				call.Args = append(call.Args, len(pre))
				call.ArgTypes = append(call.ArgTypes, x.Type())
				pre = append(pre, x)
				preOut = append(preOut, Field{Name: fmt.Sprintf("$over_arg%d", len(pre)), Type: x.Type()})
			}
		}
		t, err := exec.AggResultType(f.Name, f.Distinct, call.ArgTypes)
		if err != nil {
			return nil, nil, nil, sql.Errorf(f.P, ErrValidation, "%s", err.Error())
		}
		call.Type = t
		aggs = append(aggs, call)
		_ = i
	}
	preNode := project(in, pre, preOut)
	out := append([]Field{}, preOut...)
	nsc := &scope{cols: append([]scopeCol{}, sc.cols...)}
	for i := len(sc.cols); i < len(preOut); i++ {
		nsc.cols = append(nsc.cols, scopeCol{name: preOut[i].Name, typ: preOut[i].Type})
	}
	base := len(nsc.cols)
	for i, a := range aggs {
		name := fmt.Sprintf("$over%d", base+i)
		out = append(out, Field{Name: name, Type: a.Type})
		nsc.cols = append(nsc.cols, scopeCol{name: name, typ: a.Type})
	}
	node := &OverAggregate{Input: preNode, Partition: partition, OrderCol: orderCol, Frame: frame, Aggs: aggs, Out: out, Pos: w.P, OrderAttr: orderAttr}
	ns := *s
	ns.Items = nil
	for i, it := range s.Items {
		c := *it
		if it.Expr != nil {
			c.Expr = rewriteExpr(it.Expr, func(e sql.Expr) (sql.Expr, bool) {
				if f, ok := e.(*sql.FuncCall); ok {
					if i, mine := index[f]; mine {
						return &sql.ColumnRef{P: f.P, Parts: []string{fmt.Sprintf("$over%d", base+i)}}, true
					}
				}
				return nil, false
			})
			if c.Alias == "" && c.Expr != it.Expr {
				c.Alias = fmt.Sprintf("EXPR$%d", i)
			}
		}
		ns.Items = append(ns.Items, &c)
	}
	return node, nsc, &ns, nil
}
