package planner

import (
	"fmt"
	"math"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func isOverAgg(e sql.Expr) (*sql.FuncCall, bool) {
	f, ok := e.(*sql.FuncCall)
	if !ok || f.Over == nil || !aggFuncs[f.Name] && !isOffsetFunc(f.Name) {
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
	// further passes, each an OverAggregate over the previous one. LAG and LEAD calls are planned apart,
	// one OverAggregate per function and offset (over_offset.go).
	group := func(c *sql.FuncCall) (string, error) {
		if !isOffsetFunc(c.Name) {
			return windowSpecText(c.Over), nil
		}
		g, err := p.offsetGroup(c, sc)
		return windowSpecText(c.Over) + g, err
	}
	w := calls[0].Over
	first, err := group(calls[0])
	if err != nil {
		return nil, nil, nil, err
	}
	offsetFn := ""
	if isOffsetFunc(calls[0].Name) {
		offsetFn = calls[0].Name
	}
	var same []*sql.FuncCall
	for _, c := range calls {
		g, err := group(c)
		if err != nil {
			return nil, nil, nil, err
		}
		if g == first {
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
	// Pre-projection: the input columns, then the ORDER BY and PARTITION BY expressions that are not columns,
	// then the calls' arguments.
	fields := in.Fields()
	pre := identity(fields)
	preOut := append([]Field{}, fields...)
	orderCol, order, orderAttr, err := p.overOrder(w, sc, func(x expr.Expr, name string) int {
		pre = append(pre, x)
		preOut = append(preOut, Field{Name: fmt.Sprintf("$over_ord%d", len(pre)), Type: x.Type()})
		return len(pre) - 1
	})
	if err != nil {
		return nil, nil, nil, err
	}
	// The order columns' types (an ORDER BY expression is a column of the pre-projection).
	colType := func(c int) (string, types.Type) {
		if c < len(sc.cols) {
			return sc.cols[c].name, sc.cols[c].typ
		}
		return preOut[c].Name, preOut[c].Type
	}
	frame, err := p.overFrame(w, func() (string, types.Type) { return colType(orderCol) }, order)
	if err != nil {
		return nil, nil, nil, err
	}
	if offsetFn != "" {
		n, err := p.offsetOf(calls[0], sc)
		if err != nil {
			return nil, nil, nil, err
		}
		frame = offsetFrame(offsetFn, n)
	}
	// PARTITION BY columns; an expression is projected into a column of the pre-projection, as Flink's
	// planner does (a Calc below the OverAggregate).
	var partition []int
	for _, e := range w.PartitionBy {
		if ref, ok := unparen(e).(*sql.ColumnRef); ok {
			c, err := sc.resolve(ref)
			if err != nil {
				return nil, nil, nil, err
			}
			partition = append(partition, c)
			continue
		}
		x, err := p.b.expr(e, sc)
		if err != nil {
			return nil, nil, nil, err
		}
		pre = append(pre, x)
		preOut = append(preOut, Field{Name: fmt.Sprintf("$over_part%d", len(pre)), Type: x.Type()})
		partition = append(partition, len(pre)-1)
	}
	var aggs []exec.AggCall
	for i, f := range calls {
		if offsetFn != "" {
			call, err := p.offsetCall(f, sc, func(x expr.Expr) int {
				pre = append(pre, x)
				preOut = append(preOut, Field{Name: fmt.Sprintf("$over_arg%d", len(pre)), Type: x.Type()})
				return len(pre) - 1
			})
			if err != nil {
				return nil, nil, nil, err
			}
			aggs = append(aggs, call)
			continue
		}
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
	node := &OverAggregate{Input: preNode, Partition: partition, OrderCol: orderCol, Order: order, Frame: frame, Aggs: aggs, Out: out, Pos: w.P, OrderAttr: orderAttr}
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

// overOrder binds an OVER window's ORDER BY. One time column, ascending, is Flink's streaming form: the
// column comes back with order nil (the physical pass checks that it is a time attribute in streaming mode).
// Any other ORDER BY, of columns in either direction (NULLs first for ASC and last for DESC unless NULLS
// FIRST/LAST says otherwise, as Flink), comes back as order, orderCol being its first column: batch mode
// sorts the rows of a partition by it (exec.OverConfig.Order); the physical pass refuses it in streaming
// mode with attr's error, Flink's.
//
// An ORDER BY expression that is not a column is projected into a column before the OVER (addExpr appends it
// to the pre-projection and returns its column), as Flink's planner does; it is no time attribute, so
// streaming mode refuses it.
func (p *Planner) overOrder(w *sql.WindowSpec, sc *scope, addExpr func(x expr.Expr, name string) int) (orderCol int, order []exec.SortKey, attr timeAttribute, err error) {
	if len(w.OrderBy) == 0 {
		return 0, nil, attr, sql.Errorf(w.P, ErrUnsupported, "OVER windows must have an ORDER BY (e.g. ORDER BY ts)")
	}
	var cols []int
	var names []string
	var typs []types.Type
	for _, o := range w.OrderBy {
		if ref, ok := unparen(o.Expr).(*sql.ColumnRef); ok {
			c, err := sc.resolve(ref)
			if err != nil {
				return 0, nil, attr, err
			}
			cols, names, typs = append(cols, c), append(names, sc.cols[c].name), append(typs, sc.cols[c].typ)
			continue
		}
		x, err := p.b.expr(o.Expr, sc)
		if err != nil {
			return 0, nil, attr, err
		}
		text := sql.FormatExpr(o.Expr)
		cols, names, typs = append(cols, addExpr(x, text)), append(names, text), append(typs, x.Type())
	}
	orderCol = cols[0]
	o0 := w.OrderBy[0]
	ct := scopeCol{name: names[0], typ: typs[0]}
	attr = timeAttribute{name: ct.name, err: sql.Errorf(o0.Expr.Position(), ErrValidation, "OVER windows' ordering in stream mode must be defined on a time attribute; %s is %s (declare WATERMARK FOR %s AS ...)", ct.name, ct.typ, ct.name)}
	if _, isCol := unparen(o0.Expr).(*sql.ColumnRef); !isCol {
		attr.err = sql.Errorf(o0.Expr.Position(), ErrValidation, "OVER windows' ordering in stream mode must be defined on a time attribute; %s is an expression (%s), which is none: order by a column declared with WATERMARK FOR", ct.name, ct.typ)
		attr.name = ""
	}
	if len(cols) == 1 && !o0.Desc && o0.NullsFirst == nil && ct.typ.IsTimestamp() {
		return orderCol, nil, attr, nil
	}
	switch {
	case len(cols) > 1:
		attr.err = sql.Errorf(w.OrderBy[1].P, ErrValidation, "The window can only be ordered by a single time column in stream mode (ORDER BY ts); batch mode takes several columns")
	case o0.Desc && ct.typ.IsTimestamp():
		attr.err = sql.Errorf(o0.P, ErrValidation, "The window can only be ordered in ASCENDING mode in stream mode; batch mode takes DESC")
	}
	for i, o := range w.OrderBy {
		k := exec.SortKey{Col: cols[i], Desc: o.Desc, NullsFirst: !o.Desc}
		if o.NullsFirst != nil {
			k.NullsFirst = *o.NullsFirst
		}
		order = append(order, k)
	}
	return orderCol, order, attr, nil
}

// checkFrameBound checks the type of a frame's PRECEDING bound against the order key (named kname, of type
// kt): ROWS frames take a row count; RANGE frames, as Flink's (one ORDER BY key), an INTERVAL DAY TO SECOND
// over a TIMESTAMP or DATE key and a number over a numeric key (a whole number over an integral key, an
// exact number over a DECIMAL key).
func checkFrameBound(pos sql.Pos, rows bool, bt types.Type, kname string, kt types.Type, order []exec.SortKey) error {
	if rows {
		if !bt.IsIntegral() {
			return sql.Errorf(pos, ErrValidation, "ROWS frames take a row count, got %s", bt)
		}
		return nil
	}
	if len(order) > 1 {
		return sql.Errorf(pos, ErrValidation, "RANGE frames with a PRECEDING or FOLLOWING offset need exactly one ORDER BY column; use ROWS or order by one column")
	}
	switch {
	case (kt.IsTimestamp() || kt.Kind == types.Date) && bt.Kind == types.IntervalDayTime:
		return nil
	case kt.IsTimestamp() || kt.Kind == types.Date:
		return sql.Errorf(pos, ErrValidation, "RANGE frames over %s (%s) take an INTERVAL DAY TO SECOND, got %s", kname, kt, bt)
	case kt.IsIntegral() && bt.IsIntegral():
		return nil
	case kt.IsIntegral():
		return sql.Errorf(pos, ErrValidation, "RANGE frames over %s (%s) take a whole number, got %s", kname, kt, bt)
	case kt.Kind == types.Decimal && (bt.IsIntegral() || bt.Kind == types.Decimal):
		return nil
	case kt.Kind == types.Decimal:
		return sql.Errorf(pos, ErrValidation, "RANGE frames over %s (%s) take an exact number (e.g. 1.5), got %s", kname, kt, bt)
	case (kt.Kind == types.Double || kt.Kind == types.Float) && bt.IsNumeric():
		return nil
	case kt.Kind == types.Double || kt.Kind == types.Float:
		return sql.Errorf(pos, ErrValidation, "RANGE frames over %s (%s) take a number, got %s", kname, kt, bt)
	}
	return sql.Errorf(pos, ErrUnsupported, "RANGE frames with a PRECEDING or FOLLOWING offset over %s (%s) are not supported: order by a numeric, DATE or TIMESTAMP column, or use ROWS", kname, kt)
}

// boundNegative reports a negative PRECEDING bound (a number or an interval).
func boundNegative(v types.Value) bool {
	switch v.T {
	case types.TagFloat:
		return v.Float() < 0 || math.IsNaN(v.Float())
	case types.TagDecimal:
		return types.DecimalSign(v) < 0
	}
	return v.I < 0
}

// rangeBound converts a RANGE frame's PRECEDING bound (checked by checkFrameBound) for an order key of type
// kt: milliseconds (TIMESTAMP), whole days (DATE: an interval's milliseconds divided by a day's, as Flink,
// which drops a fraction of a day), the number itself over an integral key; over a DECIMAL or DOUBLE key
// the bound is a value of the key's kind (exec.OverFrame.Bound).
func rangeBound(v types.Value, kt types.Type) (int64, types.Value) {
	switch {
	case kt.Kind == types.Date:
		return v.I / (24 * 3600 * 1000), types.Value{}
	case kt.Kind == types.Decimal:
		if v.T != types.TagDecimal {
			return 0, types.DecimalFromInt(v.I)
		}
		return 0, v
	case kt.Kind == types.Double || kt.Kind == types.Float:
		switch v.T {
		case types.TagFloat:
			return 0, v
		case types.TagDecimal:
			return 0, types.FloatValue(types.DecimalToFloat(v))
		}
		return 0, types.FloatValue(float64(v.I))
	}
	return v.I, types.Value{}
}
