package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// MatchRecognize is MATCH_RECOGNIZE with ONE ROW PER MATCH (Flink's Match): per partition, rows in time
// order run through the pattern's NFA and every match emits the partition columns and the measures, as +I,
// when the watermark passes its rows. Logical and physical (the same operator in both runtime modes).
type MatchRecognize struct {
	Input     Node
	Partition []int
	TimeCol   int
	Order     []exec.SortKey // the ORDER BY keys after the time attribute
	Vars      []string       // pattern variables in pattern order
	Elems     []exec.MatchElem
	Defines   []expr.Expr // per variable (nil: TRUE), over the input row + Slots
	Measures  []expr.Expr // over the match's last row + Slots
	Slots     []exec.MatchSlot
	Skip      exec.MatchSkip
	SkipElem  int
	Within    int64 // ms; 0 for none
	Out       []Field
	Pos       sql.Pos // the MATCH_RECOGNIZE keyword
	OrderAttr timeAttribute
	// ProcTime (physical, streaming): ordered by a PROCTIME() column: rows are matched in arrival order.
	ProcTime bool
	text     matchText
}

// matchText is the clause as written, for EXPLAIN.
type matchText struct {
	measures, defines []string
	pattern, after    string
}

func (n *MatchRecognize) Fields() []Field      { return n.Out }
func (n *MatchRecognize) Inputs() []Node       { return []Node{n.Input} }
func (n *MatchRecognize) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *MatchRecognize) Describe() string {
	in := n.Input.Fields()
	var parts, order []string
	for _, c := range n.Partition {
		parts = append(parts, in[c].Name)
	}
	order = append(order, in[n.TimeCol].Name+" ASC")
	if len(n.Order) > 0 {
		order = append(order, sortText(n.Order, in))
	}
	s := fmt.Sprintf("Match(partitionBy=[%s], orderBy=[%s], measures=[%s], rowsPerMatch=[ONE ROW PER MATCH], after=[%s], pattern=[%s]",
		strings.Join(parts, ", "), strings.Join(order, ", "), strings.Join(n.text.measures, ", "), n.text.after, n.text.pattern)
	if n.Within > 0 {
		s += fmt.Sprintf(", within=[%s]", durText(n.Within))
	}
	return s + fmt.Sprintf(", define=[{%s}])", strings.Join(n.text.defines, ", "))
}

// matchBinder binds DEFINE and MEASURES expressions: navigation (v.x, FIRST, LAST, PREV, aggregates,
// MATCH_ROWTIME, MATCH_PROCTIME) becomes a slot column after the input row's columns.
type matchBinder struct {
	p     *Planner
	in    *scope // the input's columns, unqualified
	vars  map[string]int
	slots []exec.MatchSlot
	types []types.Type
	time  types.Type
}

