package exec

import (
	"math/bits"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// vintArith is + - * / % on integers, wrapping at the result type's width as the row path (Java) does.
// A division or modulo by zero on a selected, non-NULL row bails (the row path reports the error).
type vintArith struct {
	op   byte
	a, b vexpr
	sh   uint // 64 minus the result width
	out  vec.Col
	nb   vec.Bitmap
}

func (k *vintArith) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n)}
	out, xs, sh := k.out.I64, x.I64[:n], k.sh
	if l, ok := k.b.(*vlit); ok && !l.v.IsNull() {
		y := l.v.I
		k.out.Nulls = x.Nulls
		if y == 0 && (k.op == '/' || k.op == '%') {
			bail := false
			selected(b, func(i int) bool { bail = !x.Nulls.Get(i); return !bail })
			if bail {
				return nil, errBail
			}
			return &k.out, nil
		}
		switch k.op {
		case '+':
			for i, v := range xs {
				out[i] = (v + y) << sh >> sh
			}
		case '-':
			for i, v := range xs {
				out[i] = (v - y) << sh >> sh
			}
		case '*':
			for i, v := range xs {
				out[i] = (v * y) << sh >> sh
			}
		case '/':
			for i, v := range xs {
				out[i] = (v / y) << sh >> sh
			}
		default:
			for i, v := range xs {
				out[i] = (v % y) << sh >> sh
			}
		}
		return &k.out, nil
	}
	y, err := k.b.eval(b)
	if err != nil {
		return nil, err
	}
	if y.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out.Nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	ys := y.I64[:n]
	switch k.op {
	case '+':
		for i, v := range xs {
			out[i] = (v + ys[i]) << sh >> sh
		}
	case '-':
		for i, v := range xs {
			out[i] = (v - ys[i]) << sh >> sh
		}
	case '*':
		for i, v := range xs {
			out[i] = (v * ys[i]) << sh >> sh
		}
	default:
		nulls := k.out.Nulls
		bail := false
		selected(b, func(i int) bool { bail = ys[i] == 0 && !nulls.Get(i); return !bail })
		if bail {
			return nil, errBail
		}
		for i, v := range xs {
			d := ys[i]
			switch {
			case d == 0:
				out[i] = 0
			case k.op == '/':
				out[i] = (v / d) << sh >> sh
			default:
				out[i] = (v % d) << sh >> sh
			}
		}
	}
	return &k.out, nil
}

// vfloatArith is + - * / on FLOAT/DOUBLE (integer operands are converted), IEEE semantics.
type vfloatArith struct {
	op     byte
	a, b   vexpr
	single bool
	out    vec.Col
	nb     vec.Bitmap
	fa, fb []float64
}

func (k *vfloatArith) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	y, err := k.b.eval(b)
	if err != nil {
		return nil, err
	}
	k.fa, k.fb = floats(x, n, k.fa), floats(y, n, k.fb)
	if k.fa == nil || k.fb == nil {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, n), Nulls: orNulls(&k.nb, n, x.Nulls, y.Nulls)}
	out, xs, ys := k.out.F64, k.fa, k.fb
	switch k.op {
	case '+':
		for i, v := range xs {
			out[i] = v + ys[i]
		}
	case '-':
		for i, v := range xs {
			out[i] = v - ys[i]
		}
	case '*':
		for i, v := range xs {
			out[i] = v * ys[i]
		}
	default:
		for i, v := range xs {
			out[i] = v / ys[i]
		}
	}
	if k.single {
		for i, v := range out {
			out[i] = float64(float32(v))
		}
	}
	return &k.out, nil
}

// vdecArith is DECIMAL + - * over int64 unscaled values (integer operands have scale 0), and op 'c' the
// cast of an integer to DECIMAL. Operands of + - are first scaled up by upA/upB to the result scale; a
// product's scale is already the result's. A result that needs more digits than the precision is NULL, as
// the row path's decimal overflow; an int64 overflow on a selected row bails (the row path uses big
// integers there).
type vdecArith struct {
	op         byte
	a, b       vexpr
	prec       int
	scale      int32
	upA, upB   int64
	out        vec.Col
	nb, ovfBuf vec.Bitmap
}

// decPow10 holds 10^0 .. 10^18.
var decPow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return
}()

// mul64 returns x*y and whether it overflowed int64.
func mul64(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, false
	}
	neg := (x < 0) != (y < 0)
	ux, uy := uint64(x), uint64(y)
	if x < 0 {
		ux = -ux
	}
	if y < 0 {
		uy = -uy
	}
	hi, lo := bits.Mul64(ux, uy)
	if hi != 0 || lo > 1<<63 || lo == 1<<63 && !neg {
		return 0, true
	}
	if neg {
		return -int64(lo), false
	}
	return int64(lo), false
}

