package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// User-defined scalar functions in a Calc's kernels, called once per row. A call (with its arguments) runs
// the row path's evaluator per selected row, fed from the columns (vperRow's reads), and records each
// row's result or error for the run (udfRecord). A batch whose kernels bail (a later kernel, or the call's
// own error, which bails at its first failing row) takes the row path with the Calc's row expressions in
// which every outermost call is a udfReplay: for a row the kernel computed in this run it returns the
// recorded value or error instead of calling the function again, for other rows it calls it (and records
// it). So every call site runs at most once per row and batch whatever bails, the row path reports a
// function's error exactly as it would have (same row, same expression, same message), and a function
// that fails once fails the push. The row path's own order decides which error is reported; a call the
// kernels made on a row after the failing row the row path stops at is not undone.
//
// The kernels call a function on the rows the row path calls it on only where they evaluate its call on
// exactly the rows the row path evaluates it on: a filter or projection itself, any part of CASE, COALESCE,
// IFNULL, IF, AND and OR (evaluated lazily, as the row path: calc_vec_cond.go, calc_vec_logic.go), the
// first argument of any other call, the operand of a cast or IN. A later argument of another call is
// evaluated by its kernel on every selected row, while the row path skips it after a NULL (idx + f(x)
// calls f only where idx is not NULL): a Calc with a call there stays on the row path (udfPlaced).
//
// Compiled only in a Calc (vcompiler.udfs): other users of the kernels (the watermark assigner) retry a
// batch without replay. A Calc whose expressions cannot be rebuilt with replays (expr.ReplaceUDFCalls:
// calls of Go functions) compiles without user functions, which keeps it on the row path.

// udfRecord holds one call site's results of one run, by batch row.
type udfRecord struct {
	at     uint64     // the run the records belong to
	done   vec.Bitmap // rows computed in that run
	vals   []types.Value
	err    error // the first error, at errRow (the kernel stops there)
	errRow int
}

// reset empties the record for run at over n rows.
func (r *udfRecord) reset(at uint64, n int) {
	r.at, r.err, r.errRow = at, nil, -1
	r.done = vec.ResetBitmap(r.done, n)
	clear(r.vals)
	if cap(r.vals) < n {
		r.vals = make([]types.Value, n)
	}
	r.vals = r.vals[:n]
}

// get returns row i's recorded result, if any.
func (r *udfRecord) get(i int) (types.Value, error, bool) {
	if !r.done.Get(i) {
		return types.NullValue, nil, false
	}
	if i == r.errRow {
		return types.NullValue, r.err, true
	}
	return r.vals[i], nil, true
}

// put records row i's result.
func (r *udfRecord) put(i int, v types.Value, err error) {
	r.done.Set(i)
	if err != nil {
		if r.err == nil {
			r.err, r.errRow = err, i
		}
		return
	}
	r.vals[i] = v
}

// vudf is a call of a user function (x, arguments included), evaluated per selected row.
type vudf struct {
	per *vperRow
	run *uint64 // the Calc's run counter
	rec udfRecord
}

// compileUDF compiles the call x; a call site compiled twice (one node read by the filter and a projection)
// shares its kernel and records.
func (c *vcompiler) compileUDF(x expr.Expr) vexpr {
	if k, ok := c.udfKernels[x]; ok {
		return k
	}
	per := c.perRowOf(x, true)
	if per == nil {
		return nil
	}
	k := &vudf{per: per, run: c.run}
	if c.udfKernels == nil {
		c.udfKernels = map[expr.Expr]*vudf{}
	}
	c.udfKernels[x] = k
	return k
}

func (k *vudf) eval(b *vec.Batch) (*vec.Col, error) {
	p := k.per
	if !p.readable(b) {
		return nil, errBail
	}
	if k.rec.at != *k.run || len(k.rec.vals) != b.N {
		k.rec.reset(*k.run, b.N)
	}
	out := p.out
	out.Reset(b.N)
	var err error
	ok := true
	selected(b, func(i int) bool {
		out.PadNulls(i)
		v, rerr, seen := k.rec.get(i)
		if !seen {
			v, rerr = p.x.Eval(p.load(b, i))
			k.rec.put(i, v, rerr)
		}
		if err = rerr; err != nil {
			return false
		}
		ok = out.Append(i, v)
		return ok
	})
	clear(p.row)
	if err != nil || !ok {
		return nil, errBail // the row path replays the records and reports the error
	}
	out.PadNulls(b.N)
	return out, nil
}

// replayCursor tells the replays which batch row the row path evaluates, while it retries a batch the
// kernels bailed on (active).
type replayCursor struct {
	active bool
	run    uint64 // the run whose records are replayed
	n      int    // the batch's rows
	row    int
}

// udfReplay stands for a call site in the row path's expressions (expr.Expr).
type udfReplay struct {
	x   expr.Expr
	k   *vudf
	cur *replayCursor
}

func (r *udfReplay) Type() types.Type { return r.x.Type() }
func (r *udfReplay) String() string   { return r.x.String() }

func (r *udfReplay) Eval(row []types.Value) (types.Value, error) {
	cur := r.cur
	if !cur.active {
		return r.x.Eval(row)
	}
	rec := &r.k.rec
	if rec.at != cur.run || len(rec.vals) != cur.n {
		rec.reset(cur.run, cur.n)
	}
	if v, err, ok := rec.get(cur.row); ok {
		return v, err
	}
	v, err := r.x.Eval(row)
	rec.put(cur.row, v, err)
	return v, err
}

// udfPlaced reports whether every user function call in x is where the kernels evaluate it on the rows
// the row path does (above).
func udfPlaced(x expr.Expr) bool {
	if x == nil || expr.IsUDFCall(x) {
		return true // inside a call: the row path's evaluator
	}
	kids, ok := expr.Children(x)
	if !ok {
		return true // no kernel evaluates inside an unknown kind
	}
	lazy := false
	if name, _, ok := expr.CallParts(x); ok {
		switch name {
		case "COALESCE", "IFNULL", "IF", "AND", "OR":
			lazy = true
		}
	} else if _, _, _, ok := expr.CaseParts(x); ok {
		lazy = true
	}
	for j, k := range kids {
		if j > 0 && !lazy && hasUDFCall(k) {
			return false
		}
		if !udfPlaced(k) {
			return false
		}
	}
	return true
}

// hasUDFCall reports whether x calls a user function.
func hasUDFCall(x expr.Expr) bool {
	if expr.IsUDFCall(x) {
		return true
	}
	kids, _ := expr.Children(x)
	for _, k := range kids {
		if hasUDFCall(k) {
			return true
		}
	}
	return false
}

// withReplays returns the Calc's expressions for its row path: every user function call the kernels
// compiled replaced by its replay; false when they cannot be rebuilt.
func withReplays(xs []expr.Expr, kernels map[expr.Expr]*vudf, cur *replayCursor) ([]expr.Expr, bool) {
	var out []expr.Expr
	if xs != nil {
		out = make([]expr.Expr, len(xs))
	}
	for j, x := range xs {
		if x == nil {
			continue
		}
		y, ok := expr.ReplaceUDFCalls(x, func(call expr.Expr) expr.Expr {
			k := kernels[call]
			if k == nil {
				return call // not compiled (the Calc is then not on kernels): called as it is
			}
			return &udfReplay{x: call, k: k, cur: cur}
		})
		if !ok {
			return nil, false
		}
		out[j] = y
	}
	return out, true
}
