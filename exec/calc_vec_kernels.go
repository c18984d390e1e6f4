package exec

import (
	"strings"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Kernels of compiled expressions (calc_vec.go). Each owns its output column and NULL bitmap storage and
// reuses them across batches; values in NULL slots are unspecified.

func growI64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}

// orNulls returns the union of two NULL bitmaps for n rows: nil when neither has a NULL, one of them when
// the other has none, else their union in *buf.
func orNulls(buf *vec.Bitmap, n int, a, b vec.Bitmap) vec.Bitmap {
	switch {
	case !a.Any():
		if !b.Any() {
			return nil
		}
		return b
	case !b.Any():
		return a
	}
	*buf = vec.ResetBitmap(*buf, n)
	out := *buf
	for i := range out {
		var w uint64
		if i < len(a) {
			w = a[i]
		}
		if i < len(b) {
			w |= b[i]
		}
		out[i] = w
	}
	return out
}

// selected calls fn for every selected row of b until it returns false.
func selected(b *vec.Batch, fn func(i int) bool) {
	if b.Sel == nil {
		for i := 0; i < b.N; i++ {
			if !fn(i) {
				return
			}
		}
		return
	}
	for _, i := range b.Sel {
		if !fn(int(i)) {
			return
		}
	}
}

// vcol reads an input column.
type vcol struct{ idx int }

func (k *vcol) eval(b *vec.Batch) (*vec.Col, error) {
	if k.idx >= len(b.Cols) || b.Cols[k.idx] == nil {
		return nil, errBail
	}
	return b.Cols[k.idx], nil
}

// vlit is a constant; eval fills a column with it (kernels with a literal operand read v instead).
type vlit struct {
	v    types.Value
	typ  types.Type
	one  *vec.Col // the value as a one-row column
	out  vec.Col
	all  vec.Bitmap
	strs *vec.Col // the last Bytes column built
	d128 []vec.Int128
}

func (k *vlit) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.out = vec.Col{Kind: k.one.Kind, Tag: k.one.Tag, Scale: k.one.Scale, I64: k.out.I64, F64: k.out.F64, B: k.out.B}
	if k.v.IsNull() {
		k.all = vec.ResetBitmap(k.all, n)
		for i := range k.all {
			k.all[i] = ^uint64(0)
		}
		k.out.Nulls = k.all
	}
	switch k.one.Kind {
	case vec.Int64:
		k.out.I64 = growI64(k.out.I64, n)
		for i := range k.out.I64 {
			k.out.I64[i] = k.one.I64[0]
		}
		if k.one.Nanos != nil {
			k.out.Nanos = make([]int32, n)
			for i := range k.out.Nanos {
				k.out.Nanos[i] = k.one.Nanos[0]
			}
		}
	case vec.Float64:
		k.out.F64 = growF64(k.out.F64, n)
		for i := range k.out.F64 {
			k.out.F64[i] = k.one.F64[0]
		}
	case vec.Bool:
		k.out.B = growBool(k.out.B, n)
		for i := range k.out.B {
			k.out.B[i] = k.one.B[0]
		}
	case vec.Bytes:
		return k.bytes(n), nil
	case vec.Dec128:
		k.out.D128 = k.d128
		if cap(k.out.D128) < n {
			k.out.D128 = make([]vec.Int128, n)
		}
		k.out.D128 = k.out.D128[:n]
		for i := range k.out.D128 {
			k.out.D128[i] = k.one.D128[0]
		}
		k.d128 = k.out.D128
	}
	return &k.out, nil
}

// bytes returns a Bytes column repeating the literal. It is built once per batch size and never written
// again, so values handed out from it stay valid.
func (k *vlit) bytes(n int) *vec.Col {
	if k.strs != nil && k.strs.Len() == n {
		return k.strs
	}
	s := k.one.Str(0)
	c := &vec.Col{Kind: vec.Bytes, Tag: k.one.Tag, Off: make([]int32, 1, n+1), Data: make([]byte, 0, n*len(s)), Nulls: k.out.Nulls}
	for i := 0; i < n; i++ {
		c.AppendString(s)
	}
	k.strs = c
	return c
}

// vfield reads a field of a ROW column: the child column, NULL where the ROW is NULL.
type vfield struct {
	x   vexpr
	idx int
	out vec.Col
	nb  vec.Bitmap
}

func (k *vfield) eval(b *vec.Batch) (*vec.Col, error) {
	row, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if row.Kind != vec.Struct || k.idx >= len(row.Fields) {
		return nil, errBail
	}
	f := row.Fields[k.idx]
	if !row.Nulls.Any() {
		return f, nil
	}
	k.out = *f
	k.out.Nulls = orNulls(&k.nb, b.N, f.Nulls, row.Nulls)
	return &k.out, nil
}

// vnot is NOT.
type vnot struct {
	x   vexpr
	out vec.Col
}

