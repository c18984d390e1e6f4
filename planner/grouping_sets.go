package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// GROUPING SETS, ROLLUP and CUBE are planned as Flink plans them: the aggregate's input is expanded into
// one copy of each row per grouping set (Expand), with the group columns outside the set set to NULL and a
// grouping id column $e appended; the aggregate groups by all group columns and $e. GROUPING(a, ...) and
// GROUPING_ID(a, ...) read $e.

// maxGroupingExprs bounds the distinct expressions of a GROUP BY with grouping sets ($e is a BIGINT bit
// set) and maxGroupingSets the sets (CUBE of n expressions has 2^n).
const (
	maxGroupingExprs = 62
	maxGroupingSets  = 4096
)

// groupingSets flattens a GROUP BY list into its distinct expressions and its grouping sets (bit i: the
// i-th expression is in the set), in the order Calcite lists them: the cross product of the items, each
// plain expression a set of one, ROLLUP(a, b) the sets (a, b), (a), (), CUBE(a, b) (a, b), (a), (b), ().
// sets is nil when the list has no GROUPING SETS, ROLLUP, CUBE or () item.
func groupingSets(groupBy []sql.Expr) (exprs []sql.Expr, sets []uint64, err error) {
	index := map[string]int{}
	add := func(e sql.Expr) (int, error) {
		text := sql.FormatExpr(e)
		if i, ok := index[text]; ok {
			return i, nil
		}
		if len(exprs) == maxGroupingExprs {
			return 0, sql.Errorf(e.Position(), ErrUnsupported, "GROUP BY with grouping sets over more than %d expressions is not supported yet", maxGroupingExprs)
		}
		index[text] = len(exprs)
		exprs = append(exprs, e)
		return len(exprs) - 1, nil
	}
	mask := func(es []sql.Expr) (uint64, error) {
		var m uint64
		for _, e := range es {
			i, err := add(e)
			if err != nil {
				return 0, err
			}
			m |= 1 << i
		}
		return m, nil
	}
	hasSets := false
	cross := []uint64{0}
	for _, g := range groupBy {
		var item []uint64
		gs, ok := g.(*sql.GroupingSets)
		if !ok {
			m, err := mask([]sql.Expr{g})
			if err != nil {
				return nil, nil, err
			}
			item = []uint64{m}
		} else {
			hasSets = true
			var err error
			if item, err = setsOf(gs.Kind, gs.P, gs.Sets, mask); err != nil {
				return nil, nil, err
			}
		}
		if len(cross)*len(item) > maxGroupingSets {
			return nil, nil, sql.Errorf(g.Position(), ErrUnsupported, "GROUP BY with more than %d grouping sets is not supported yet", maxGroupingSets)
		}
		var next []uint64
		for _, c := range cross {
			for _, m := range item {
				next = append(next, c|m)
			}
		}
		cross = next
	}
	if !hasSets {
		return exprs, nil, nil
	}
	seen := map[uint64]bool{}
	for _, m := range cross {
		if seen[m] {
			return nil, nil, sql.Errorf(groupBy[0].Position(), ErrUnsupported, "duplicate grouping sets (%s) are not supported yet; list each set once", setText(exprs, m))
		}
		seen[m] = true
	}
	return exprs, cross, nil
}

