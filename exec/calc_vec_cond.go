package exec

import (
	"math"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// COALESCE, IFNULL, IF and NULLIF compile into the CASE kernel (vcase), as their SQL definitions:
// COALESCE(a, b, c) is CASE WHEN a IS NOT NULL THEN a WHEN b IS NOT NULL THEN b ELSE c END, IFNULL(a, b) is
// COALESCE(a, b), IF(c, a, b) is CASE WHEN c THEN a ELSE b END and NULLIF(a, b) is CASE WHEN a = b THEN NULL
// ELSE a END. An argument read by a condition and as a result is evaluated once per run (vmemo). As the row
// path, a later argument or branch is evaluated only on the rows that need it (vcase): one that fails on
// rows an earlier argument covers does not make the batch bail.

// compileCond compiles the calls above; nil for other names or operands without kernels.
func (c *vcompiler) compileCond(x expr.Expr, name string, args []expr.Expr) vexpr {
	rt := x.Type()
	switch name {
	case "COALESCE", "IFNULL":
		if len(args) < 2 {
			return nil
		}
		var conds, results []expr.Expr
		for _, a := range args[:len(args)-1] {
			conds, results = append(conds, nil), append(results, a)
		}
		return c.caseOf(rt, conds, results, args[len(args)-1])
	case "IF":
		if len(args) != 3 {
			return nil
		}
		return c.caseOf(rt, args[:1], args[1:2], args[2])
	case "NULLIF":
		if len(args) != 2 {
			return nil
		}
		if isNested(rt) {
			return c.compileNullIfNested(x, rt, args[0], args[1])
		}
		eq := c.compileCompare("=", args[0], args[1])
		if eq == nil {
			return nil
		}
		null := c.compile(expr.Literal(types.NullValue, rt))
		a := c.compile(args[0])
		if null == nil || a == nil || args[0].Type().Kind != rt.Kind || rt.Kind == types.Decimal && args[0].Type().Scale != rt.Scale {
			return nil
		}
		return &vcase{typ: rt, conds: []vexpr{eq}, results: []vexpr{null}, els: a}
	}
	return nil
}

// caseOf compiles CASE WHEN conds[i] THEN results[i] ... ELSE els END; a nil condition is "results[i] IS
// NOT NULL", its result then evaluated once.
func (c *vcompiler) caseOf(rt types.Type, conds, results []expr.Expr, els expr.Expr) vexpr {
	same := func(t types.Type) bool {
		return t.Kind == rt.Kind && (rt.Kind != types.Decimal || t.Scale == rt.Scale)
	}
	k := &vcase{typ: rt}
	for i := range results {
		kr := c.compileOperand(results[i])
		if kr == nil || !same(results[i].Type()) {
			return nil
		}
		var kc vexpr
		if conds[i] == nil {
			kr = c.once(kr)
			kc = &visnull{x: kr, not: true}
		} else if kc = c.compile(conds[i]); kc == nil {
			return nil
		}
		k.conds, k.results = append(k.conds, kc), append(k.results, kr)
	}
	if k.els = c.compileOperand(els); k.els == nil || !same(els.Type()) {
		return nil
	}
	return k
}

// once wraps a kernel read twice in one run so that it is evaluated once (columns and literals cost
// nothing: they are not wrapped).
func (c *vcompiler) once(k vexpr) vexpr {
	switch k.(type) {
	case *vcol, *vlit, *vmemo:
		return k
	}
	if c.run == nil {
		return k // compiled outside a Calc: evaluated twice, with the same result
	}
	return &vmemo{k: k, run: c.run}
}

// compileNegAbs compiles unary minus and ABS of integers, intervals (minus only), FLOAT/DOUBLE and DECIMAL,
// as the row path: integers wrap to their width, decimals are exact.
func (c *vcompiler) compileNegAbs(abs bool, x expr.Expr) vexpr {
	t := x.Type()
	k := &vnegAbs{abs: abs}
	switch {
	case t.IsIntegral() || !abs && (t.Kind == types.IntervalYearMonth || t.Kind == types.IntervalDayTime):
		k.sh = 64 - intWidth(t.Kind)
		k.tag = types.TagInt
	case isFloat(t):
		k.float = true
	case t.Kind == types.Decimal:
		k.tag = types.TagDecimal
	default:
		return nil
	}
	if k.x = c.compile(x); k.x == nil {
		return nil
	}
	return k
}

// vnegAbs is -x or ABS(x).
type vnegAbs struct {
	x     vexpr
	abs   bool
	float bool
	tag   types.Tag
	sh    uint // integers: 64 - width
	out   vec.Col
}

func (k *vnegAbs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	n := b.N
	switch {
	case k.float:
		if x.Kind != vec.Float64 {
			return nil, errBail
		}
		k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: x.Nulls}
		for i, v := range x.F64[:n] {
			if k.abs {
				k.out.F64[i] = math.Abs(v)
			} else {
				k.out.F64[i] = -v
			}
		}
	case x.Kind == vec.Dec128:
		k.out = vec.Col{Kind: vec.Dec128, Tag: types.TagDecimal, Scale: x.Scale, D128: k.out.D128[:0], Nulls: x.Nulls}
		for _, v := range x.D128[:n] {
			if !k.abs || v.Sign() < 0 {
				v = v.Neg()
			}
			k.out.D128 = append(k.out.D128, v)
		}
	case x.Kind == vec.Int64:
		k.out = vec.Col{Kind: vec.Int64, Tag: k.tag, Scale: x.Scale, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
		for i, v := range x.I64[:n] {
			if !k.abs || v < 0 {
				v = (-v) << k.sh >> k.sh
			}
			k.out.I64[i] = v
		}
	default:
		return nil, errBail
	}
	return &k.out, nil
}

// vcase is a searched CASE whose results have the CASE's representation. As the row path, each condition
// is evaluated only on the rows no earlier condition took (TRUE), each branch only on the rows that take
// it and ELSE on the rest: a branch that would fail (a division by zero, a CAST) on rows it does not
// compute does not make the batch bail. The sub-selections live in the kernel's buffers, rewritten by its
// next evaluation.
type vcase struct {
	typ     types.Type
	conds   []vexpr
	results []vexpr
	els     vexpr
	rc      []*vec.Col // per branch (ELSE last): its column, nil where no row takes it
	pick    []int8     // per row: the branch taken, -1 for ELSE (no ELSE: NULL), -2 not selected
	rest    [][]int32  // per condition: the rows still open after it
	took    [][]int32  // per branch: the rows taking it
	views   []vec.Batch
	zero    *vec.Col // the CASE's column representation, for a batch where no branch is computed
	out     vec.Col
	strs    vec.Col // the Bytes output's storage, kept across batches
	nest    vec.Col // a ROW, ARRAY or MAP output's storage (calc_vec_casenested.go)
	idx     []int32 // 0, 1, ...: one-row slices for AppendRows
	d128    []vec.Int128
	nanos   []int32
	nb      vec.Bitmap
}

const (
	caseElse  = -1
	caseNoRow = -2
)

// narrow returns b under the selection sel, in the kernel's view slot j.
func (k *vcase) narrow(b *vec.Batch, j int, sel []int32) *vec.Batch {
	k.views[j] = vec.Batch{N: b.N, Kinds: b.Kinds, Sel: sel, Cols: b.Cols}
	return &k.views[j]
}

func (k *vcase) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	nb := len(k.results) + 1
	if len(k.conds) > 127 {
		return nil, errBail
	}
	if len(k.rc) != nb {
		k.rc = make([]*vec.Col, nb)
		k.rest, k.took = make([][]int32, len(k.conds)), make([][]int32, nb)
		k.views = make([]vec.Batch, 2*nb)
		k.zero = vec.ColFor(k.typ)
	}
	clear(k.rc)
	if cap(k.pick) < n {
		k.pick = make([]int8, n)
	}
	pick := k.pick[:n]
	open := b // the rows no condition took yet
	if b.Sel == nil {
		for i := range pick {
			pick[i] = caseElse
		}
	} else {
		for i := range pick {
			pick[i] = caseNoRow
		}
		for _, i := range b.Sel {
			pick[i] = caseElse
		}
	}
	for j, c := range k.conds {
		if open.Len() == 0 {
			break
		}
		cc, err := c.eval(open)
		if err != nil {
			return nil, err
		}
		if cc.Kind != vec.Bool {
			return nil, errBail
		}
		if cap(k.took[j]) < n || k.took[j] == nil {
			k.took[j], k.rest[j] = make([]int32, 0, max(n, 1)), make([]int32, 0, max(n, 1)) // never nil: nil is all rows
		}
		took, rest := splitTrue(open, cc, k.took[j][:0], k.rest[j][:0])
		k.took[j], k.rest[j] = took, rest
		if len(took) == 0 {
			continue
		}
		for _, i := range took {
			pick[i] = int8(j)
		}
		in := open // every open row takes branch j: the same selection (a memo read by the condition covers it)
		if len(rest) > 0 {
			in = k.narrow(b, 2*j, took)
		}
		if k.rc[j], err = k.results[j].eval(in); err != nil {
			return nil, err
		}
		open = k.narrow(b, 2*j+1, rest)
	}
	if k.els != nil && open.Len() > 0 {
		ec, err := k.els.eval(open)
		if err != nil {
			return nil, err
		}
		k.rc[nb-1] = ec
	}
	for j := range k.views {
		k.views[j].Cols = nil // hold no batch beyond the call
	}
	return k.merge(pick, n)
}

