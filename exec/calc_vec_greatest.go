package exec

import (
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// GREATEST / LEAST over arguments the row path has cast to their common type: NULL when any argument is
// NULL, else the first argument whose value no later one beats (the row path's order: FLOAT/DOUBLE with
// its NaN rule, timestamps by millisecond then nanosecond, strings by bytes, DECIMAL by value).

type pickCmp uint8

const (
	pickInt pickCmp = iota // int64 order: integers, DATE, TIME, intervals, narrow DECIMAL
	pickDec128
	pickTimestamp
	pickFloat
	pickBytes
	pickBool
)

// compileGreatest compiles GREATEST (greatest) or LEAST of args of type rt.
func (c *vcompiler) compileGreatest(rt types.Type, greatest bool, args []expr.Expr) vexpr {
	k := &vpick{greatest: greatest}
	switch {
	case rt.Kind == types.Decimal && isWideDec(rt):
		k.cmp = pickDec128
	case intLike(rt), rt.Kind == types.Decimal:
		k.cmp = pickInt
	case rt.IsTimestamp():
		k.cmp = pickTimestamp
	case isFloat(rt):
		k.cmp = pickFloat
	case rt.IsString(), rt.IsBinary():
		k.cmp = pickBytes
	case rt.Kind == types.Boolean:
		k.cmp = pickBool
	default:
		return c.compileGreatestNested(rt, greatest, args)
	}
	k.tag = vec.ColFor(rt).Tag
	for _, a := range args {
		if a.Type().Kind != rt.Kind || rt.Kind == types.Decimal && a.Type().Scale != rt.Scale {
			return nil
		}
		ka := c.compile(a)
		if ka == nil {
			return nil
		}
		k.args = append(k.args, ka)
	}
	return k
}

// vpick is GREATEST or LEAST.
type vpick struct {
	args     []vexpr
	greatest bool
	cmp      pickCmp
	tag      types.Tag
	cols     []*vec.Col
	best     []int32 // per row: the index of the winning argument
	out      vec.Col
	nb       vec.Bitmap
	nanos    []int32
}

// order compares value i of a and b as the row path's comparator does.
func (k *vpick) order(a, b *vec.Col, i int) int {
	switch k.cmp {
	case pickInt:
		return cmpInt64(a.I64[i], b.I64[i])
	case pickDec128:
		return a.Dec128At(i).Cmp(b.Dec128At(i))
	case pickTimestamp:
		if c := cmpInt64(a.I64[i], b.I64[i]); c != 0 {
			return c
		}
		return cmpInt64(int64(nanoAt(a, i)), int64(nanoAt(b, i)))
	case pickFloat:
		x, y := a.F64[i], b.F64[i]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		case x != x && y == y: // NaN above every number
			return 1
		}
		return 0
	case pickBytes:
		return strings.Compare(a.Str(i), b.Str(i))
	}
	return cmpInt64(b2i(a.B[i]), b2i(b.B[i]))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

var pickKinds = [...]vec.Kind{pickInt: vec.Int64, pickDec128: vec.Dec128, pickTimestamp: vec.Int64, pickFloat: vec.Float64, pickBytes: vec.Bytes, pickBool: vec.Bool}

func (k *vpick) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.cols = k.cols[:0]
	var nulls vec.Bitmap
	hasNanos := false
	for _, a := range k.args {
		c, err := a.eval(b)
		if err != nil {
			return nil, err
		}
		if c.Kind != pickKinds[k.cmp] && !(k.cmp == pickDec128 && c.Kind == vec.Int64) {
			return nil, errBail
		}
		k.cols = append(k.cols, c)
		nulls = unionNulls(&k.nb, n, nulls, c.Nulls)
		hasNanos = hasNanos || c.Nanos != nil
	}
	if cap(k.best) < n {
		k.best = make([]int32, n)
	}
	best := k.best[:n]
	clear(best)
	for j := 1; j < len(k.cols); j++ {
		c := k.cols[j]
		for i := range best {
			r := k.order(c, k.cols[best[i]], i)
			if k.greatest && r > 0 || !k.greatest && r < 0 {
				best[i] = int32(j)
			}
		}
	}
	cols := k.cols
	switch k.cmp {
	case pickInt, pickTimestamp:
		k.out = vec.Col{Kind: vec.Int64, Tag: k.tag, Scale: cols[0].Scale, I64: growI64(k.out.I64, n)}
		for i, j := range best {
			k.out.I64[i] = cols[j].I64[i]
		}
		if hasNanos {
			if cap(k.nanos) < n {
				k.nanos = make([]int32, n)
			}
			k.out.Nanos = k.nanos[:n]
			for i, j := range best {
				k.out.Nanos[i] = nanoAt(cols[j], i)
			}
		}
	case pickDec128:
		k.out = vec.Col{Kind: vec.Dec128, Tag: k.tag, Scale: cols[0].Scale, D128: k.out.D128}
		if cap(k.out.D128) < n {
			k.out.D128 = make([]vec.Int128, n)
		}
		k.out.D128 = k.out.D128[:n]
		for i, j := range best {
			k.out.D128[i] = cols[j].Dec128At(i)
		}
	case pickFloat:
		k.out = vec.Col{Kind: vec.Float64, Tag: k.tag, F64: growF64(k.out.F64, n)}
		for i, j := range best {
			k.out.F64[i] = cols[j].F64[i]
		}
	case pickBool:
		k.out = vec.Col{Kind: vec.Bool, Tag: k.tag, B: growBool(k.out.B, n)}
		for i, j := range best {
			k.out.B[i] = cols[j].B[i]
		}
	case pickBytes:
		bytesOut(&k.out, k.tag, n)
		for i, j := range best {
			k.out.Data = append(k.out.Data, cols[j].Str(i)...)
			endRow(&k.out)
		}
	}
	k.out.Nulls = nulls
	return &k.out, nil
}