func (p *Planner) matchRecognize(t *sql.MatchRecognize) (Node, *scope, error) {
	in, sc, err := p.from(t.Input)
	if err != nil {
		return nil, nil, err
	}
	if t.AllRows {
		return nil, nil, sql.Errorf(t.AllRowsPos, ErrUnsupported, "All rows per match mode is not supported yet.")
	}
	n := &MatchRecognize{Input: in, Pos: t.P}
	for _, e := range t.PartitionBy {
		ref, ok := unparen(e).(*sql.ColumnRef)
		if !ok {
			return nil, nil, sql.Errorf(e.Position(), ErrUnsupported, "PARTITION BY in MATCH_RECOGNIZE takes columns; compute %s in a subquery first", sql.FormatExpr(e))
		}
		c, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, err
		}
		n.Partition = append(n.Partition, c)
	}
	if len(t.OrderBy) == 0 {
		return nil, nil, sql.Errorf(t.P, ErrValidation, "You must specify either rowtime or proctime for order by (MATCH_RECOGNIZE needs ORDER BY <time attribute>)")
	}
	for i, o := range t.OrderBy {
		ref, ok := unparen(o.Expr).(*sql.ColumnRef)
		if !ok {
			return nil, nil, sql.Errorf(o.Expr.Position(), ErrUnsupported, "ORDER BY in MATCH_RECOGNIZE takes columns; compute %s in a subquery first", sql.FormatExpr(o.Expr))
		}
		c, err := sc.resolve(ref)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			ct := sc.cols[c]
			attrErr := sql.Errorf(o.Expr.Position(), ErrValidation, "You must specify either rowtime or proctime for order by as the first one; %s is %s (declare WATERMARK FOR %s AS ...)", ct.name, ct.typ, ct.name)
			if !ct.typ.IsTimestamp() {
				return nil, nil, attrErr
			}
			if o.Desc {
				return nil, nil, sql.Errorf(o.P, ErrValidation, "Primary sort order of a streaming table must be ascending on time.")
			}
			n.TimeCol, n.OrderAttr = c, timeAttribute{name: ct.name, err: attrErr}
			continue
		}
		k := exec.SortKey{Col: c, Desc: o.Desc, NullsFirst: !o.Desc}
		if o.NullsFirst != nil {
			k.NullsFirst = *o.NullsFirst
		}
		n.Order = append(n.Order, k)
	}
	mb := &matchBinder{p: p, in: &scope{}, vars: map[string]int{}, time: sc.cols[n.TimeCol].typ}
	for _, c := range sc.cols {
		mb.in.cols = append(mb.in.cols, scopeCol{name: c.name, typ: c.typ})
	}
	if err := mb.pattern(n, t); err != nil {
		return nil, nil, err
	}
	if t.Within != nil {
		x, err := p.b.expr(t.Within, &scope{})
		if err != nil {
			return nil, nil, err
		}
		v, err := x.Eval(nil)
		if err != nil || v.IsNull() || !expr.IsConstant(x) || x.Type().Kind != types.IntervalDayTime || v.I <= 0 {
			return nil, nil, sql.Errorf(t.Within.Position(), ErrValidation, "Only constant intervals with millisecond resolution are supported as time constraints of patterns (e.g. WITHIN INTERVAL '1' HOUR).")
		}
		n.Within = v.I
	}
	n.Defines = make([]expr.Expr, len(n.Vars))
	n.text.defines = make([]string, 0, len(t.Define))
	for _, d := range t.Define {
		i, ok := mb.vars[d.Name.Name]
		if !ok {
			return nil, nil, sql.Errorf(d.Name.P, ErrValidation, "Unknown pattern variable '%s' in DEFINE; the pattern has %s", d.Name.Name, strings.Join(n.Vars, ", "))
		}
		if n.Defines[i] != nil {
			return nil, nil, sql.Errorf(d.Name.P, ErrValidation, "Pattern variable '%s' is defined twice", d.Name.Name)
		}
		x, err := mb.bind(d.Cond)
		if err != nil {
			return nil, nil, err
		}
		if x.Type().Kind != types.Boolean {
			return nil, nil, sql.Errorf(d.Cond.Position(), ErrValidation, "DEFINE %s must be a BOOLEAN condition, got %s", d.Name.Name, x.Type())
		}
		n.Defines[i] = x
		n.text.defines = append(n.text.defines, d.Name.Name+"="+sql.FormatExpr(d.Cond))
	}
	for _, c := range n.Partition {
		n.Out = append(n.Out, Field{Name: sc.cols[c].name, Type: sc.cols[c].typ})
	}
	for _, ms := range t.Measures {
		x, err := mb.bind(ms.Expr)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range n.Out {
			if f.Name == ms.Name.Name {
				return nil, nil, sql.Errorf(ms.Name.P, ErrValidation, "Duplicate column name '%s' in the output of MATCH_RECOGNIZE (partition columns come first)", ms.Name.Name)
			}
		}
		n.Measures = append(n.Measures, x)
		n.Out = append(n.Out, Field{Name: ms.Name.Name, Type: x.Type()})
		n.text.measures = append(n.text.measures, "FINAL("+sql.FormatExpr(ms.Expr)+") AS "+ms.Name.Name)
	}
	n.Slots = mb.slots
	return p.aliased(n, t.Alias, t.ColAliases, t.P)
}

