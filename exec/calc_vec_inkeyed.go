package exec

import (
	"math"
	"math/big"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// IN over a constant list the row path looks up by key (expr.InKeyedParts): numerics keyed in DOUBLE or
// FLOAT (the operand as its nearest double; every NaN one key, -0.0 the key of 0.0), numerics keyed in
// DECIMAL (compared by value whatever the scales: 1.50 IN (1.5)) and TIMESTAMP / TIMESTAMP_LTZ (the
// millisecond and the nanoseconds within it). The list becomes a set of int64 (float bits, unscaled values
// at the operand's scale, milliseconds) looked up as IN's int64 kernel does.

type inKeyKind uint8

const (
	inKeyFloat inKeyKind = iota
	inKeyDec
	inKeyTs
)

// canonNaN is the key of every NaN.
const canonNaN = 0x7FF8000000000000

// floatKey is the key of f in a DOUBLE-keyed set: its bits, one NaN for all, 0.0 for -0.0.
func floatKey(f float64) int64 {
	if f != f {
		return canonNaN
	}
	if f == 0 {
		return 0
	}
	return int64(math.Float64bits(f))
}

// i64Lookup is a set of int64: a sorted slice scanned when short, else an open-addressing table.
type i64Lookup struct {
	small []int64
	set   intSet
	empty bool
}

func newI64Lookup(vals map[int64]struct{}) i64Lookup {
	if len(vals) == 0 {
		return i64Lookup{empty: true}
	}
	if len(vals) <= inLinear {
		l := i64Lookup{small: make([]int64, 0, len(vals))}
		for v := range vals {
			l.small = append(l.small, v)
		}
		return l
	}
	return i64Lookup{set: newIntSet(vals)}
}

func (l *i64Lookup) has(v int64) bool {
	if l.small != nil {
		f := false
		for _, y := range l.small {
			f = f || v == y
		}
		return f
	}
	return !l.empty && l.set.has(v)
}

// tsKey is a timestamp: epoch millis and nanoseconds within the millisecond.
type tsKey struct {
	ms    int64
	nanos int32
}

// compileInKeyed compiles x [NOT] IN (constants) keyed in DOUBLE, FLOAT, DECIMAL or a timestamp type.
func (c *vcompiler) compileInKeyed(x expr.Expr) vexpr {
	operand, kt, vals, listNull, not, ok := expr.InKeyedParts(x)
	if !ok {
		return nil
	}
	k := &vinKeyed{listNull: listNull, not: not}
	ot := operand.Type()
	switch {
	case isFloat(kt):
		k.kind = inKeyFloat
		set := map[int64]struct{}{}
		for _, v := range vals {
			if v.T != types.TagFloat {
				return nil
			}
			set[floatKey(v.Float())] = struct{}{}
		}
		k.ints = newI64Lookup(set)
		switch {
		case ot.Kind == types.Decimal:
			k.x = c.toDouble(operand) // types.DecimalToFloat, as the row path's numFloat
		case ot.IsIntegral(), isFloat(ot):
			k.x = c.compile(operand)
		default:
			return nil
		}
	case kt.Kind == types.Decimal:
		if _, exact := decScale(ot); !exact {
			return nil
		}
		k.kind = inKeyDec
		for _, v := range vals {
			if v.T != types.TagDecimal {
				return nil
			}
		}
		k.decs = vals
		k.x = c.compile(operand)
	case kt.IsTimestamp():
		if ot.Kind != kt.Kind {
			return nil
		}
		k.kind = inKeyTs
		ms := map[int64]struct{}{}
		for _, v := range vals {
			if v.T != types.TagTimestamp {
				return nil
			}
			ms[v.I] = struct{}{}
			if v.N != 0 && k.pairs == nil {
				k.pairs = map[tsKey]struct{}{}
			}
		}
		if k.pairs != nil {
			for _, v := range vals {
				k.pairs[tsKey{v.I, v.N}] = struct{}{}
			}
		}
		k.ints = newI64Lookup(ms)
		k.x = c.compile(operand)
	default:
		return nil
	}
	if k.x == nil {
		return nil
	}
	return k
}

// vinKeyed is such an IN: TRUE when x is listed; else NULL when the list holds a NULL; FALSE otherwise
// (NOT IN negates, NULL staying NULL).
type vinKeyed struct {
	x        vexpr
	kind     inKeyKind
	listNull bool
	not      bool
	ints     i64Lookup // float keys, milliseconds, or unscaled values at scale (decimals)
	pairs    map[tsKey]struct{}
	// DECIMAL: the list, and its unscaled values at the operand column's scale (built on first use).
	decs   []types.Value
	scale  int32
	scaled bool
	wide   map[vec.Int128]struct{} // listed values beyond int64 at scale
	out    vec.Col
	nb     vec.Bitmap
}

// scaleTo builds the sets of the DECIMAL list at scale s: a listed value not representable at s (more
// fraction digits than zeros) cannot equal a value of the column.
func (k *vinKeyed) scaleTo(s int32) {
	ints := map[int64]struct{}{}
	k.wide = nil
	for _, v := range k.decs {
		u := new(big.Int)
		if b, ok := v.X.(*big.Int); ok {
			u.Set(b)
		} else {
			u.SetInt64(v.I)
		}
		d := int64(s) - int64(v.N)
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(max(d, -d)), nil)
		if d >= 0 {
			u.Mul(u, p)
		} else {
			var r big.Int
			if u.QuoRem(u, p, &r); r.Sign() != 0 {
				continue
			}
		}
		if u.IsInt64() {
			ints[u.Int64()] = struct{}{}
		} else if w, ok := vec.Int128FromBig(u); ok {
			if k.wide == nil {
				k.wide = map[vec.Int128]struct{}{}
			}
			k.wide[w] = struct{}{}
		}
	}
	k.ints = newI64Lookup(ints)
	k.scale, k.scaled = s, true
}

