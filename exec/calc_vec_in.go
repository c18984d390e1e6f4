package exec

import (
	"math"
	"math/bits"
	"slices"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// IN over a constant list and DECIMAL division.

// inLinear is the list size up to which IN scans a slice instead of probing the hash set.
const inLinear = 8

// compileIn compiles x [NOT] IN (constants) when the row path looks the value up in a set of int64 values
// or strings (expr.InSetParts); the kernel uses the same set.
func (c *vcompiler) compileIn(x expr.Expr) vexpr {
	operand, ints, strs, listNull, not, ok := expr.InSetParts(x)
	if !ok {
		return nil
	}
	k := &vin{listNull: listNull, not: not, strs: strs}
	if ints != nil {
		k.ints = ints
		if len(ints) <= inLinear {
			for v := range ints {
				k.small = append(k.small, v)
			}
			slices.Sort(k.small)
		}
	}
	if k.x = c.compile(operand); k.x == nil {
		return nil
	}
	return k
}

// vin is x [NOT] IN (constants): TRUE when x is listed; else NULL when the list holds a NULL; FALSE
// otherwise (NOT IN negates, NULL staying NULL).
type vin struct {
	x        vexpr
	ints     map[int64]struct{}
	small    []int64 // ints as a slice when the list is short
	set      intSet  // ints as an open-addressing table, built on first use
	strs     map[string]struct{}
	listNull bool
	not      bool
	out      vec.Col
	nb       vec.Bitmap
	iv       []int64
}

func (k *vin) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	found := k.out.B
	switch {
	case k.strs != nil:
		if x.Kind != vec.Bytes {
			return nil, errBail
		}
		for i := 0; i < n; i++ {
			_, found[i] = k.strs[x.Str(i)]
		}
	case k.ints != nil:
		var xs []int64
		switch x.Kind {
		case vec.Int64:
			xs = x.I64[:n]
		case vec.Bool:
			k.iv = growI64(k.iv, n)
			for i, v := range x.B[:n] {
				k.iv[i] = 0
				if v {
					k.iv[i] = 1
				}
			}
			xs = k.iv
		default:
			return nil, errBail
		}
		if k.small == nil && k.set.slots == nil {
			k.set = newIntSet(k.ints)
		}
		if k.small != nil {
			for i, v := range xs {
				f := false
				for _, y := range k.small {
					f = f || v == y
				}
				found[i] = f
			}
		} else {
			for i, v := range xs {
				found[i] = k.set.has(v)
			}
		}
	default:
		return nil, errBail
	}
	k.out.Nulls = inResult(found[:n], x.Nulls, &k.nb, k.listNull, k.not)
	return &k.out, nil
}

// intSet is an open-addressing hash set of int64 (linear probing, at most half full); the empty slot is
// marked by a value that is not in the set.
type intSet struct {
	slots []int64
	mask  uint64
	empty int64
}

func newIntSet(vals map[int64]struct{}) intSet {
	size := 16
	for size < 2*len(vals) {
		size *= 2
	}
	s := intSet{slots: make([]int64, size), mask: uint64(size - 1)}
	for {
		if _, used := vals[s.empty]; !used {
			break
		}
		s.empty++
	}
	for i := range s.slots {
		s.slots[i] = s.empty
	}
	for v := range vals {
		h := intHash(v) & s.mask
		for s.slots[h] != s.empty {
			h = (h + 1) & s.mask
		}
		s.slots[h] = v
	}
	return s
}

func intHash(v int64) uint64 {
	h := uint64(v) * 0x9E3779B97F4A7C15
	return h ^ h>>29
}

func (s *intSet) has(v int64) bool {
	if v == s.empty {
		return false
	}
	for h := intHash(v) & s.mask; ; h = (h + 1) & s.mask {
		switch s.slots[h] {
		case v:
			return true
		case s.empty:
			return false
		}
	}
}

