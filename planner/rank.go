package planner

import (
	"fmt"
	"strconv"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

func rowNumberItem(items []*sql.SelectItem) (*sql.FuncCall, int) {
	for i, it := range items {
		if f, ok := unparen(it.Expr).(*sql.FuncCall); ok && f.Over != nil && (f.Name == "ROW_NUMBER" || f.Name == "RANK" || f.Name == "DENSE_RANK") {
			return f, i
		}
	}
	return nil, -1
}

// rowNumber plans ROW_NUMBER() OVER (PARTITION BY cols ORDER BY cols) as a Rank node over in; the item
// becomes a reference to the rank's row-number column.
func (p *Planner) rowNumber(f *sql.FuncCall, item int, in Node, sc *scope, s *sql.Select) (Node, *scope, *sql.Select, error) {
	w := f.Over
	if w.Ref != "" {
		return nil, nil, nil, sql.Errorf(w.P, ErrUnsupported, "named windows (OVER %s) are not supported yet", w.Ref)
	}
	if len(w.OrderBy) == 0 {
		return nil, nil, nil, sql.Errorf(w.P, ErrValidation, "%s() needs ORDER BY in its OVER clause", f.Name)
	}
	if len(s.GroupBy) > 0 {
		return nil, nil, nil, sql.Errorf(f.P, ErrUnsupported, "%s() in an aggregating query is not supported yet; aggregate in a subquery first", f.Name)
	}
	col := func(e sql.Expr) (int, error) {
		ref, ok := unparen(e).(*sql.ColumnRef)
		if !ok {
			return 0, sql.Errorf(e.Position(), ErrUnsupported, "PARTITION BY and ORDER BY of %s() take columns; compute %s in a subquery first", f.Name, sql.FormatExpr(e))
		}
		return sc.resolve(ref)
	}
	r := &Rank{Input: in, Limit: -1, Func: f.Name}
	for _, e := range w.PartitionBy {
		c, err := col(e)
		if err != nil {
			return nil, nil, nil, err
		}
		r.Partition = append(r.Partition, c)
	}
	for _, o := range w.OrderBy {
		c, err := col(o.Expr)
		if err != nil {
			return nil, nil, nil, err
		}
		nf := !o.Desc
		if o.NullsFirst != nil {
			nf = *o.NullsFirst
		}
		r.Order = append(r.Order, exec.SortKey{Col: c, Desc: o.Desc, NullsFirst: nf})
	}
	name := s.Items[item].Alias
	if name == "" {
		name = fmt.Sprintf("EXPR$%d", item)
	}
	r.Out = append(append([]Field{}, in.Fields()...), Field{Name: name, Type: types.BigIntType().WithNullable(false)})
	nsc := &scope{cols: append(append([]scopeCol{}, sc.cols...), scopeCol{name: "$row_number", typ: types.BigIntType().WithNullable(false)})}
	ns := *s
	ns.Items = append([]*sql.SelectItem{}, s.Items...)
	it := *s.Items[item]
	it.Expr, it.Alias = &sql.ColumnRef{P: f.P, Parts: []string{"$row_number"}}, name
	ns.Items[item] = &it
	return r, nsc, &ns, nil
}

// rankBounds finds the `col <= N`, `col < N` and `col = N` conjuncts of a WHERE condition (N an integer
// literal, col a column of sc) for rankLimitPushdown, which pushes those on a Rank's row number into it.
func rankBounds(where sql.Expr, sc *scope) []RankBound {
	var conds []sql.Expr
	splitAnd(where, &conds)
	var out []RankBound
	for _, c := range conds {
		b, ok := unparen(c).(*sql.Binary)
		if !ok {
			continue
		}
		op, l, r := b.Op, unparen(b.L), unparen(b.R)
		if _, isLit := l.(*sql.Literal); isLit {
			l, r = r, l
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[op]
		}
		if op != "<=" && op != "<" && op != "=" {
			continue
		}
		ref, ok1 := l.(*sql.ColumnRef)
		lit, ok2 := r.(*sql.Literal)
		if !ok1 || !ok2 || lit.Kind != sql.LitInteger {
			continue
		}
		n, err := strconv.ParseInt(lit.Text, 10, 64)
		if err != nil {
			continue
		}
		idx, err := sc.resolve(ref)
		if err != nil {
			continue
		}
		out = append(out, RankBound{Col: idx, Op: op, N: n})
	}
	return out
}
