package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// LAG(x [, offset [, default]]) and LEAD(...) OVER (PARTITION BY ... ORDER BY ...): the value of x at the
// row offset rows (default 1) before (LAG) or after (LEAD) the current one in its partition, or default
// (NULL without one) when there is no such row. As Flink's batch OffsetOverFrame, each call with its own
// offset gets an OverAggregate of its own, whose frame is that one row: ROWS BETWEEN n PRECEDING AND n
// PRECEDING (LAG) or n FOLLOWING AND n FOLLOWING (LEAD); the OVER's own frame is refused, as Calcite refuses
// ROWS/RANGE with these functions. Streaming mode runs LAG over the window's default frame (RANGE
// UNBOUNDED PRECEDING, exec/over_offset.go) and refuses LEAD, as Flink.

func isOffsetFunc(name string) bool { return name == "LAG" || name == "LEAD" }

// offsetGroup is the suffix that sets a LAG/LEAD call apart from the other calls over the same window: one
// OverAggregate per function and offset. It checks the call's shape and its offset.
func (p *Planner) offsetGroup(f *sql.FuncCall, sc *scope) (string, error) {
	n, err := p.offsetOf(f, sc)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("|%s %d", f.Name, n), nil
}

// offsetOf checks a LAG/LEAD call and returns its offset: a constant, non-negative whole number.
func (p *Planner) offsetOf(f *sql.FuncCall, sc *scope) (int64, error) {
	switch {
	case f.Star || len(f.Args) < 1 || len(f.Args) > 3:
		return 0, sql.Errorf(f.P, ErrValidation, "%s takes one to three arguments, %s(x [, offset [, default]]), got %d", f.Name, f.Name, len(f.Args))
	case f.Distinct:
		return 0, sql.Errorf(f.P, ErrValidation, "%s does not take DISTINCT", f.Name)
	case f.Filter != nil:
		return 0, sql.Errorf(f.P, ErrValidation, "%s does not take FILTER", f.Name)
	case f.Over.Frame != "":
		return 0, sql.Errorf(f.Over.P, ErrValidation, "ROW/RANGE not allowed with %s: it reads the row at an offset, not a frame (got %s); remove the frame", f.Name, f.Over.Frame)
	}
	if len(f.Args) < 2 {
		return 1, nil
	}
	e := f.Args[1]
	x, err := p.b.expr(e, sc)
	if err != nil {
		return 0, err
	}
	if !expr.IsConstant(x) || !x.Type().IsIntegral() {
		return 0, sql.Errorf(e.Position(), ErrValidation, "the offset of %s must be a constant whole number, got %s (%s)", f.Name, sql.FormatExpr(e), x.Type())
	}
	v, err := x.Eval(nil)
	if err != nil || v.IsNull() {
		return 0, sql.Errorf(e.Position(), ErrValidation, "the offset of %s must be a constant whole number, got %s", f.Name, sql.FormatExpr(e))
	}
	if v.I < 0 {
		return 0, sql.Errorf(e.Position(), ErrValidation, "the offset of %s must not be negative, got %s (use %s for rows on the other side)", f.Name, sql.FormatExpr(e), map[string]string{"LAG": "LEAD", "LEAD": "LAG"}[f.Name])
	}
	return v.I, nil
}

// offsetFrame is the one-row frame of a LAG/LEAD call with offset n.
func offsetFrame(fn string, n int64) exec.OverFrame {
	if fn == "LAG" {
		return exec.OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: n, Following: n}
	}
	return exec.OverFrame{Rows: true, Ahead: true, StartFollowing: true, Preceding: n, Following: n}
}

// offsetCall binds a LAG/LEAD call's value and default (cast to the value's type, nullable: the result's
// type) as columns of the pre-projection (add appends one and returns its column).
func (p *Planner) offsetCall(f *sql.FuncCall, sc *scope, add func(x expr.Expr) int) (exec.AggCall, error) {
	call := exec.AggCall{Func: f.Name, Filter: -1}
	x, err := p.b.expr(f.Args[0], sc)
	if err != nil {
		return call, err
	}
	t := x.Type().WithNullable(true)
	call.Type = t
	call.Args = append(call.Args, add(x))
	call.ArgTypes = append(call.ArgTypes, x.Type())
	if len(f.Args) == 3 {
		d, err := p.b.expr(f.Args[2], sc)
		if err != nil {
			return call, err
		}
		if !d.Type().Equal(t) {
			c, err := expr.Cast(p.Env, d, t, false)
			if err != nil {
				return call, sql.Errorf(f.Args[2].Position(), ErrValidation, "the default of %s, %s (%s), does not cast to the type of %s (%s): %s", f.Name, sql.FormatExpr(f.Args[2]), d.Type(), sql.FormatExpr(f.Args[0]), t, err.Error())
			}
			d = c
		}
		call.Args = append(call.Args, add(d))
		call.ArgTypes = append(call.ArgTypes, t)
	}
	return call, nil
}

// offsetFunc is the function of an OverAggregate of LAG or LEAD calls ("" for the others).
func (n *OverAggregate) offsetFunc() string {
	if len(n.Aggs) > 0 && isOffsetFunc(n.Aggs[0].Func) {
		return n.Aggs[0].Func
	}
	return ""
}
