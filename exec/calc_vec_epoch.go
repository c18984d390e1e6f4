package exec

import (
	"math"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TO_TIMESTAMP_LTZ(v[, 0 | 3]) and FROM_UNIXTIME(v[, pattern]) of a DECIMAL, FLOAT or DOUBLE v, as the row
// path (expr/datetime.go): v is taken as a float64 (a DECIMAL as CAST(v AS DOUBLE), which is the row
// path's types.DecimalToFloat); TO_TIMESTAMP_LTZ is the instant v×scale milliseconds after the epoch
// (floor; the fraction of the millisecond rounded to nanoseconds, then cut to microseconds; NULL for NaN
// and infinities), FROM_UNIXTIME formats the millisecond floor(v×1000) in the session zone.

// compileAsFloat compiles a FLOAT, DOUBLE or DECIMAL x into a Float64 column.
func (c *vcompiler) compileAsFloat(x expr.Expr) vexpr {
	switch t := x.Type(); {
	case isFloat(t):
		return c.compile(x)
	case t.Kind == types.Decimal:
		return c.compileWideTo(x, types.DoubleType(), false)
	}
	return nil
}

// compileToTimestampLTZFloat compiles TO_TIMESTAMP_LTZ of a DECIMAL, FLOAT or DOUBLE (mul 1000 for
// seconds, 1 for milliseconds).
func (c *vcompiler) compileToTimestampLTZFloat(x expr.Expr, mul int64) vexpr {
	k := &vepochFloatTs{scale: float64(mul)}
	if k.x = c.compileAsFloat(x); k.x == nil {
		return nil
	}
	return k
}

// vepochFloatTs is TO_TIMESTAMP_LTZ of a float64 column.
type vepochFloatTs struct {
	x     vexpr
	scale float64
	out   vec.Col
	nanos []int32
	nb    vec.Bitmap
}

func (k *vepochFloatTs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	n := b.N
	if cap(k.nanos) < n {
		k.nanos = make([]int32, n)
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagTimestamp, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out, nanos := k.out.I64[:n], k.nanos[:n]
	var bad vec.Bitmap // NaN and infinities
	anyNanos := false
	for i, v := range x.F64[:n] {
		ms := v * k.scale
		if math.IsNaN(ms) || math.IsInf(ms, 0) {
			out[i], nanos[i] = 0, 0
			if !x.Nulls.Get(i) {
				if bad == nil {
					k.nb = vec.ResetBitmap(k.nb, n)
					bad = k.nb
				}
				bad.Set(i)
			}
			continue
		}
		whole := math.Floor(ms)
		out[i] = int64(whole)
		nanos[i] = int32(math.Round((ms-whole)*1e6)) / 1000 * 1000
		anyNanos = anyNanos || nanos[i] != 0
	}
	if anyNanos {
		k.out.Nanos = nanos
	}
	if bad != nil {
		k.out.Nulls = unionNulls(&k.nb, n, bad, x.Nulls)
	}
	return &k.out, nil
}

// vepochMillis is floor(v×1000) of a float64 column of epoch seconds: FROM_UNIXTIME's millisecond.
type vepochMillis struct {
	x   vexpr
	out vec.Col
}

func (k *vepochMillis) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Float64 {
		return nil, errBail
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	for i, v := range x.F64[:n] {
		f := math.Floor(v * 1000)
		if !(f >= minEpochSec*1000 && f <= maxEpochSec*1000+999) {
			f = math.MinInt64 // out of the kernel's years (NaN too): the format bails
		}
		k.out.I64[i] = int64(f)
	}
	return &k.out, nil
}
