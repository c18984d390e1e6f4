package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// vperRow evaluates a pure expression that has no column kernel (an ARRAY[...] or MAP[...] constructor, a
// MAP lookup by a non-constant key) with the row path's own evaluator, one selected row at a time: the input
// columns it reads are read into one reused row, and its results are appended to a typed column. That is the
// row path's work for this expression only; the rest of the Calc stays on columns and no row is made for the
// batch. An error bails: the row path then evaluates the batch again and reports it. User function calls are
// not evaluated here but by vudf (calc_vec_udf.go), which records their results for such a retry.

// compilePerRow compiles x into a per-row kernel; nil when some part of x is of a kind whose column reads
// are not known, or calls a user function (calc_vec_udf.go).
func (c *vcompiler) compilePerRow(x expr.Expr) vexpr {
	if k := c.perRowOf(x, false); k != nil {
		return k
	}
	return nil
}

// perRowOf is the per-row evaluation of x; udf allows calls of user functions in it.
func (c *vcompiler) perRowOf(x expr.Expr, udf bool) *vperRow {
	k := &vperRow{x: x, out: vec.ColFor(x.Type())}
	seen := map[int]bool{}
	var walk func(e expr.Expr) bool
	walk = func(e expr.Expr) bool {
		if i, ok := expr.ColumnIndex(e); ok {
			if !seen[i] {
				seen[i] = true
				k.cols, k.types = append(k.cols, i), append(k.types, e.Type())
			}
			return true
		}
		if !udf && expr.IsUDFCall(e) {
			return false
		}
		kids, ok := expr.Children(e)
		if !ok {
			return false
		}
		for _, kid := range kids {
			if !walk(kid) {
				return false
			}
		}
		return true
	}
	if !walk(x) {
		return nil
	}
	w := 0
	for j, i := range k.cols {
		c.use(i, k.types[j])
		w = max(w, i+1)
	}
	k.row = make([]types.Value, w)
	return k
}

type vperRow struct {
	x     expr.Expr
	cols  []int        // input columns x reads
	types []types.Type // their types
	row   []types.Value
	out   *vec.Col
}

// readable reports whether b holds every column x reads.
func (k *vperRow) readable(b *vec.Batch) bool {
	for _, j := range k.cols {
		if j >= len(b.Cols) || b.Cols[j] == nil || b.Cols[j].Len() < b.N {
			return false
		}
	}
	return true
}

// load reads row i's values of the columns x reads into k.row.
func (k *vperRow) load(b *vec.Batch, i int) []types.Value {
	for _, j := range k.cols {
		k.row[j] = b.Cols[j].Value(i)
	}
	return k.row
}

func (k *vperRow) eval(b *vec.Batch) (*vec.Col, error) {
	if !k.readable(b) {
		return nil, errBail
	}
	out := k.out
	out.Reset(b.N)
	var err error
	ok := true
	selected(b, func(i int) bool {
		out.PadNulls(i)
		var v types.Value
		if v, err = k.x.Eval(k.load(b, i)); err != nil {
			return false
		}
		ok = out.Append(i, v)
		return ok
	})
	clear(k.row) // keep no value of the batch
	if err != nil || !ok {
		return nil, errBail
	}
	out.PadNulls(b.N)
	return out, nil
}