// pattern checks the pattern as Flink's planner does and fills Vars, Elems and the skip strategy.
func (mb *matchBinder) pattern(n *MatchRecognize, t *sql.MatchRecognize) error {
	empty := true
	for i, term := range t.Pattern {
		if _, dup := mb.vars[term.Var]; dup {
			return sql.Errorf(term.P, ErrUnsupported, "Pattern variables must be unique. That might change in the future. ('%s' appears twice)", term.Var)
		}
		mb.vars[term.Var] = i
		n.Vars = append(n.Vars, term.Var)
		optional := term.Min == 0 && term.Max == 1
		if optional && term.Reluctant {
			return sql.Errorf(term.P, ErrUnsupported, "Reluctant optional variables are not supported yet. (%s%s)", term.Var, term.Quant)
		}
		e := exec.MatchElem{Min: term.Min, Max: term.Max, Greedy: !term.Reluctant && !optional && term.Min != term.Max}
		n.Elems = append(n.Elems, e)
		empty = empty && term.Min == 0
	}
	if len(n.Elems) > 255 {
		return sql.Errorf(t.PatternPos, ErrUnsupported, "a pattern of more than 255 variables is not supported")
	}
	if empty {
		return sql.Errorf(t.PatternPos, ErrUnsupported, "Patterns that can produce empty matches are not supported. There must be at least one non-optional state.")
	}
	if n.Elems[len(n.Elems)-1].Greedy {
		last := t.Pattern[len(t.Pattern)-1]
		return sql.Errorf(last.P, ErrUnsupported, "Greedy quantifiers are not allowed as the last element of a Pattern yet. Finish your pattern with either a simple variable or reluctant quantifier. (%s%s)", last.Var, last.Quant)
	}
	n.text.pattern = sql.PatternText(t.Pattern)
	n.Skip, n.text.after = exec.SkipPastLastRow, "SKIP PAST LAST ROW"
	if a := t.After; a != nil {
		n.text.after = "SKIP " + a.Kind
		switch a.Kind {
		case "TO NEXT ROW":
			n.Skip = exec.SkipToNextRow
		case "TO FIRST", "TO LAST":
			n.Skip = exec.SkipToFirst
			if a.Kind == "TO LAST" {
				n.Skip = exec.SkipToLast
			}
			i, ok := mb.vars[a.Var.Name]
			if !ok {
				return sql.Errorf(a.Var.P, ErrValidation, "Unknown pattern variable '%s' in AFTER MATCH SKIP; the pattern has %s", a.Var.Name, strings.Join(n.Vars, ", "))
			}
			n.SkipElem = i
			n.text.after += " " + a.Var.Name
		}
	}
	return nil
}

// varOf returns the pattern variable a column reference is qualified with ("" for none).
func (mb *matchBinder) varOf(ref *sql.ColumnRef) (string, bool) {
	if len(ref.Parts) == 2 {
		if _, ok := mb.vars[ref.Parts[0]]; ok {
			return ref.Parts[0], true
		}
	}
	return "", false
}

// bind binds a DEFINE or MEASURES expression: navigation becomes slot columns after the input's.
func (mb *matchBinder) bind(e sql.Expr) (expr.Expr, error) {
	var failed error
	var fn func(x sql.Expr) (sql.Expr, bool)
	fn = func(x sql.Expr) (sql.Expr, bool) {
		if failed != nil {
			return x, true
		}
		if f, ok := x.(*sql.FuncCall); ok && (strings.EqualFold(f.Name, "PREV") || strings.EqualFold(f.Name, "NEXT")) {
			// Flink's planner takes PREV/NEXT(x, 0) as x and refuses any other offset (physical offsets).
			if err := mb.physicalOffset(f); err != nil {
				failed = err
				return x, true
			}
			return rewriteExpr(f.Args[0], fn), true
		}
		slot, ok, err := mb.navigation(x)
		if err != nil {
			failed = err
			return x, true
		}
		if !ok {
			return nil, false
		}
		return &sql.ColumnRef{P: x.Position(), Parts: []string{slot}}, true
	}
	rewritten := rewriteExpr(e, fn)
	if failed != nil {
		return nil, failed
	}
	sc := &scope{cols: append([]scopeCol{}, mb.in.cols...)}
	for i, s := range mb.slots {
		sc.cols = append(sc.cols, scopeCol{name: fmt.Sprintf("$match%d", i), typ: mb.types[i]})
		_ = s
	}
	return mb.p.b.expr(rewritten, sc)
}

