package exec

import (
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Lazy AND and OR. The row path evaluates the operands of AND (OR) in order and stops at the first FALSE
// (TRUE); a NULL operand does not stop it (NULL AND FALSE is FALSE). The kernel gives the same results over
// a batch: operand k is evaluated only on the rows no earlier operand decided, so an operand that would
// fail (a division by zero, a CAST) on rows an earlier one decided does not make the batch bail, and a
// costly operand (LIKE, a string function) runs only where it is needed.
//
// Narrowing the selection costs a pass over the batch, more than a cheap operand (a comparison of columns)
// costs over the rows it would skip: a cheap operand runs over every row of the batch, which gives the same
// results on the open rows (kernels are deterministic), unless it fails there; then it runs again on the
// open rows only, and on them only in later batches.

// vlogic is AND (and) or OR over BOOLEAN operands, in SQL's three-valued logic. With nullGuard set (IN
// over a list that is not constant, calc_vec_inlist.go) the rows where nullGuard is NULL are NULL and no
// operand is evaluated on them, as the row path's IN evaluates no element for a NULL operand.
type vlogic struct {
	and       bool
	args      []vexpr
	nullGuard vexpr
	cheap     []bool // per operand: cheap enough to run over every row (set on first use)
	failed    []bool // per operand: failed over every row once, so runs on the open rows only
	out       vec.Col
	nb        vec.Bitmap
	open      []int32
	view      vec.Batch // the batch under the open rows (a field: passed through an interface)
}

func (k *vlogic) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	if len(k.cheap) != len(k.args) {
		k.cheap, k.failed = make([]bool, len(k.args)), make([]bool, len(k.args))
		for j, a := range k.args {
			k.cheap[j] = cheapKernel(a)
		}
	}
	decisive := !k.and // the value that decides the result (FALSE for AND, TRUE for OR)
	fill := !decisive
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	res := k.out.B
	for i := range res {
		res[i] = fill
	}
	k.nb = vec.ResetBitmap(k.nb, n)
	nb := k.nb
	anyNull := false
	first := 0 // the first operand still to fold in
	if k.nullGuard != nil {
		g, err := k.nullGuard.eval(b)
		if err != nil {
			return nil, err
		}
		if g.Nulls.Any() {
			// A NULL operand: the row is NULL and closed (its value slot set decisive, no operand runs).
			selected(b, func(i int) bool {
				if g.Nulls.Get(i) {
					nb.Set(i)
					res[i] = decisive
					anyNull = true
				}
				return true
			})
		}
	}
	if !anyNull {
		// The first operand over b: its values are the result so far.
		c, err := boolOperand(k.args[0], b)
		if err != nil {
			return nil, err
		}
		copy(res, c.B[:n])
		if c.Nulls.Any() {
			copy(nb, c.Nulls)
			anyNull = true
			for i := range res {
				if c.Nulls.Get(i) {
					res[i] = fill // a NULL slot's value is unspecified; the row stays open
				}
			}
		}
		first = 1
	}
	for j := first; j < len(k.args); j++ {
		nOpen, total := countOpen(b, res, decisive), b.Len()
		if nOpen == 0 {
			break
		}
		var c *vec.Col
		var err error
		in := b
		if nOpen == total || k.cheap[j] && !k.failed[j] {
			if c, err = boolOperand(k.args[j], b); err != nil && nOpen < total {
				k.failed[j], err = true, nil
			}
			if err != nil {
				return nil, err
			}
		}
		if c == nil {
			k.open = openRows(b, res, decisive, k.open[:0])
			k.view = vec.Batch{N: n, Kinds: b.Kinds, Sel: k.open, Cols: b.Cols}
			in = &k.view
			c, err = boolOperand(k.args[j], in)
			k.view.Cols = nil // hold no batch beyond the call
			if err != nil {
				return nil, err
			}
		}
		cb := c.B[:n]
		if !anyNull && !c.Nulls.Any() {
			// Every row so far TRUE or FALSE: the two-valued fold over every row (decided rows keep their
			// value, rows not selected are unspecified).
			if k.and {
				for i, v := range cb {
					res[i] = res[i] && v
				}
			} else {
				for i, v := range cb {
					res[i] = res[i] || v
				}
			}
			continue
		}
		anyNull = fold3(res, nb, cb, c.Nulls, in, decisive) || anyNull
	}
	if anyNull {
		k.out.Nulls = nb
	}
	return &k.out, nil
}

// boolOperand evaluates a BOOLEAN operand.
func boolOperand(a vexpr, b *vec.Batch) (*vec.Col, error) {
	c, err := a.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Bool {
		return nil, errBail
	}
	return c, nil
}

// countOpen counts the selected rows of b not decided (value not decisive).
func countOpen(b *vec.Batch, res []bool, decisive bool) int {
	c := 0
	if b.Sel == nil {
		for _, v := range res[:b.N] {
			if v != decisive {
				c++
			}
		}
		return c
	}
	for _, i := range b.Sel {
		if res[i] != decisive {
			c++
		}
	}
	return c
}

// openRows appends the selected rows of b not decided to dst.
func openRows(b *vec.Batch, res []bool, decisive bool, dst []int32) []int32 {
	if b.Sel == nil {
		for i, v := range res[:b.N] {
			if v != decisive {
				dst = append(dst, int32(i))
			}
		}
		return dst
	}
	for _, i := range b.Sel {
		if res[i] != decisive {
			dst = append(dst, i)
		}
	}
	return dst
}

// fold3 folds one operand's column (values cb, NULLs cn), computed for at least the selected rows of in,
// into the result on those of them not decided: NULL marks the row NULL, the decisive value sets it and
// clears its NULL, else the row is unchanged. It reports whether it marked a row NULL.
func fold3(res []bool, nb vec.Bitmap, cb []bool, cn vec.Bitmap, in *vec.Batch, decisive bool) bool {
	marked := false
	selected(in, func(i int) bool {
		if res[i] == decisive {
			return true
		}
		if cn.Get(i) {
			nb.Set(i)
			marked = true
		} else if cb[i] == decisive {
			res[i] = decisive
			nb[i>>6] &^= 1 << (uint(i) & 63)
		}
		return true
	})
	return marked
}

// cheapKernel reports kernels that cost about as little per row as narrowing a selection and cannot fail:
// columns, literals, comparisons, NULL tests, NOT, AND / OR of them, and + - * of numbers.
func cheapKernel(k vexpr) bool {
	switch x := k.(type) {
	case *vcol, *vlit:
		return true
	case *vcompare:
		return cheapKernel(x.a) && cheapKernel(x.b)
	case *visnull:
		return cheapKernel(x.x)
	case *vnot:
		return cheapKernel(x.x)
	case *vbailOnErr:
		return cheapKernel(x.x)
	case *vlogic:
		if x.nullGuard != nil && !cheapKernel(x.nullGuard) {
			return false
		}
		for _, a := range x.args {
			if !cheapKernel(a) {
				return false
			}
		}
		return true
	case *vintArith:
		return x.op != '/' && x.op != '%' && cheapKernel(x.a) && cheapKernel(x.b)
	case *vfloatArith:
		return cheapKernel(x.a) && cheapKernel(x.b)
	}
	return false
}