func (k *vnot) eval(b *vec.Batch) (*vec.Col, error) {
	c, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Bool {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, b.N), Nulls: c.Nulls}
	for i, v := range c.B[:b.N] {
		k.out.B[i] = !v
	}
	return &k.out, nil
}

// visnull is IS [NOT] NULL: never NULL.
type visnull struct {
	x   vexpr
	not bool
	out vec.Col
}

func (k *visnull) eval(b *vec.Batch) (*vec.Col, error) {
	c, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, b.N)}
	for i := range k.out.B {
		k.out.B[i] = c.Nulls.Get(i) != k.not
	}
	return &k.out, nil
}

type cmpKind uint8

const (
	cmpInt cmpKind = iota // int64 order (integers, DATE, TIME, intervals, DECIMAL of one scale)
	cmpTimestamp
	cmpFloat
	cmpBytes
	cmpBool
)

// vcompare is = <> < <= > >=.
type vcompare struct {
	op     string
	kind   cmpKind
	a, b   vexpr
	out    vec.Col
	nb     vec.Bitmap
	fa, fb []float64
}

func cmpResult(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func (k *vcompare) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	out := k.out.B
	if l, ok := k.b.(*vlit); ok && k.kind == cmpInt && x.Kind == vec.Int64 && !l.v.IsNull() {
		y, xs := l.v.I, x.I64[:n]
		switch k.op {
		case "=":
			for i, v := range xs {
				out[i] = v == y
			}
		case "<>":
			for i, v := range xs {
				out[i] = v != y
			}
		case "<":
			for i, v := range xs {
				out[i] = v < y
			}
		case "<=":
			for i, v := range xs {
				out[i] = v <= y
			}
		case ">":
			for i, v := range xs {
				out[i] = v > y
			}
		default:
			for i, v := range xs {
				out[i] = v >= y
			}
		}
		k.out.Nulls = x.Nulls
		return &k.out, nil
	}
	if l, ok := k.b.(*vlit); ok && k.kind == cmpBytes && x.Kind == vec.Bytes && !l.v.IsNull() {
		y := l.v.S
		if k.op == "=" || k.op == "<>" {
			eq := k.op == "="
			for i := range out {
				out[i] = (x.Str(i) == y) == eq
			}
		} else {
			for i := range out {
				out[i] = cmpResult(k.op, strings.Compare(x.Str(i), y))
			}
		}
		k.out.Nulls = x.Nulls
		return &k.out, nil
	}
	y, err := k.b.eval(b)
	if err != nil {
		return nil, err
	}
	k.out.Nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	switch k.kind {
	case cmpInt, cmpBool, cmpTimestamp:
		xs, ys := ints(x, n), ints(y, n)
		if xs == nil || ys == nil {
			return nil, errBail
		}
		nanos := k.kind == cmpTimestamp && (x.Nanos != nil || y.Nanos != nil)
		for i := range out {
			c := cmpInt64(xs[i], ys[i])
			if c == 0 && nanos {
				c = cmpInt64(int64(nanoAt(x, i)), int64(nanoAt(y, i)))
			}
			out[i] = cmpResult(k.op, c)
		}
	case cmpFloat:
		k.fa, k.fb = floats(x, n, k.fa), floats(y, n, k.fb)
		if k.fa == nil || k.fb == nil {
			return nil, errBail
		}
		for i := range out {
			xv, yv := k.fa[i], k.fb[i]
			switch k.op {
			case "=":
				out[i] = xv == yv
			case "<>":
				out[i] = xv != yv
			case "<":
				out[i] = xv < yv
			case "<=":
				out[i] = xv <= yv
			case ">":
				out[i] = xv > yv
			default:
				out[i] = xv >= yv
			}
		}
	case cmpBytes:
		if x.Kind != vec.Bytes || y.Kind != vec.Bytes {
			return nil, errBail
		}
		for i := range out {
			out[i] = cmpResult(k.op, strings.Compare(x.Str(i), y.Str(i)))
		}
	}
	return &k.out, nil
}

func nanoAt(c *vec.Col, i int) int32 {
	if c.Nanos == nil {
		return 0
	}
	return c.Nanos[i]
}

// ints returns the int64 view of an Int64 or Bool column (nil for other kinds).
func ints(c *vec.Col, n int) []int64 {
	switch c.Kind {
	case vec.Int64:
		return c.I64[:n]
	case vec.Bool:
		s := make([]int64, n)
		for i, v := range c.B[:n] {
			if v {
				s[i] = 1
			}
		}
		return s
	}
	return nil
}

// floats returns the float64 view of a Float64 or Int64 (integer) column, converting into buf.
func floats(c *vec.Col, n int, buf []float64) []float64 {
	switch {
	case c.Kind == vec.Float64:
		return c.F64[:n]
	case c.Kind == vec.Int64 && c.Tag == types.TagInt:
		buf = growF64(buf, n)
		for i, v := range c.I64[:n] {
			buf[i] = float64(v)
		}
		return buf
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Arithmetic kernels: vintArith, vfloatArith, vdecArith, vtsArith, vtoFloat (calc_vec_arith.go).
