package planner

import (
	"slices"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// windowParams are Flink's parameter names of the window table functions, in positional order; the last
// one (OFFSET) is optional except for SESSION.
var windowParams = map[string][]string{
	"TUMBLE":   {"DATA", "TIMECOL", "SIZE", "OFFSET"},
	"HOP":      {"DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"},
	"CUMULATE": {"DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"},
	"SESSION":  {"DATA", "TIMECOL", "GAP"},
}

// windowSignature is how a window function's call is written, for errors.
func windowSignature(name string) string {
	ps := windowParams[name]
	var b strings.Builder
	b.WriteString(name + "(TABLE t")
	if name == "SESSION" {
		b.WriteString(" [PARTITION BY k]")
	}
	b.WriteString(", DESCRIPTOR(time_col)")
	for _, n := range ps[2:] {
		if n == "OFFSET" {
			b.WriteString("[, offset]")
			continue
		}
		b.WriteString(", " + strings.ToLower(n))
	}
	return b.String() + ")"
}

// windowArgs puts the arguments of a window function call in positional order: by position, or by
// Flink's parameter names (DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => ...) in any order. An
// optional argument not given is left out.
func windowArgs(call *sql.FuncCall) ([]sql.Expr, error) {
	params := windowParams[call.Name]
	required := len(params)
	if params[len(params)-1] == "OFFSET" {
		required--
	}
	named := 0
	for _, a := range call.Args {
		if _, ok := a.(*sql.NamedArg); ok {
			named++
		}
	}
	if named == 0 {
		if len(call.Args) < required || len(call.Args) > len(params) {
			return nil, sql.Errorf(call.P, ErrValidation, "%s expects %d arguments (%s), got %d",
				call.Name, required, windowSignature(call.Name), len(call.Args))
		}
		return call.Args, nil
	}
	args := make([]sql.Expr, len(params))
	for _, a := range call.Args {
		na, ok := a.(*sql.NamedArg)
		if !ok {
			return nil, sql.Errorf(a.Position(), ErrValidation, "%s: pass all arguments by name or all by position (%s)",
				call.Name, strings.Join(params, " => ..., ")+" => ...")
		}
		i := slices.Index(params, strings.ToUpper(na.Name))
		if i < 0 {
			return nil, sql.Errorf(na.P, ErrValidation, "%s has no parameter named %s; its parameters are %s",
				call.Name, na.Name, strings.Join(params, ", "))
		}
		if args[i] != nil {
			return nil, sql.Errorf(na.P, ErrValidation, "%s: the parameter %s is given twice", call.Name, params[i])
		}
		args[i] = na.Value
	}
	for i, a := range args[:required] {
		if a == nil {
			return nil, sql.Errorf(call.P, ErrValidation, "%s: the parameter %s is missing (%s)", call.Name, params[i], windowSignature(call.Name))
		}
	}
	if args[len(args)-1] == nil {
		args = args[:len(args)-1]
	}
	return args, nil
}

// windowTVF plans TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(..., slide, size [, offset]),
// CUMULATE(..., step, size [, offset]) and SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(ts), gap), with
// arguments by position or by name.
func (p *Planner) windowTVF(t *sql.TableFunc) (Node, *scope, error) {
	call := t.Call
	args, err := windowArgs(call)
	if err != nil {
		return nil, nil, err
	}
	ta, ok := args[0].(*sql.TableArg)
	if !ok {
		return nil, nil, sql.Errorf(args[0].Position(), ErrValidation, "the first argument of %s must be TABLE name (%s)", call.Name, windowSignature(call.Name))
	}
	if len(ta.PartitionBy) > 0 && call.Name != "SESSION" {
		return nil, nil, sql.Errorf(ta.PartitionBy[0].Position(), ErrValidation, "%s does not take PARTITION BY; only the SESSION window function does", call.Name)
	}
	in, insc, err := p.tableRef(&sql.TableRef{P: ta.P, Name: ta.Name})
	if err != nil {
		return nil, nil, err
	}
	d, ok := args[1].(*sql.FuncCall)
	if !ok || d.Name != "DESCRIPTOR" || len(d.Args) != 1 {
		return nil, nil, sql.Errorf(args[1].Position(), ErrValidation, "the second argument of %s must be DESCRIPTOR(time_col)", call.Name)
	}
	ref, ok := d.Args[0].(*sql.ColumnRef)
	if !ok {
		return nil, nil, sql.Errorf(d.Args[0].Position(), ErrValidation, "DESCRIPTOR takes a column name")
	}
	col, err := insc.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	if call.Name == "SESSION" {
		// The gap is read as TUMBLE's size; the time column is validated alike.
		n, err := p.buildWindow("SESSION", call.P, in, insc, col, ref, args[2:], ta.Name.String())
		if err != nil {
			return nil, nil, err
		}
		n.Spec = exec.WindowSpec{Kind: exec.Session, Size: n.Spec.Size}
		for _, k := range ta.PartitionBy {
			r, ok := unparen(k).(*sql.ColumnRef)
			if !ok {
				return nil, nil, sql.Errorf(k.Position(), ErrUnsupported, "SESSION: PARTITION BY takes columns of %s; compute %s in a view first", ta.Name, sql.FormatExpr(k))
			}
			c, err := insc.resolve(r)
			if err != nil {
				return nil, nil, err
			}
			n.Partition = append(n.Partition, c)
		}
		return n, scopeOf(n.Out, ""), nil
	}
	n, err := p.buildWindow(call.Name, call.P, in, insc, col, ref, args[2:], ta.Name.String())
	if err != nil {
		return nil, nil, err
	}
	return n, scopeOf(n.Out, ""), nil
}

// buildWindow builds a window TVF node of kind name (TUMBLE, HOP, CUMULATE) over in, on time column col,
// with the interval arguments args (TUMBLE: size[, offset]; HOP: slide, size[, offset]; CUMULATE: step,
// size[, offset]).
func (p *Planner) buildWindow(name string, at sql.Pos, in Node, insc *scope, col int, ref *sql.ColumnRef, args []sql.Expr, table string) (*WindowTVF, error) {
	want := map[string]int{"TUMBLE": 1, "HOP": 2, "CUMULATE": 2, "SESSION": 1}[name]
	if len(args) != want && len(args) != want+1 {
		return nil, sql.Errorf(at, ErrValidation, "%s expects %d interval argument(s) (%s[, offset]), got %d",
			name, want, map[string]string{"TUMBLE": "size", "HOP": "slide, size", "CUMULATE": "step, size"}[name], len(args))
	}
	ct := insc.cols[col].typ
	if !ct.IsTimestamp() {
		return nil, sql.Errorf(ref.P, ErrValidation, "The window function requires the timecol to be a TIMESTAMP or TIMESTAMP_LTZ time attribute, but %s is %s.", insc.cols[col].name, ct)
	}
	// Streaming mode needs a time attribute (a column with a watermark): checked by the physical pass.
	timeAttr := timeAttribute{name: insc.cols[col].name,
		err: sql.Errorf(ref.P, ErrValidation, "The window function requires the timecol is a time attribute type, but is %s. Declare WATERMARK FOR %s AS ... on table %s.", ct, insc.cols[col].name, table)}
	ms := func(i int) (int64, error) {
		x, err := p.b.expr(args[i], &scope{})
		if err != nil {
			return 0, err
		}
		if x.Type().Kind != types.IntervalDayTime || !expr.IsConstant(x) {
			return 0, sql.Errorf(args[i].Position(), ErrValidation, "%s: window intervals must be constant INTERVALs (e.g. INTERVAL '10' MINUTES)", name)
		}
		v, err := x.Eval(nil)
		if err != nil || v.IsNull() {
			return 0, sql.Errorf(args[i].Position(), ErrValidation, "%s: window intervals must not be NULL", name)
		}
		return v.I, nil
	}
	var err error
	spec := exec.WindowSpec{}
	switch name {
	case "TUMBLE", "SESSION":
		spec.Kind = exec.Tumble
		if spec.Size, err = ms(0); err != nil {
			return nil, err
		}
	case "HOP", "CUMULATE":
		spec.Kind = exec.Hop
		if name == "CUMULATE" {
			spec.Kind = exec.Cumulate
		}
		if spec.Slide, err = ms(0); err != nil {
			return nil, err
		}
		if spec.Size, err = ms(1); err != nil {
			return nil, err
		}
		if spec.Slide <= 0 || spec.Size%spec.Slide != 0 {
			return nil, sql.Errorf(at, ErrValidation, "%s: the size (%d ms) must be a positive multiple of the %s (%d ms)", name, spec.Size, map[bool]string{true: "step", false: "slide"}[name == "CUMULATE"], spec.Slide)
		}
	}
	if spec.Size <= 0 {
		what := "window size"
		if name == "SESSION" {
			what = "session gap"
		}
		return nil, sql.Errorf(at, ErrValidation, "%s: the %s must be positive", name, what)
	}
	if len(args) == want+1 {
		if spec.Offset, err = ms(want); err != nil {
			return nil, err
		}
	}
	out := append([]Field{}, in.Fields()...)
	wtType := types.TimestampType(3).WithNullable(false)
	if ct.Kind == types.TimestampLTZ {
		wtType = types.TimestampLTZType(3).WithNullable(false)
	}
	out = append(out, Field{Name: "window_start", Type: types.TimestampType(3).WithNullable(false)},
		Field{Name: "window_end", Type: types.TimestampType(3).WithNullable(false)},
		Field{Name: "window_time", Type: wtType})
	return &WindowTVF{Input: in, Spec: spec, TimeCol: col, LTZ: ct.Kind == types.TimestampLTZ, Out: out, Pos: at, TimeAttr: timeAttr,
		Proctime: isProctimeCol(in, col)}, nil
}

// hasRowtime reports whether n's plan assigns watermarks on column name (a time attribute).
func hasRowtime(n Node, name string) bool {
	if w, ok := n.(*WatermarkAssigner); ok && w.Rowtime == name {
		return true
	}
	for _, in := range n.Inputs() {
		if hasRowtime(in, name) {
			return true
		}
	}
	return false
}
