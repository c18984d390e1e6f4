package exec

import (
	"errors"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// calcVec is the vectorized form of a Calc: its filter and projections compiled into kernels.
type calcVec struct {
	filter   vexpr   // nil: no filter
	projects []vexpr // nil entries: a plain column reference (pass[j])
	pass     []int
	reads    []int        // input columns the kernels read
	inTypes  []types.Type // by input column
	flatOut  bool         // every output column is a flat typed column (no ROW, no other composite)

	in       vec.Batch // row input converted to columns
	view     vec.Batch // the input with the filter's selection
	out      vec.Batch
	cols     []*vec.Col
	sel      []int32
	inConv   vec.RowConv
	outConv  vec.RowConv
	rowsOnly bool // the row path is as fast (no filter, every projection a column reference)
	bails    int  // batches that took the row path after the kernels bailed (for tests)

	runs        uint64 // runs so far: shared subexpressions evaluate once per run (calc_vec_memo.go)
	memoKernels int    // shared subexpressions compiled (for tests)

	// With user function calls in the kernels (calc_vec_udf.go): the row path's filter and projections
	// with the calls replaced by replays of the kernels' results, and the replays' cursor.
	udfs        bool
	udfKernels  map[expr.Expr]*vudf
	rowFilter   expr.Expr
	rowProjects []expr.Expr
	replay      replayCursor
}

// compileCalc compiles a Calc's filter and projections; nil when some part has no vector form.
func compileCalc(projects []expr.Expr, filter expr.Expr) *calcVec {
	placed := udfPlaced(filter)
	for _, p := range projects {
		placed = placed && udfPlaced(p)
	}
	if !placed {
		return compileCalcWith(projects, filter, false)
	}
	if v := compileCalcWith(projects, filter, true); v != nil {
		if !v.udfs {
			return v
		}
		rows, ok := withReplays(append([]expr.Expr{filter}, projects...), v.udfKernels, &v.replay)
		if ok {
			v.rowFilter, v.rowProjects = rows[0], rows[1:]
			if projects == nil {
				v.rowProjects = nil
			}
			return v
		}
	}
	return compileCalcWith(projects, filter, false)
}

// compileCalcWith compiles with or without calls of user functions.
func compileCalcWith(projects []expr.Expr, filter expr.Expr, udfs bool) *calcVec {
	v := &calcVec{flatOut: projects != nil, rowsOnly: filter == nil}
	c := &vcompiler{run: &v.runs, udfs: udfs}
	if shared := countShared(append([]expr.Expr{filter}, projects...)); len(shared) > 0 {
		c.shared, c.memos, c.run = shared, map[string]*vmemo{}, &v.runs
	}
	if filter != nil {
		if v.filter = c.compile(filter); v.filter == nil {
			return nil
		}
	}
	for _, p := range projects {
		k := vec.ColFor(p.Type()).Kind
		v.flatOut = v.flatOut && k != vec.Struct && k != vec.Values
		if i, ok := expr.ColumnIndex(p); ok {
			v.projects, v.pass = append(v.projects, nil), append(v.pass, i)
			continue
		}
		kp := c.compile(p)
		if kp == nil {
			return nil
		}
		v.rowsOnly = false
		v.projects, v.pass = append(v.projects, kp), append(v.pass, -1)
	}
	v.reads, v.inTypes, v.memoKernels = c.reads(), c.inTypes, c.memoKernels
	v.udfs, v.udfKernels = len(c.udfKernels) > 0, c.udfKernels
	// Row input is converted to columns only when the kernels read fixed-width columns: copying strings and
	// nested ROWs into columns costs more than evaluating them row by row.
	for _, i := range v.reads {
		if k := vec.ColFor(v.inTypes[i]).Kind; k != vec.Int64 && k != vec.Float64 && k != vec.Bool && k != vec.Dec128 {
			v.rowsOnly = true
		}
	}
	return v
}

// run evaluates the filter and the projections over b: the selected rows (nil: all of b's) and v.cols.
func (v *calcVec) run(b *vec.Batch) ([]int32, error) {
	v.runs++ // shared subexpressions' columns of the last run are stale
	sel := b.Sel
	if v.filter != nil {
		c, err := v.filter.eval(b)
		if err != nil {
			return nil, err
		}
		if c.Kind != vec.Bool {
			return nil, errBail
		}
		if cap(v.sel) < b.N || v.sel == nil {
			v.sel = make([]int32, 0, max(b.N, 1)) // never nil: an empty selection is not "all rows"
		}
		s, bs, nulls := v.sel[:0], c.B[:b.N], c.Nulls
		switch {
		case b.Sel == nil && !nulls.Any():
			for i, t := range bs {
				if t {
					s = append(s, int32(i))
				}
			}
		case b.Sel == nil:
			for i, t := range bs {
				if t && !nulls.Get(i) {
					s = append(s, int32(i))
				}
			}
		default:
			for _, i := range b.Sel {
				if bs[i] && !nulls.Get(int(i)) {
					s = append(s, i)
				}
			}
		}
		v.sel, sel = s, s
	}
	v.view = *b // a field, not a local: the kernels take it through an interface, which would allocate it
	v.view.Sel = sel
	view := &v.view
	v.cols = v.cols[:0]
	for j, p := range v.projects {
		if p == nil {
			if b.Cols != nil && v.pass[j] < len(b.Cols) {
				v.cols = append(v.cols, b.Cols[v.pass[j]])
			} else {
				v.cols = append(v.cols, nil)
			}
			continue
		}
		c, err := p.eval(view)
		if err != nil {
			return nil, err
		}
		v.cols = append(v.cols, c)
	}
	return sel, nil
}

// replayOn makes the row path's retry of the last run's batch (n rows) replay the user functions' results.
func (v *calcVec) replayOn(n int) {
	if v.udfs {
		v.replay = replayCursor{active: true, run: v.runs, n: n}
	}
}

// pushRows is the vectorized path for row input: it reports false when the batch must take the row path.
func (c *calc) pushRows(b *changelog.Batch) (bool, error) {
	v := c.vx
	if !vec.FromRows(&v.in, b.Rows, v.inTypes, v.reads) {
		return false, nil
	}
	sel, err := v.run(&v.in)
	if err != nil {
		v.bails++
		v.replayOn(v.in.N)
		return false, nil // errBail: the row path decides
	}
	n := len(b.Rows)
	if sel != nil {
		n = len(sel)
	}
	c.batch.Reset()
	w := len(c.projects)
	if need := n * w; cap(c.arena) < need {
		c.arena = make([]types.Value, need)
	} else {
		c.arena = c.arena[:need]
	}
	for k := 0; k < n; k++ {
		i := k
		if sel != nil {
			i = int(sel[k])
		}
		r := b.Rows[i]
		if c.projects == nil {
			c.batch.Append(r.Kind, r.Vals)
			continue
		}
		vals := c.arena[k*w : (k+1)*w : (k+1)*w]
		for j, col := range v.cols {
			if col == nil || v.pass[j] >= 0 {
				vals[j] = r.Vals[v.pass[j]]
			} else {
				vals[j] = col.Value(i)
			}
		}
		c.batch.Append(r.Kind, vals)
	}
	if len(c.batch.Rows) == 0 && len(b.Rows) > 0 {
		return true, nil
	}
	return true, c.out.Push(&c.batch)
}

// PushColumns filters and projects a columnar batch with the kernels and passes columns on; a batch the
// kernels cannot compute exactly takes the row path.
func (c *calc) PushColumns(b *vec.Batch) error {
	v := c.vx
	if v == nil {
		var conv vec.RowConv
		return c.Push(conv.Rows(b))
	}
	sel, err := v.run(b)
	if err != nil {
		if !errors.Is(err, errBail) {
			return err
		}
		v.bails++
		v.replayOn(b.N)
		return c.pushRowPath(v.inConv.Rows(b), b.Sel)
	}
	if sel != nil && len(sel) == 0 && b.Len() > 0 {
		return nil
	}
	v.out = vec.Batch{N: b.N, Kinds: b.Kinds, Sel: sel, Cols: b.Cols}
	if c.projects != nil {
		v.out.Cols = v.cols
	}
	return vec.Push(c.out, &v.out, &v.outConv)
}

// AcceptsColumns: the kernels cover the Calc, and its output is flat or taken as columns downstream.
func (c *calc) AcceptsColumns() bool {
	return c.vx != nil && (c.vx.flatOut || vec.Accepts(c.out))
}

var _ vec.Output = (*calc)(nil)

// pushCols pushes b to out, as columns when out takes them, else as rows.
func pushCols(out changelog.Output, b *vec.Batch) error {
	if o, ok := out.(vec.Output); ok {
		return o.PushColumns(b)
	}
	var conv vec.RowConv
	return out.Push(conv.Rows(b))
}

func (c *counter) PushColumns(b *vec.Batch) error {
	c.n.Add(int64(b.Len()))
	return pushCols(c.out, b)
}

func (c *counter) AcceptsColumns() bool {
	return vec.Accepts(c.out)
}

var _ vec.Output = (*counter)(nil)

// wmVec is the watermark assigner's compiled rowtime.
type wmVec struct {
	rowtime vexpr
	conv    vec.RowConv
}

func (w *watermarkAssigner) compiled() *wmVec {
	if w.vx == nil {
		w.vx = &wmVec{rowtime: (&vcompiler{}).compile(w.rowtime)}
	}
	return w.vx
}

// PushColumns computes the batch's maximum rowtime with the compiled expression and passes the columns on.
func (w *watermarkAssigner) PushColumns(b *vec.Batch) error {
	vx := w.compiled()
	if vx.rowtime == nil {
		return w.Push(vx.conv.Rows(b))
	}
	c, err := vx.rowtime.eval(b)
	if err != nil || c.Kind != vec.Int64 {
		return w.Push(vx.conv.Rows(b))
	}
	batchMax := int64(minWatermark)
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		if !c.Nulls.Get(i) {
			batchMax = max(batchMax, c.I64[i])
		}
	}
	w.max = max(w.max, batchMax)
	if b.Len() > 0 {
		if err := pushCols(w.out, b); err != nil {
			return err
		}
	}
	return w.afterBatch(batchMax, b.Len())
}

func (w *watermarkAssigner) AcceptsColumns() bool {
	return w.compiled().rowtime != nil && vec.Accepts(w.out)
}

var _ vec.Output = (*watermarkAssigner)(nil)