// setsOf lists the grouping sets of GROUPING SETS, ROLLUP or CUBE over elems (each a list of expressions,
// mask makes it a bit set). In GROUPING SETS, an element ROLLUP(...) or CUBE(...) contributes its sets.
func setsOf(kind string, p sql.Pos, elems [][]sql.Expr, mask func([]sql.Expr) (uint64, error)) ([]uint64, error) {
	var ms []uint64
	var sets []uint64
	for _, e := range elems {
		if f, ok := nestedRollup(e); ok && kind == "GROUPING SETS" {
			var sub [][]sql.Expr
			for _, a := range f.Args {
				if c, ok := a.(*sql.Constructor); ok && c.Kind == "ROW" {
					sub = append(sub, c.Elems)
				} else {
					sub = append(sub, []sql.Expr{a})
				}
			}
			nested, err := setsOf(f.Name, f.P, sub, mask)
			if err != nil {
				return nil, err
			}
			sets = append(sets, nested...)
			continue
		}
		m, err := mask(e)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		sets = append(sets, m)
	}
	switch kind {
	case "ROLLUP":
		sets = sets[:0]
		for n := len(ms); n >= 0; n-- {
			var m uint64
			for _, e := range ms[:n] {
				m |= e
			}
			sets = append(sets, m)
		}
	case "CUBE":
		if len(ms) > 12 {
			return nil, sql.Errorf(p, ErrUnsupported, "CUBE of more than 12 elements is not supported yet")
		}
		sets = sets[:0]
		n := len(ms)
		for sub := (1 << n) - 1; sub >= 0; sub-- {
			var m uint64
			for i, e := range ms {
				if sub&(1<<(n-1-i)) != 0 {
					m |= e
				}
			}
			sets = append(sets, m)
		}
	}
	return sets, nil
}

// nestedRollup recognizes ROLLUP(...) or CUBE(...) as an element of GROUPING SETS (parsed as a call).
func nestedRollup(e []sql.Expr) (*sql.FuncCall, bool) {
	if len(e) != 1 {
		return nil, false
	}
	f, ok := e[0].(*sql.FuncCall)
	if !ok || (f.Name != "ROLLUP" && f.Name != "CUBE") || f.Over != nil || f.Star || f.Distinct || f.Filter != nil || len(f.Args) == 0 {
		return nil, false
	}
	return f, true
}

