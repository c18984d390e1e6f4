package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// windowTVF plans TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(..., slide, size [, offset])
// and CUMULATE(..., step, size [, offset]).
func (p *Planner) windowTVF(t *sql.TableFunc) (Node, *scope, error) {
	call := t.Call
	want := map[string]int{"TUMBLE": 3, "HOP": 4, "CUMULATE": 4}[call.Name]
	if len(call.Args) != want && len(call.Args) != want+1 {
		return nil, nil, sql.Errorf(call.P, ErrValidation, "%s expects %d arguments (TABLE t, DESCRIPTOR(time_col), %s[, offset]), got %d",
			call.Name, want, map[string]string{"TUMBLE": "size", "HOP": "slide, size", "CUMULATE": "step, size"}[call.Name], len(call.Args))
	}
	ta, ok := call.Args[0].(*sql.TableArg)
	if !ok {
		return nil, nil, sql.Errorf(call.Args[0].Position(), ErrValidation, "the first argument of %s must be TABLE name", call.Name)
	}
	in, insc, err := p.tableRef(&sql.TableRef{P: ta.P, Name: ta.Name})
	if err != nil {
		return nil, nil, err
	}
	d, ok := call.Args[1].(*sql.FuncCall)
	if !ok || d.Name != "DESCRIPTOR" || len(d.Args) != 1 {
		return nil, nil, sql.Errorf(call.Args[1].Position(), ErrValidation, "the second argument of %s must be DESCRIPTOR(time_col)", call.Name)
	}
	ref, ok := d.Args[0].(*sql.ColumnRef)
	if !ok {
		return nil, nil, sql.Errorf(d.Args[0].Position(), ErrValidation, "DESCRIPTOR takes a column name")
	}
	col, err := insc.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	n, err := p.buildWindow(call.Name, call.P, in, insc, col, ref, call.Args[2:], ta.Name.String())
	if err != nil {
		return nil, nil, err
	}
	return n, scopeOf(n.Out, ""), nil
}

// buildWindow builds a window TVF node of kind name (TUMBLE, HOP, CUMULATE) over in, on time column col,
// with the interval arguments args (TUMBLE: size[, offset]; HOP: slide, size[, offset]; CUMULATE: step,
// size[, offset]).
func (p *Planner) buildWindow(name string, at sql.Pos, in Node, insc *scope, col int, ref *sql.ColumnRef, args []sql.Expr, table string) (*WindowTVF, error) {
	want := map[string]int{"TUMBLE": 1, "HOP": 2, "CUMULATE": 2}[name]
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
	case "TUMBLE":
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
		return nil, sql.Errorf(at, ErrValidation, "%s: the window size must be positive", name)
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
	return &WindowTVF{Input: in, Spec: spec, TimeCol: col, LTZ: ct.Kind == types.TimestampLTZ, Out: out, Pos: at, TimeAttr: timeAttr}, nil
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
