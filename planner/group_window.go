package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

func groupWindow(groupBy []sql.Expr) *sql.FuncCall {
	for _, g := range groupBy {
		if f, ok := unparen(g).(*sql.FuncCall); ok {
			switch f.Name {
			case "TUMBLE", "HOP", "SESSION":
				return f
			}
		}
	}
	return nil
}

// legacyGroupWindow rewrites a SELECT grouped by a group window function into one over a window TVF.
func (p *Planner) legacyGroupWindow(gw *sql.FuncCall, in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	if len(gw.Args) < 2 {
		return nil, nil, nil, sql.Errorf(gw.P, ErrValidation, "%s needs a time attribute and interval(s): %s(ts, INTERVAL '1' HOUR)", gw.Name, gw.Name)
	}
	ref, ok := unparen(gw.Args[0]).(*sql.ColumnRef)
	if !ok {
		return nil, nil, nil, sql.Errorf(gw.Args[0].Position(), ErrValidation, "the first argument of %s must be a time attribute column", gw.Name)
	}
	col, err := sc.resolve(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	var tvf *WindowTVF
	if gw.Name == "SESSION" {
		tvf, err = p.sessionWindow(gw, in, sc, col, ref, s.GroupBy)
	} else {
		tvf, err = p.buildWindow(gw.Name, gw.P, in, sc, col, ref, gw.Args[1:], "the FROM clause")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	nsc := &scope{cols: append(append([]scopeCol{}, sc.cols...),
		scopeCol{name: "$window_start", typ: tvf.Out[len(tvf.Out)-3].Type},
		scopeCol{name: "$window_end", typ: tvf.Out[len(tvf.Out)-2].Type},
		scopeCol{name: "$window_time", typ: tvf.Out[len(tvf.Out)-1].Type})}
	ref2 := func(at sql.Pos, name string) sql.Expr { return &sql.ColumnRef{P: at, Parts: []string{name}} }
	prefix := gw.Name + "_"
	usesRowtime := false // *_ROWTIME is window_time, grouped with the window bounds (as Flink's cascading windows)
	rewrite := func(e sql.Expr) sql.Expr {
		return rewriteExpr(e, func(e sql.Expr) (sql.Expr, bool) {
			if f, ok := e.(*sql.FuncCall); ok && strings.HasPrefix(f.Name, prefix) {
				switch strings.TrimPrefix(f.Name, prefix) {
				case "START":
					return ref2(f.P, "$window_start"), true
				case "END":
					return ref2(f.P, "$window_end"), true
				case "ROWTIME":
					usesRowtime = true
					return ref2(f.P, "$window_time"), true
				}
			}
			return nil, false
		})
	}
	ns := *s
	ns.Items = nil
	for i, it := range s.Items {
		c := *it
		if it.Expr != nil {
			c.Expr = rewrite(it.Expr)
			if c.Alias == "" && c.Expr != it.Expr {
				if _, isRef := it.Expr.(*sql.ColumnRef); !isRef {
					c.Alias = fmt.Sprintf("EXPR$%d", i)
				}
			}
		}
		ns.Items = append(ns.Items, &c)
	}
	if s.Having != nil {
		ns.Having = rewrite(s.Having)
	}
	ns.GroupBy = nil
	for _, g := range s.GroupBy {
		if unparen(g) == sql.Expr(gw) {
			ns.GroupBy = append(ns.GroupBy, ref2(gw.P, "$window_start"), ref2(gw.P, "$window_end"))
			if usesRowtime {
				ns.GroupBy = append(ns.GroupBy, ref2(gw.P, "$window_time"))
			}
			continue
		}
		ns.GroupBy = append(ns.GroupBy, g)
	}
	return &GroupWindow{Window: *tvf}, nsc, &ns, nil
}

// sessionWindow builds the session window node of GROUP BY SESSION(ts, gap), partitioned by the other
// GROUP BY columns.
func (p *Planner) sessionWindow(gw *sql.FuncCall, in Node, sc *scope, col int, ref *sql.ColumnRef, groupBy []sql.Expr) (*WindowTVF, error) {
	if len(gw.Args) != 2 {
		return nil, sql.Errorf(gw.P, ErrValidation, "SESSION takes a time attribute and a gap: SESSION(ts, INTERVAL '10' MINUTE)")
	}
	// Validate the time column and read the gap as TUMBLE's size.
	w, err := p.buildWindow("TUMBLE", gw.P, in, sc, col, ref, gw.Args[1:], "the FROM clause")
	if err != nil {
		return nil, err
	}
	w.Spec = exec.WindowSpec{Kind: exec.Session, Size: w.Spec.Size}
	for _, g := range groupBy {
		if unparen(g) == sql.Expr(gw) {
			continue
		}
		if gs, ok := g.(*sql.GroupingSets); ok {
			return nil, sql.Errorf(gs.P, ErrUnsupported, "%s with SESSION group windows is not supported yet", gs.Kind)
		}
		r, ok := unparen(g).(*sql.ColumnRef)
		if !ok {
			return nil, sql.Errorf(g.Position(), ErrUnsupported, "with SESSION windows, GROUP BY takes columns; compute %s in a subquery first", sql.FormatExpr(g))
		}
		c, err := sc.resolve(r)
		if err != nil {
			return nil, err
		}
		w.Partition = append(w.Partition, c)
	}
	return w, nil
}