func setText(exprs []sql.Expr, m uint64) string {
	var s []string
	for i, e := range exprs {
		if m&(1<<i) != 0 {
			s = append(s, sql.FormatExpr(e))
		}
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// groupingID is the value of $e for a grouping set over k expressions, as Flink numbers it: bit k-1-i is set
// when the i-th expression is not in the set (so the full set is 0).
func groupingID(set uint64, k int) int64 {
	var id int64
	for i := 0; i < k; i++ {
		if set&(1<<i) == 0 {
			id |= 1 << (k - 1 - i)
		}
	}
	return id
}

// Expand emits each input row once per grouping set: the columns in Nulls[i] set to NULL, followed by the
// grouping id IDs[i] ($e, BIGINT NOT NULL). Row kinds are kept, so retractions expand the same way.
type Expand struct {
	Input Node
	Nulls [][]int
	IDs   []int64
	Out   []Field
}

func (n *Expand) Fields() []Field      { return n.Out }
func (n *Expand) Inputs() []Node       { return []Node{n.Input} }
func (n *Expand) Mode() changelog.Mode { return n.Input.Mode() }

// Describe prints the projections as Flink's Expand does: {a, null AS b, 1 AS $e}.
func (n *Expand) Describe() string {
	in := n.Input.Fields()
	var sets []string
	for i, nulls := range n.Nulls {
		var cols []string
		j := 0
		for c, f := range in {
			if j < len(nulls) && nulls[j] == c {
				cols = append(cols, "null AS "+f.Name)
				j++
				continue
			}
			cols = append(cols, f.Name)
		}
		cols = append(cols, fmt.Sprintf("%d AS $e", n.IDs[i]))
		sets = append(sets, "{"+strings.Join(cols, ", ")+"}")
	}
	return "Expand(projects=[" + strings.Join(sets, ", ") + "])"
}

// groupingInput returns the aggregate's input and keys for the grouping sets of am (the pre-projection
// in has the k group columns first): in itself and keys 0..k-1 without grouping sets, else an Expand of
// in keyed by the group columns and $e. Group columns missing from a set become nullable.
func groupingInput(in Node, am *aggMap) (Node, []int) {
	k := len(am.groupExpr)
	keys := make([]int, k)
	for i := range keys {
		keys[i] = i
	}
	am.gid = -1
	if len(am.sets) <= 1 {
		return in, keys
	}
	fields := in.Fields()
	out := append([]Field(nil), fields...)
	e := &Expand{Input: in}
	for _, set := range am.sets {
		var nulls []int
		for i := 0; i < k; i++ {
			if set&(1<<i) == 0 {
				nulls = append(nulls, i)
				out[i].Type = out[i].Type.WithNullable(true)
				am.groupType[i] = out[i].Type
			}
		}
		e.Nulls = append(e.Nulls, nulls)
		e.IDs = append(e.IDs, groupingID(set, k))
	}
	e.Out = append(out, Field{Name: "$e", Type: types.BigIntType().WithNullable(false)})
	am.gid = k
	return e, append(keys, len(fields))
}

// aggBase is the aggregate output column of the first aggregate call (after the keys and $e).
func (m *aggMap) aggBase() int {
	if m.gid >= 0 {
		return len(m.groupText) + 1
	}
	return len(m.groupText)
}

func isGroupingCall(e sql.Expr) (*sql.FuncCall, bool) {
	f, ok := e.(*sql.FuncCall)
	if !ok || f.Over != nil || (f.Name != "GROUPING" && f.Name != "GROUPING_ID" && f.Name != "GROUP_ID") {
		return nil, false
	}
	return f, true
}

// grouping binds GROUPING(a, b, ...), GROUPING_ID(a, b, ...) and GROUP_ID() above an aggregate: a bit per argument,
// the first the most significant, set when the argument is not grouped in the row's grouping set. Without
// grouping sets it is 0; with them, a CASE over $e.
func (b *binder) grouping(f *sql.FuncCall, m *aggMap) (expr.Expr, error) {
	if f.Name == "GROUP_ID" {
		// GROUP_ID() numbers the duplicates of a grouping set (Calcite); duplicates are refused, so it is 0.
		if len(f.Args) > 0 || f.Star || f.Distinct {
			return nil, sql.Errorf(f.P, ErrValidation, "GROUP_ID takes no arguments")
		}
		return expr.Literal(types.IntValue(0), types.BigIntType().WithNullable(false)), nil
	}
	if f.Star || f.Distinct || len(f.Args) == 0 {
		return nil, sql.Errorf(f.P, ErrValidation, "%s takes one or more grouped expressions", f.Name)
	}
	if len(f.Args) > 63 {
		return nil, sql.Errorf(f.P, ErrUnsupported, "%s of more than 63 arguments is not supported yet", f.Name)
	}
	var idx []int
	for _, a := range f.Args {
		text := sql.FormatExpr(a)
		i := -1
		for gi, g := range m.groupText {
			if g == text {
				i = gi
				break
			}
		}
		if ref, ok := a.(*sql.ColumnRef); ok && i < 0 {
			if gi, ok := m.groupRef(ref); ok {
				i = gi
			}
		}
		if i < 0 {
			return nil, sql.Errorf(a.Position(), ErrValidation, "Argument to %s operator must be a grouped expression: %s is not in GROUP BY", f.Name, text)
		}
		idx = append(idx, i)
	}
	t := types.BigIntType().WithNullable(false)
	value := func(set uint64) int64 {
		var v int64
		for _, i := range idx {
			v <<= 1
			if set&(1<<i) == 0 {
				v |= 1
			}
		}
		return v
	}
	if m.gid < 0 {
		var set uint64 = 1<<len(m.groupText) - 1
		if len(m.sets) == 1 {
			set = m.sets[0]
		}
		return expr.Literal(types.IntValue(value(set)), t), nil
	}
	e := expr.Column(m.gid, "$e", t)
	var conds, results []expr.Expr
	k := len(m.groupText)
	for _, set := range m.sets {
		c, err := b.call(f.P, "=", e, expr.Literal(types.IntValue(groupingID(set, k)), t))
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
		results = append(results, expr.Literal(types.IntValue(value(set)), t))
	}
	x, err := expr.CaseWhen(conds, results, expr.Literal(types.IntValue(0), t))
	return x, wrapErr(f.P, err)
}