func (k *vdecArith) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Int64 {
		return nil, errBail
	}
	var y *vec.Col
	yc, yconst := int64(0), false
	if k.op != 'c' {
		if l, ok := k.b.(*vlit); ok && !l.v.IsNull() && l.v.X == nil {
			yc, yconst = l.v.I, true
		} else if y, err = k.b.eval(b); err != nil {
			return nil, err
		} else if y.Kind != vec.Int64 {
			return nil, errBail
		}
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagDecimal, Scale: k.scale, I64: growI64(k.out.I64, n)}
	if y != nil {
		k.out.Nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	} else {
		k.out.Nulls = x.Nulls
	}
	out, xs := k.out.I64, x.I64[:n]
	var ovf vec.Bitmap // rows whose int64 arithmetic overflowed
	limit := int64(-1) // |result| must be below limit (-1: any int64 fits the precision)
	if k.prec < len(decPow10) {
		limit = decPow10[k.prec]
	}
	var tooBig vec.Bitmap // rows that do not fit the precision: NULL
	for i := 0; i < n; i++ {
		v := xs[i]
		yv := yc
		if !yconst && y != nil {
			yv = y.I64[i]
		}
		var r int64
		var o bool
		switch k.op {
		case '*':
			r, o = mul64(v, yv)
		case 'c':
			r, o = mul64(v, k.upA)
		default:
			var o1, o2 bool
			if k.upA != 1 {
				v, o1 = mul64(v, k.upA)
			}
			if k.upB != 1 {
				yv, o2 = mul64(yv, k.upB)
			}
			if k.op == '-' {
				if yv == -1<<63 {
					o2 = true
				}
				yv = -yv
			}
			r = v + yv
			o = o1 || o2 || (v >= 0) == (yv >= 0) && (r >= 0) != (v >= 0)
		}
		out[i] = r
		if o {
			if ovf == nil {
				k.ovfBuf = vec.ResetBitmap(k.ovfBuf, n)
				ovf = k.ovfBuf
			}
			ovf.Set(i)
		} else if limit > 0 && (r >= limit || r <= -limit) {
			if tooBig == nil {
				tooBig = make(vec.Bitmap, vec.Words(n))
			}
			tooBig.Set(i)
		}
	}
	if ovf != nil {
		nulls, bail := k.out.Nulls, false
		selected(b, func(i int) bool { bail = ovf.Get(i) && !nulls.Get(i); return !bail })
		if bail {
			return nil, errBail
		}
	}
	if tooBig != nil {
		if k.op == 'c' { // a cast decides between NULL and an error: the row path's
			nulls, bail := k.out.Nulls, false
			selected(b, func(i int) bool { bail = tooBig.Get(i) && !nulls.Get(i); return !bail })
			if bail {
				return nil, errBail
			}
		}
		k.out.Nulls = orNulls(&k.nb, n, k.out.Nulls, tooBig)
	}
	return &k.out, nil
}

// vtsArith is TIMESTAMP ± INTERVAL DAY TO SECOND (milliseconds); nanoseconds within the millisecond stay.
type vtsArith struct {
	neg  bool
	a, b vexpr
	out  vec.Col
	nb   vec.Bitmap
}

func (k *vtsArith) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	x, err := k.a.eval(b)
	if err != nil {
		return nil, err
	}
	if x.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: x.Tag, I64: growI64(k.out.I64, n), Nanos: x.Nanos}
	out, xs := k.out.I64, x.I64[:n]
	if l, ok := k.b.(*vlit); ok && !l.v.IsNull() {
		d := l.v.I
		if k.neg {
			d = -d
		}
		for i, v := range xs {
			out[i] = v + d
		}
		k.out.Nulls = x.Nulls
		return &k.out, nil
	}
	y, err := k.b.eval(b)
	if err != nil {
		return nil, err
	}
	if y.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out.Nulls = orNulls(&k.nb, n, x.Nulls, y.Nulls)
	for i, v := range xs {
		if k.neg {
			out[i] = v - y.I64[i]
		} else {
			out[i] = v + y.I64[i]
		}
	}
	return &k.out, nil
}

// vtoFloat is CAST(integer AS DOUBLE | FLOAT).
type vtoFloat struct {
	x      vexpr
	single bool
	out    vec.Col
}

func (k *vtoFloat) eval(b *vec.Batch) (*vec.Col, error) {
	c, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Int64 {
		return nil, errBail
	}
	k.out = vec.Col{Kind: vec.Float64, Tag: types.TagFloat, F64: growF64(k.out.F64, b.N), Nulls: c.Nulls}
	for i, v := range c.I64[:b.N] {
		if k.single {
			k.out.F64[i] = float64(float32(v))
		} else {
			k.out.F64[i] = float64(v)
		}
	}
	return &k.out, nil
}
