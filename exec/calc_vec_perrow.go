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
// batch. An error bails: the row path then evaluates the batch again and reports it. User functions are not
// evaluated here (calc_vec.go: a retry would call them twice).

// compilePerRow compiles x into a per-row kernel; nil when some part of x is of a kind whose column reads
// are not known.
func (c *vcompiler) compilePerRow(x expr.Expr) vexpr {
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

func (k *vperRow) eval(b *vec.Batch) (*vec.Col, error) {
	for _, j := range k.cols {
		if j >= len(b.Cols) || b.Cols[j] == nil || b.Cols[j].Len() < b.N {
			return nil, errBail
		}
	}
	out := k.out
	out.Reset(b.N)
	var err error
	ok := true
	selected(b, func(i int) bool {
		out.PadNulls(i)
		for _, j := range k.cols {
			k.row[j] = b.Cols[j].Value(i)
		}
		var v types.Value
		if v, err = k.x.Eval(k.row); err != nil {
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
