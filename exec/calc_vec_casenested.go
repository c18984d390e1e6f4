package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/vec"
)

// CASE, COALESCE, IFNULL and IF of ROW, ARRAY and MAP type (vcase): the branches are ROW operands (Struct
// columns: input columns, fields, ROW constructors and literals, casts that keep members' values) or ARRAY
// and MAP values (Values columns); each row's value is copied from the branch it takes, member by member
// for a ROW, so the output is exactly the value the row path picks.

// compileOperand compiles x into a kernel of its column representation, nested types included.
func (c *vcompiler) compileOperand(x expr.Expr) vexpr {
	switch vec.ColFor(x.Type()).Kind {
	case vec.Struct:
		return c.compileRowOperand(x)
	case vec.Values:
		return c.compileValues(x)
	}
	return c.compile(x)
}

// mergeNested builds k.out from the branch columns of nested type (shape of first) by src (nil: NULL, or a
// row not selected); false when the branches' representations differ.
func (k *vcase) mergeNested(first *vec.Col, n int, src func(i int) *vec.Col) bool {
	for _, r := range k.rc {
		if r != nil && !r.SameShape(first) {
			return false
		}
	}
	if len(k.idx) < n {
		k.idx = make([]int32, n)
		for i := range k.idx {
			k.idx[i] = int32(i)
		}
	}
	k.nest.Reshape(first)
	k.nest.Nulls = k.nest.Nulls[:0]
	for i := 0; i < n; i++ {
		if r := src(i); r != nil {
			k.nest.AppendRows(r, k.idx[i:i+1], i)
		} else {
			k.nest.AppendNull(i)
		}
	}
	k.out = k.nest
	return true
}