// navigation turns x into a slot when it is a navigation; it returns the slot column's name.
func (mb *matchBinder) navigation(x sql.Expr) (string, bool, error) {
	switch x := x.(type) {
	case *sql.ColumnRef:
		v, ok := mb.varOf(x)
		if !ok {
			return "", false, nil
		}
		arg, err := mb.arg(&sql.ColumnRef{P: x.P, Parts: x.Parts[1:]})
		if err != nil {
			return "", false, err
		}
		return mb.add(exec.MatchSlot{Kind: exec.SlotLast, Elem: mb.vars[v], Arg: arg}, arg.Type().WithNullable(true)), true, nil
	case *sql.FuncCall:
		name := strings.ToUpper(x.Name)
		switch name {
		case "FIRST", "LAST":
			off, err := mb.offset(x, 0)
			if err != nil {
				return "", false, err
			}
			elem, arg, err := mb.singleVarArg(name, x.Args[0])
			if err != nil {
				return "", false, err
			}
			kind := exec.SlotLast
			if name == "FIRST" {
				kind = exec.SlotFirst
			}
			return mb.add(exec.MatchSlot{Kind: kind, Elem: elem, Offset: off, Arg: arg}, arg.Type().WithNullable(true)), true, nil
		case "CLASSIFIER", "MATCH_NUMBER":
			return "", false, sql.Errorf(x.P, ErrUnsupported, "%s() is not supported yet in MATCH_RECOGNIZE", name)
		case "MATCH_ROWTIME":
			if len(x.Args) > 0 {
				return "", false, sql.Errorf(x.P, ErrUnsupported, "MATCH_ROWTIME with an argument is not supported yet; use MATCH_ROWTIME()")
			}
			return mb.add(exec.MatchSlot{Kind: exec.SlotRowtime, Elem: -1}, mb.time), true, nil
		case "MATCH_PROCTIME":
			if len(x.Args) > 0 {
				return "", false, sql.Errorf(x.P, ErrValidation, "MATCH_PROCTIME takes no arguments")
			}
			return mb.add(exec.MatchSlot{Kind: exec.SlotProctime, Elem: -1}, types.TimestampLTZType(3).WithNullable(false)), true, nil
		case "SUM", "AVG", "COUNT", "MIN", "MAX":
			if x.Over != nil {
				return "", false, nil
			}
			if x.Distinct {
				return "", false, sql.Errorf(x.P, ErrUnsupported, "Distinct aggregations are not supported in MATCH_RECOGNIZE yet.")
			}
			if x.Filter != nil {
				return "", false, sql.Errorf(x.P, ErrUnsupported, "FILTER in aggregations is not supported in MATCH_RECOGNIZE yet")
			}
			slot := exec.MatchSlot{Kind: exec.SlotAgg, Elem: -1, Agg: exec.AggCall{Func: name, Filter: -1}}
			if !(name == "COUNT" && (x.Star || len(x.Args) == 0)) {
				if len(x.Args) != 1 {
					return "", false, sql.Errorf(x.P, ErrValidation, "%s takes one argument", name)
				}
				elem, arg, err := mb.singleVarArg(name, x.Args[0])
				if err != nil {
					return "", false, err
				}
				slot.Elem, slot.Arg = elem, arg
				slot.Agg.Args, slot.Agg.ArgTypes = []int{0}, []types.Type{arg.Type()}
			}
			t, err := exec.AggResultType(name, false, slot.Agg.ArgTypes)
			if err != nil {
				return "", false, sql.Errorf(x.P, ErrValidation, "%s", err.Error())
			}
			slot.Agg.Type = t
			return mb.add(slot, t), true, nil
		}
	}
	return "", false, nil
}