// merge builds the CASE's column from the branch columns by the branch each row took.
func (k *vcase) merge(pick []int8, n int) (*vec.Col, error) {
	first := k.zero
	for _, r := range k.rc {
		if r != nil {
			first = r
			break
		}
	}
	kind := first.Kind
	for _, r := range k.rc {
		if r != nil && r.Kind != kind {
			return nil, errBail
		}
	}
	els := len(k.rc) - 1
	k.nb = vec.ResetBitmap(k.nb, n)
	anyNull := false
	// src is the column row i takes its value from; nil for NULL (a NULL value or no ELSE) and for a row
	// not selected (left zero, not NULL).
	src := func(i int) *vec.Col {
		j := int(pick[i])
		switch j {
		case caseNoRow:
			return nil
		case caseElse:
			j = els
		}
		r := k.rc[j]
		if r == nil || r.Nulls.Get(i) {
			k.nb.Set(i)
			anyNull = true
			return nil
		}
		return r
	}
	k.out = vec.Col{Kind: kind, Tag: first.Tag, Scale: first.Scale, I64: k.out.I64, F64: k.out.F64, B: k.out.B} // storage kept
	switch kind {
	case vec.Int64:
		k.out.I64 = growI64(k.out.I64, n)
		nanos := false
		for _, r := range k.rc {
			nanos = nanos || r != nil && r.Nanos != nil
		}
		if nanos {
			if cap(k.nanos) < n {
				k.nanos = make([]int32, n)
			}
			k.out.Nanos = k.nanos[:n]
		}
		for i := 0; i < n; i++ {
			if r := src(i); r != nil {
				k.out.I64[i] = r.I64[i]
				if nanos {
					k.out.Nanos[i] = nanoAt(r, i)
				}
			} else {
				k.out.I64[i] = 0
			}
		}
	case vec.Float64:
		k.out.F64 = growF64(k.out.F64, n)
		for i := 0; i < n; i++ {
			if r := src(i); r != nil {
				k.out.F64[i] = r.F64[i]
			} else {
				k.out.F64[i] = 0
			}
		}
	case vec.Dec128:
		if k.out.D128 = k.d128; cap(k.out.D128) < n {
			k.out.D128 = make([]vec.Int128, n)
		}
		k.out.D128 = k.out.D128[:n]
		k.d128 = k.out.D128
		for i := 0; i < n; i++ {
			if r := src(i); r != nil {
				k.out.D128[i] = r.D128[i]
			} else {
				k.out.D128[i] = vec.Int128{}
			}
		}
	case vec.Bool:
		k.out.B = growBool(k.out.B, n)
		for i := 0; i < n; i++ {
			if r := src(i); r != nil {
				k.out.B[i] = r.B[i]
			} else {
				k.out.B[i] = false
			}
		}
	case vec.Bytes:
		k.out = k.strs
		bytesOut(&k.out, first.Tag, n)
		for i := 0; i < n; i++ {
			if r := src(i); r != nil {
				k.out.AppendString(r.Str(i))
			} else {
				k.out.AppendString("")
			}
		}
		k.strs = k.out
	case vec.Struct, vec.Values:
		if !k.mergeNested(first, n, src) {
			return nil, errBail
		}
		return &k.out, nil
	default:
		return nil, errBail
	}
	if anyNull {
		k.out.Nulls = k.nb
	}
	return &k.out, nil
}

// splitTrue appends the selected rows of b where c is TRUE to took and the others (FALSE or NULL) to rest.
func splitTrue(b *vec.Batch, c *vec.Col, took, rest []int32) ([]int32, []int32) {
	bs, nulls := c.B[:b.N], c.Nulls
	if b.Sel == nil {
		for i, t := range bs {
			if t && !nulls.Get(i) {
				took = append(took, int32(i))
			} else {
				rest = append(rest, int32(i))
			}
		}
		return took, rest
	}
	for _, i := range b.Sel {
		if bs[i] && !nulls.Get(int(i)) {
			took = append(took, i)
		} else {
			rest = append(rest, i)
		}
	}
	return took, rest
}