// vdecDiv is DECIMAL division: a/b rounded HALF_UP to the result scale (types.DecimalDiv), NULL when the
// quotient needs more digits than the result precision (the row path's fitDecimal). The numerator
// ua·10^e is formed in 128 bits; a quotient beyond int64 is NULL when the precision is at most 18 and
// bails otherwise (the row path keeps it as a big integer), as does a division by zero on a selected row
// (an error) and a scaled divisor beyond int64.
type vdecDiv struct {
	a, b   vexpr
	prec   int
	scale  int32
	e      int // the numerator is scaled by 10^e (e >= 0) or the divisor by 10^-e
	out    vec.Col
	nb, tb vec.Bitmap
	ys     []int64
}

// compileDecDiv compiles a DECIMAL division whose operands are exact numerics held as int64.
func (c *vcompiler) compileDecDiv(rt types.Type, a, b expr.Expr) vexpr {
	sa, oka := decScale(a.Type())
	sb, okb := decScale(b.Type())
	if !oka || !okb || rt.Kind != types.Decimal {
		return nil
	}
	e := rt.Scale + sb - sa
	if e > 36 || e < -18 {
		return nil
	}
	ka, kb := c.compile(a), c.compile(b)
	if ka == nil || kb == nil {
		return nil
	}
	return &vdecDiv{a: ka, b: kb, prec: rt.Precision, scale: int32(rt.Scale), e: e}
}

func (k *vdecDiv) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := intCol(k.a, b)
	if err != nil {
		return nil, err
	}
	y, err := intCol(k.b, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: k.scale, I64: growI64(k.out.I64, n)}
	nulls := orNulls(&k.nb, n, x.Nulls, y.Nulls)
	out, xs, ys := k.out.I64, x.I64[:n], y.I64[:n]
	if k.e < 0 {
		k.ys = growI64(k.ys, n)
		m := decPow10[-k.e]
		for i, v := range ys {
			r, o := mul64(v, m)
			if o && !nulls.Get(i) && selectedRow(b, i) {
				return nil, errBail
			}
			k.ys[i] = r
		}
		ys = k.ys
	}
	// 10^e as a 128-bit factor applied in at most two 64-bit steps.
	m1, m2 := uint64(1), uint64(1)
	if k.e > 0 {
		if k.e <= 19 {
			m1 = uint64(decPow10[min(k.e, 18)])
			if k.e == 19 {
				m1 *= 10
			}
		} else {
			m1, m2 = uint64(decPow10[18]), uint64(decPow10[k.e-18])
		}
	}
	limit := uint64(math.MaxInt64) // |q| above it: beyond int64
	bounded := k.prec < len(decPow10)
	if bounded {
		limit = uint64(decPow10[k.prec]) - 1
	}
	var tooBig vec.Bitmap
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = 0
		if cur.skip(i) || nulls.Get(i) {
			continue
		}
		d := ys[i]
		if d == 0 {
			return nil, errBail // division by zero: the row path's error
		}
		neg := (xs[i] < 0) != (d < 0)
		ux, ud := absU64(xs[i]), absU64(d)
		hi, lo := bits.Mul64(ux, m1)
		if m2 != 1 {
			h2, l2 := bits.Mul64(lo, m2)
			hh, h3 := bits.Mul64(hi, m2)
			var c uint64
			h2, c = bits.Add64(h2, h3, 0)
			if hh != 0 || c != 0 {
				hi, lo = ud, 0 // the quotient exceeds 2^64
			} else {
				hi, lo = h2, l2
			}
		}
		big := hi >= ud
		var q uint64
		if !big {
			var r uint64
			q, r = bits.Div64(hi, lo, ud)
			if r >= ud-r { // 2r >= d: round half up (away from zero)
				q++
				big = q == 0
			}
		}
		if big || q > limit {
			if !bounded {
				return nil, errBail
			}
			if tooBig == nil {
				k.tb = vec.ResetBitmap(k.tb, n)
				tooBig = k.tb
			}
			tooBig.Set(i)
			continue
		}
		if neg {
			out[i] = -int64(q)
		} else {
			out[i] = int64(q)
		}
	}
	if tooBig != nil {
		nulls = unionNulls(&k.nb, n, nulls, tooBig)
	}
	k.out.Nulls = nulls
	return &k.out, nil
}

func absU64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// selectedRow reports whether physical row i is selected.
func selectedRow(b *vec.Batch, i int) bool {
	if b.Sel == nil {
		return true
	}
	_, ok := slices.BinarySearch(b.Sel, int32(i))
	return ok
}
