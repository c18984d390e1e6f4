package exec

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/vec"
)

// Common subexpressions of one Calc. Nexmark q21 calls REGEXP_EXTRACT(url, ...) in its filter and again in
// its CASE, and lower(channel) five times: a deterministic subexpression that occurs more than once among
// a Calc's filter and projections compiles into one kernel, evaluated once per batch and read by every
// occurrence.
//
// Selections: a kernel computes at least the selected rows of its batch, and CASE (with COALESCE, IF and
// NULLIF, calc_vec_cond.go) evaluates a condition only on the rows no earlier condition took and a branch
// only on the rows that take it, as the row path does. So an occurrence may be evaluated under a selection
// its first evaluation did not cover: the memo keeps the selection it computed under and reuses its column
// only for a subset of it; otherwise it computes again under the union of both. That rewrites the column
// in place (kernels return their own buffers, or an operand's) with the same values for the rows computed
// before: the kernels are deterministic, and a reader holding the column (a CASE merging its branches, the
// Calc's earlier projections) sees the rows it read unchanged. Kernels write only into their own buffers,
// never into an operand's column, so sharing the column is safe until the next run.

// vmemo evaluates its kernel once per run of the Calc (again only for rows of a selection it did not
// compute under).
type vmemo struct {
	k   vexpr
	run *uint64 // the Calc's run counter
	at  uint64  // the run the column was computed in
	col *vec.Col
	all bool    // the column was computed for every row
	sel []int32 // else for these rows (a copy)

	union []int32   // storage of the union of two selections
	view  vec.Batch // the batch under the union (a field: passed through an interface)

	evals int // evaluations of k (for tests)
}

func (m *vmemo) eval(b *vec.Batch) (*vec.Col, error) {
	again := m.col != nil && m.at == *m.run
	if again && (m.all || selSubset(b.Sel, m.sel, b.N)) {
		return m.col, nil
	}
	m.evals++
	in := b
	if again && b.Sel != nil {
		m.union = selUnion(m.union[:0], m.sel, b.Sel)
		m.view = *b
		m.view.Sel = m.union
		in = &m.view
	}
	c, err := m.k.eval(in)
	m.view.Cols = nil // hold no batch beyond the call
	if err != nil {
		m.col = nil
		return nil, err
	}
	m.col, m.at = c, *m.run
	m.all = in.Sel == nil
	if !m.all {
		m.sel = append(m.sel[:0], in.Sel...)
	}
	return c, nil
}

// selSubset reports whether the selection sub (nil: all n rows) is within sup (a selection, ascending).
func selSubset(sub, sup []int32, n int) bool {
	if sub == nil {
		return len(sup) == n
	}
	if len(sub) > len(sup) {
		return false
	}
	j := 0
	for _, i := range sub {
		for j < len(sup) && sup[j] < i {
			j++
		}
		if j == len(sup) || sup[j] != i {
			return false
		}
		j++
	}
	return true
}

// selUnion appends the union of two ascending selections to dst.
func selUnion(dst, a, b []int32) []int32 {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			dst = append(dst, a[i])
			i++
		case a[i] > b[j]:
			dst = append(dst, b[j])
			j++
		default:
			dst = append(dst, a[i])
			i, j = i+1, j+1
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// memoKey is x's identity for sharing, or "" when x must not be shared: a column or a literal (nothing to
// save), or an expression holding a part that is not deterministic or whose kind is not known (volatile
// calls such as PROCTIME(), Go functions). The key is the printed expression with every node's type and
// every column's index in walk order, so that two columns of one name or two literals printed alike but
// typed differently do not meet.
func memoKey(x expr.Expr) string {
	if _, ok := expr.ColumnIndex(x); ok {
		return ""
	}
	if _, ok := expr.LiteralOf(x); ok {
		return ""
	}
	var sb strings.Builder
	sb.WriteString(x.String())
	if !memoWalk(x, &sb) {
		return ""
	}
	return sb.String()
}

func memoWalk(x expr.Expr, sb *strings.Builder) bool {
	sb.WriteByte('|')
	sb.WriteString(x.Type().String())
	if i, ok := expr.ColumnIndex(x); ok {
		sb.WriteString("$" + strconv.Itoa(i))
		return true
	}
	if _, ok := expr.LiteralOf(x); ok {
		return true
	}
	_, _, callOK := expr.CallParts(x)
	_, _, _, castOK := expr.CastParts(x)
	_, _, _, caseOK := expr.CaseParts(x)
	_, _, _, _, _, inOK := expr.InSetParts(x)
	if !callOK && !castOK && !caseOK && !inOK {
		return false
	}
	kids, ok := expr.Children(x)
	if !ok {
		return false
	}
	for _, k := range kids {
		if !memoWalk(k, sb) {
			return false
		}
	}
	return true
}

// countShared counts the occurrences of every shareable subexpression of xs (nil entries skipped).
func countShared(xs []expr.Expr) map[string]int {
	counts := map[string]int{}
	var walk func(x expr.Expr)
	walk = func(x expr.Expr) {
		if key := memoKey(x); key != "" {
			counts[key]++
		}
		if kids, ok := expr.Children(x); ok {
			for _, k := range kids {
				walk(k)
			}
		}
	}
	for _, x := range xs {
		if x != nil {
			walk(x)
		}
	}
	for k, n := range counts {
		if n < 2 {
			delete(counts, k)
		}
	}
	return counts
}

// memoized returns the shared kernel of x when x occurs more than once in the Calc; compiled reports
// whether the caller should return k (possibly nil: x has no vector form).
func (c *vcompiler) memoized(x expr.Expr) (k vexpr, compiled bool) {
	if c.shared == nil {
		return nil, false
	}
	key := memoKey(x)
	if key == "" || key == c.compiling || c.shared[key] == 0 {
		return nil, false
	}
	if m, ok := c.memos[key]; ok {
		if m == nil {
			return nil, true
		}
		return m, true
	}
	outer := c.compiling
	c.compiling = key // compile x itself below, not its memo
	inner := c.compile(x)
	c.compiling = outer
	if inner == nil {
		c.memos[key] = nil
		return nil, true
	}
	m := &vmemo{k: inner, run: c.run}
	c.memos[key] = m
	c.memoKernels++
	return m, true
}