func (k *vinKeyed) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	found := k.out.B[:n]
	switch k.kind {
	case inKeyFloat:
		switch {
		case x.Kind == vec.Float64:
			for i, f := range x.F64[:n] {
				found[i] = k.ints.has(floatKey(f))
			}
		case x.Kind == vec.Int64 && x.Tag != types.TagDecimal:
			for i, v := range x.I64[:n] {
				found[i] = k.ints.has(floatKey(float64(v)))
			}
		default:
			return nil, errBail
		}
	case inKeyDec:
		if x.Kind != vec.Int64 && x.Kind != vec.Dec128 {
			return nil, errBail
		}
		if !k.scaled || k.scale != x.Scale {
			k.scaleTo(x.Scale)
		}
		if x.Kind == vec.Int64 {
			for i, v := range x.I64[:n] {
				found[i] = k.ints.has(v)
			}
			break
		}
		for i, v := range x.D128[:n] {
			if v.IsInt64() {
				found[i] = k.ints.has(int64(v.Lo))
			} else {
				_, found[i] = k.wide[v]
			}
		}
	case inKeyTs:
		if x.Kind != vec.Int64 {
			return nil, errBail
		}
		switch {
		case k.pairs != nil:
			for i, v := range x.I64[:n] {
				_, found[i] = k.pairs[tsKey{v, nanoAt(x, i)}]
			}
		case x.Nanos != nil:
			for i, v := range x.I64[:n] {
				found[i] = x.Nanos[i] == 0 && k.ints.has(v)
			}
		default:
			for i, v := range x.I64[:n] {
				found[i] = k.ints.has(v)
			}
		}
	}
	k.out.Nulls = inResult(found, x.Nulls, &k.nb, k.listNull, k.not)
	return &k.out, nil
}

// inResult turns found (x is listed) into IN's result in place and returns its NULLs: x's, and with a
// NULL in the list every row where x is not listed; NOT IN negates.
func inResult(found []bool, nulls vec.Bitmap, nb *vec.Bitmap, listNull, not bool) vec.Bitmap {
	if listNull {
		*nb = vec.ResetBitmap(*nb, len(found))
		for i, f := range found {
			if !f || nulls.Get(i) {
				nb.Set(i)
			}
		}
		nulls = *nb
	}
	if not {
		for i, f := range found {
			found[i] = !f
		}
	}
	return nulls
}
