package exec

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// ROUND(x, n) and TRUNCATE(x, n) with places n that are not constant (a column, an expression), of an
// integer or FLOAT/DOUBLE x (the row path takes a DECIMAL x only with a constant n: its result type
// depends on n). Per row as vround / vfloatRound do for one n: an integer rounds to 10^-n for n < 0 (a
// result beyond BIGINT is 0, then it wraps to the type's width), a float rounds its shortest digits. The
// result is NULL where x or n is.

func (c *vcompiler) compileRoundPlaces(mode roundMode, args []expr.Expr) vexpr {
	in := args[0].Type()
	k := &vroundPlaces{mode: mode}
	switch {
	case isFloat(in):
		k.float, k.single = true, in.Kind == types.Float
	case in.IsIntegral():
		k.sh = 64 - intWidth(in.Kind)
	default:
		return nil
	}
	if k.x, k.n = c.compile(args[0]), c.compile(args[1]); k.x == nil || k.n == nil {
		return nil
	}
	return k
}

// vroundPlaces is ROUND/TRUNCATE(x, n) of an integer or float x with a column of places n.
type vroundPlaces struct {
	x, n   vexpr
	mode   roundMode
	float  bool
	single bool
	sh     uint // integers: 64 - the type's width
	out    vec.Col
	nb     vec.Bitmap
}

func (k *vroundPlaces) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	places, err := intCol(k.n, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	nulls := orNulls(&k.nb, n, x.Nulls, places.Nulls)
	if k.float {
		if x.Kind != vec.Float64 {
			return nil, errBail
		}
		k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: nulls}
		out := k.out.F64[:n]
		for i, v := range x.F64[:n] {
			r := roundFloat(v, clampPlaces(places.I64[i]), k.mode == rmHalfUp)
			if k.single {
				r = float64(float32(r))
			}
			out[i] = r
		}
		return &k.out, nil
	}
	if x.Kind != vec.Int64 || x.Tag != types.TagInt {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: nulls}
	out := k.out.I64[:n]
	for i, v := range x.I64[:n] {
		p := clampPlaces(places.I64[i])
		if p >= 0 {
			out[i] = v
			continue
		}
		var pUp int64 // 10^-p when it fits int64
		if -p < len(decPow10) {
			pUp = decPow10[-p]
		}
		r, ok := mulFits(roundInt64(v, -p, k.mode), pUp)
		if !ok { // beyond BIGINT: the row path's DecimalToInt fails and gives 0
			r = 0
		}
		out[i] = r << k.sh >> k.sh
	}
	return &k.out, nil
}

// clampPlaces bounds a places argument: beyond ±2^20 places every value keeps or loses all its digits.
func clampPlaces(n int64) int {
	return int(max(min(n, 1<<20), -(1 << 20)))
}
