package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// scopeCol is a column visible to expressions.
type scopeCol struct {
	qual string // table alias or name; "" when none
	name string
	typ  types.Type
}

// scope resolves column references. agg, when set, maps expressions of an aggregating SELECT onto the
// aggregate's output (group keys and aggregate results).
type scope struct {
	cols []scopeCol
	agg  *aggMap
}

func (s *scope) names() []string {
	var out []string
	for _, c := range s.cols {
		out = append(out, c.name)
	}
	return out
}

func scopeOf(fields []Field, qual string) *scope {
	sc := &scope{}
	for _, f := range fields {
		sc.cols = append(sc.cols, scopeCol{qual: qual, name: f.Name, typ: f.Type})
	}
	return sc
}

// resolve finds a column by (possibly qualified) name. A reference that names a field inside a ROW column
// (person.id) is refused here: callers that need a column (join keys, time attributes, PARTITION BY) get a
// positioned error asking for a column.
func (s *scope) resolve(ref *sql.ColumnRef) (int, error) {
	col, fields, err := s.resolvePath(ref)
	if err != nil {
		return -1, err
	}
	if len(fields) > 0 {
		return -1, sql.Errorf(ref.P, ErrUnsupported, "'%s' is a field of ROW column '%s', not a column; select it with an alias in a subquery first (SELECT %s AS %s ...)",
			sql.JoinIdents(ref.Parts), s.cols[col].name, sql.JoinIdents(ref.Parts), sql.QuoteIdentIfNeeded(fields[len(fields)-1]))
	}
	return col, nil
}

// resolvePath resolves a dotted name as Calcite does: first as table.column (when the first part names a
// table of the scope), else as column; the remaining parts are fields of that column's ROW type, returned
// for the caller to bind. Names are case-sensitive (Flink's default).
func (s *scope) resolvePath(ref *sql.ColumnRef) (col int, fields []string, err error) {
	parts := ref.Parts
	if len(parts) >= 2 {
		col, found, err := s.find(ref, parts[0], parts[1], parts[:2])
		if err != nil {
			return -1, nil, err
		}
		if found {
			return col, parts[2:], nil
		}
	}
	col, found, err := s.find(ref, "", parts[0], parts[:1])
	if err != nil {
		return -1, nil, err
	}
	if found {
		return col, parts[1:], nil
	}
	// db.t.col, cat.db.t.col: a table qualified by its database (and catalog).
	for k := 1; k <= 2 && k+1 < len(parts); k++ {
		col, found, err := s.find(ref, parts[k], parts[k+1], parts[:k+2])
		if err != nil {
			return -1, nil, err
		}
		if found {
			return col, parts[k+2:], nil
		}
	}
	if len(parts) >= 2 && s.hasQual(parts[0]) {
		var names []string
		for _, c := range s.cols {
			if c.qual == parts[0] {
				names = append(names, c.name)
			}
		}
		return -1, nil, sql.Errorf(ref.P, ErrValidation, "Column '%s' not found in table '%s'%s", parts[1], parts[0], didYouMean(parts[1], names, "columns"))
	}
	if len(parts) >= 2 {
		names := s.names()
		for _, c := range s.cols {
			if c.qual != "" && !slices.Contains(names, c.qual) {
				names = append(names, c.qual)
			}
		}
		return -1, nil, sql.Errorf(ref.P, ErrValidation, "Column '%s' not found in any table: no table or column is named '%s'%s", sql.JoinIdents(parts), parts[0], didYouMean(parts[0], names, "tables and columns"))
	}
	return -1, nil, sql.Errorf(ref.P, ErrValidation, "Column '%s' not found in any table%s", sql.JoinIdents(parts), didYouMean(parts[0], s.names(), "columns"))
}

// find looks for the column name (of table qual when qual is not empty); more than one match is an error.
func (s *scope) find(ref *sql.ColumnRef, qual, name string, shown []string) (int, bool, error) {
	found := -1
	for i, c := range s.cols {
		if c.name != name || (qual != "" && c.qual != qual) {
			continue
		}
		if found >= 0 {
			return -1, false, sql.Errorf(ref.P, ErrValidation, "Column '%s' is ambiguous", sql.JoinIdents(shown))
		}
		found = i
	}
	return found, found >= 0, nil
}

func (s *scope) hasQual(q string) bool {
	for _, c := range s.cols {
		if c.qual == q {
			return true
		}
	}
	return false
}

// didYouMean suggests the closest of names to name (edit distance below 3, ignoring case), else lists
// them all: " (did you mean x?)" or "; available columns: a, b".
func didYouMean(name string, names []string, what string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := catalog.Levenshtein(strings.ToLower(n), strings.ToLower(name)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", sql.QuoteIdentIfNeeded(best))
	}
	if len(names) == 0 {
		return ""
	}
	var qn []string
	for _, n := range names {
		qn = append(qn, sql.QuoteIdentIfNeeded(n))
	}
	return "; available " + what + ": " + strings.Join(qn, ", ")
}

// fieldPath binds fields of the ROW-typed x one after the other (person.id, a.b.c). path is the text
// shown in errors; p the position of the reference.
func (b *binder) fieldPath(p sql.Pos, x expr.Expr, path string, fields []string) (expr.Expr, error) {
	for _, f := range fields {
		t := x.Type()
		if t.Kind != types.Row {
			return nil, sql.Errorf(p, ErrValidation, "Cannot access field '%s' in %s: %s is of type %s, not a ROW", f, path, x.String(), t)
		}
		var names []string
		ok := false
		for _, tf := range t.Fields {
			names = append(names, tf.Name)
			ok = ok || tf.Name == f
		}
		if !ok {
			return nil, sql.Errorf(p, ErrValidation, "Unknown field '%s' in %s%s", f, path, didYouMean(f, names, "fields of "+x.String()))
		}
		fx, err := b.call(p, "FIELD", x, expr.Literal(types.StringValue(f), types.StringType().WithNullable(false)))
		if err != nil {
			return nil, err
		}
		x = fx
	}
	return x, nil
}

// groupRef finds the GROUP BY expression that is the same column path as ref, resolved in the input.
func (m *aggMap) groupRef(ref *sql.ColumnRef) (int, bool) {
	if m.in == nil {
		return -1, false
	}
	key := func(r *sql.ColumnRef) (string, bool) {
		col, fields, err := m.in.resolvePath(r)
		if err != nil {
			return "", false
		}
		return strconv.Itoa(col) + "." + strings.Join(fields, "."), true
	}
	want, ok := key(ref)
	if !ok {
		return -1, false
	}
	for i, g := range m.groupExpr {
		for {
			p, isParen := g.(*sql.Paren)
			if !isParen {
				break
			}
			g = p.X
		}
		if gr, isRef := g.(*sql.ColumnRef); isRef {
			if k, ok := key(gr); ok && k == want {
				return i, true
			}
		}
	}
	return -1, false
}

// uniqueNames makes n names unique in order, as Calcite does for a SELECT list: a repeated name gets a
// numeric suffix (SELECT person.id, auction.id gives id, id0).
func uniqueNames(n int, name func(i int) *string) {
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		p := name(i)
		base := *p
		for k := 0; seen[*p]; k++ {
			*p = fmt.Sprintf("%s%d", base, k)
		}
		seen[*p] = true
	}
}