// offset reads the optional constant offset of FIRST/LAST/PREV/NEXT(x[, n]).
func (mb *matchBinder) offset(x *sql.FuncCall, def int) (int, error) {
	name := strings.ToUpper(x.Name)
	if len(x.Args) < 1 || len(x.Args) > 2 {
		return 0, sql.Errorf(x.P, ErrValidation, "%s takes an expression and an optional constant offset: %s(A.price[, 1])", name, name)
	}
	off := def
	if len(x.Args) == 2 {
		lit, ok := unparen(x.Args[1]).(*sql.Literal)
		n, err := 0, error(nil)
		if ok && lit.Kind == sql.LitInteger {
			_, err = fmt.Sscan(lit.Text, &n)
		}
		if !ok || lit.Kind != sql.LitInteger || err != nil || n < 0 || n > 1<<20 {
			return 0, sql.Errorf(x.Args[1].Position(), ErrValidation, "the offset of %s must be a non-negative integer literal", name)
		}
		off = n
	}
	return off, nil
}

// physicalOffset refuses PREV/NEXT with an offset other than 0, as Flink does: they navigate every row of
// the partition, which the pattern operator does not keep.
func (mb *matchBinder) physicalOffset(f *sql.FuncCall) error {
	off, err := mb.offset(f, 1)
	if err != nil {
		return err
	}
	if off != 0 {
		return sql.Errorf(f.P, ErrUnsupported, "Flink does not support physical offsets within partition: %s(..., %d) is not supported yet; use LAST(v.x, n) for the n-th last row mapped to v, or LAST(x, n) for the n-th last row of the match", strings.ToUpper(f.Name), off)
	}
	return nil
}

func (mb *matchBinder) add(s exec.MatchSlot, t types.Type) string {
	mb.slots = append(mb.slots, s)
	mb.types = append(mb.types, t)
	return fmt.Sprintf("$match%d", len(mb.slots)-1)
}

// singleVarArg binds the argument of a navigation or aggregate: its column references must all name the same
// pattern variable (or none: every row), as Flink requires.
func (mb *matchBinder) singleVarArg(fn string, e sql.Expr) (int, expr.Expr, error) {
	v, seen := "", false
	var failed error
	stripped := rewriteExpr(e, func(x sql.Expr) (sql.Expr, bool) {
		if f, ok := x.(*sql.FuncCall); ok {
			switch strings.ToUpper(f.Name) {
			case "FIRST", "LAST", "SUM", "AVG", "COUNT", "MIN", "MAX", "MATCH_ROWTIME", "MATCH_PROCTIME":
				if failed == nil {
					failed = sql.Errorf(f.P, ErrUnsupported, "%s inside the argument of %s is not supported", strings.ToUpper(f.Name), fn)
				}
				return x, true
			}
		}
		ref, ok := x.(*sql.ColumnRef)
		if !ok {
			return nil, false
		}
		name, qualified := mb.varOf(ref)
		if seen && name != v && failed == nil {
			failed = sql.Errorf(ref.P, ErrValidation, "All column references in the argument of %s must refer to the same pattern variable (Flink computes it on a single row); found %s and %s", fn, orStar(v), orStar(name))
		}
		v, seen = name, true
		if qualified {
			return &sql.ColumnRef{P: ref.P, Parts: ref.Parts[1:]}, true
		}
		return ref, true
	})
	if failed != nil {
		return 0, nil, failed
	}
	arg, err := mb.arg(stripped)
	if err != nil {
		return 0, nil, err
	}
	if v == "" {
		return -1, arg, nil
	}
	return mb.vars[v], arg, nil
}

func orStar(v string) string {
	if v == "" {
		return "no variable (*)"
	}
	return v
}

// arg binds an expression over one input row.
func (mb *matchBinder) arg(e sql.Expr) (expr.Expr, error) {
	return mb.p.b.expr(e, mb.in)
}

// updateProducer returns the node under n that produces its update changes (for Flink's error message).
func updateProducer(n Node) Node {
	for _, in := range n.Inputs() {
		if !in.Mode().IsInsertOnly() {
			return updateProducer(in)
		}
	}
	return n
}
