package expr

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/sluicesql/sluice/types"
)

// numArg checks a numeric argument and gives an untyped NULL type DOUBLE.
func (c *callSite) numArg(i int) bool {
	t := c.t(i)
	if !isNumT(t) {
		return false
	}
	if isNullT(t) {
		c.args[i] = Literal(types.NullValue, types.DoubleType())
	}
	return true
}

// bindDoubleFn is a DOUBLE function of numeric arguments (SQRT, LN, POWER, ...).
func bindDoubleFn(f func(xs ...float64) float64) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		for i := range c.args {
			if !c.numArg(i) {
				return nil, c.bad()
			}
		}
		rt := types.DoubleType()
		switch len(c.args) {
		case 1:
			fa := toFloatFn(c.t(0))
			return c.strict(rt, strict1(c.args[0], func(x types.Value) (types.Value, error) {
				return types.FloatValue(f(fa(x))), nil
			})), nil
		default:
			fa, fb := toFloatFn(c.t(0)), toFloatFn(c.t(1))
			return c.strict(rt, strict2(c.args[0], c.args[1], func(x, y types.Value) (types.Value, error) {
				return types.FloatValue(f(fa(x), fb(y))), nil
			})), nil
		}
	}
}

func bindLog(c *callSite) (Expr, error) {
	if len(c.args) == 1 {
		return bindDoubleFn(func(x ...float64) float64 { return math.Log(x[0]) })(c)
	}
	return bindDoubleFn(func(x ...float64) float64 { return math.Log(x[1]) / math.Log(x[0]) })(c)
}

func bindAbs(c *callSite) (Expr, error) {
	if !c.numArg(0) {
		return nil, c.bad()
	}
	t := c.t(0)
	x := c.args[0]
	switch {
	case t.IsIntegral():
		sh := uint(64 - intBits(t.Kind))
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
			if v.I < 0 {
				return types.IntValue((-v.I) << sh >> sh), nil
			}
			return v, nil
		})), nil
	case t.Kind == types.Decimal:
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) { return types.DecimalAbs(v), nil })), nil
	}
	return c.make(t, strict1(x, func(v types.Value) (types.Value, error) { return types.FloatValue(math.Abs(v.Float())), nil })), nil
}

func bindSign(c *callSite) (Expr, error) {
	if !c.numArg(0) {
		return nil, c.bad()
	}
	t := c.t(0)
	x := c.args[0]
	switch {
	case t.IsIntegral():
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) { return types.IntValue(int64(cmp64(v.I, 0))), nil })), nil
	case t.Kind == types.Decimal:
		s := t.Scale
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
			return types.DecimalRescale(types.DecimalValue(int64(types.DecimalSign(v)), 0), s), nil
		})), nil
	}
	return c.make(t, strict1(x, func(v types.Value) (types.Value, error) {
		f := v.Float()
		switch {
		case f > 0:
			f = 1
		case f < 0:
			f = -1
		}
		return types.FloatValue(f), nil
	})), nil
}

var bigTen = big.NewInt(10)

func pow10Big(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// decRound rounds v to n decimal places (n may be negative: tens, hundreds), HALF_UP when halfUp,
// toward zero otherwise. The result has scale max(n, 0), or v's scale when it is already ≤ n.
func decRound(v types.Value, n int, halfUp bool) types.Value {
	s := v.DecimalScale()
	if n >= s {
		return v
	}
	d := s - n
	outScale := max(n, 0)
	if u, small := v.DecimalSmall(); small && d < 19 {
		p := int64(1)
		for i := 0; i < d; i++ {
			p *= 10
		}
		q, r := u/p, u%p
		if halfUp && r != 0 {
			ar := r
			if ar < 0 {
				ar = -ar
			}
			if uint64(ar)*2 >= uint64(p) {
				if u < 0 {
					q--
				} else {
					q++
				}
			}
		}
		if n < 0 {
			return types.DecimalMul(types.DecimalValue(q, 0), types.DecimalValue(pow10i(-n), 0))
		}
		return types.DecimalValue(q, outScale)
	}
	u := v.DecimalBig()
	if d > u.BitLen()/3+2 {
		// |u| < 2^BitLen ≤ 10^(d-1): below half of 10^d, so the result is 0 (without computing 10^d, which
		// for a places argument such as -2^31 would not end)
		return types.BigDecimalValue(new(big.Int), outScale)
	}
	p := pow10Big(d)
	q, r := new(big.Int).QuoRem(u, p, new(big.Int))
	if halfUp && r.Sign() != 0 {
		r.Abs(r).Lsh(r, 1)
		if r.Cmp(p) >= 0 {
			if u.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	if n < 0 {
		q.Mul(q, pow10Big(-n))
	}
	return types.BigDecimalValue(q, outScale)
}

func pow10i(n int) int64 {
	p := int64(1)
	for i := 0; i < n; i++ {
		p *= 10
	}
	return p
}

// roundDecimalType is Flink's LogicalTypeMerging.findRoundDecimalType.
func roundDecimalType(p, s, r int) types.Type {
	switch {
	case r >= s:
		return types.DecimalType(p, s)
	case r < 0:
		return types.DecimalType(min(types.MaxDecimalPrecision, 1+p-s), 0)
	}
	return types.DecimalType(1+p-s+r, r)
}

// floatRound rounds f to n places as Flink does (BigDecimal.valueOf(f), i.e. the shortest decimal
// digits, then HALF_UP or toward zero).
func floatRound(f float64, n int, halfUp bool) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	var buf [32]byte
	d, err := types.ParseDecimal(string(strconv.AppendFloat(buf[:0], f, 'e', -1, 64)))
	if err != nil {
		return f
	}
	return types.DecimalToFloat(decRound(d, n, halfUp))
}

// intRound rounds an integer to n places (only n < 0 changes it).
func intRound(i int64, n int, halfUp bool) int64 {
	if n >= 0 {
		return i
	}
	r := decRound(types.DecimalValue(i, 0), n, halfUp)
	v, _ := types.DecimalToInt(r)
	return v
}

// bindRound is ROUND(x[, n]) (halfUp) and TRUNCATE(x[, n]).
func bindRound(halfUp bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.numArg(0) || len(c.args) == 2 && !c.intArgs(1) {
			return nil, c.bad()
		}
		x := c.args[0]
		t := x.Type()
		var nArg Expr = Literal(types.IntValue(0), types.IntType().WithNullable(false))
		if len(c.args) == 2 {
			nArg = c.args[1]
		}
		nConst, isConst := intLiteral(nArg)
		switch {
		case t.IsIntegral():
			sh := uint(64 - intBits(t.Kind))
			return c.strict(t, strict2(x, nArg, func(v, n types.Value) (types.Value, error) {
				return types.IntValue(intRound(v.I, int(n.I), halfUp) << sh >> sh), nil
			})), nil
		case t.Kind == types.Decimal:
			if !isConst {
				return nil, c.bad()
			}
			rt := roundDecimalType(t.Precision, t.Scale, int(nConst))
			n := int(nConst)
			rs := rt.Scale
			return c.strict(rt, strict1(x, func(v types.Value) (types.Value, error) {
				return types.DecimalRescale(decRound(v, n, halfUp), rs), nil
			})), nil
		}
		single := t.Kind == types.Float
		return c.strict(t, strict2(x, nArg, func(v, n types.Value) (types.Value, error) {
			r := floatRound(v.Float(), int(n.I), halfUp)
			if single {
				r = float64(float32(r))
			}
			return types.FloatValue(r), nil
		})), nil
	}
}

// bindFloorCeil is FLOOR/CEIL of a number: integers unchanged, DOUBLE stays DOUBLE, DECIMAL(p, s) becomes
// DECIMAL(p - s + 1, 0) (as ROUND to 0 places).
func bindFloorCeil(ceil bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if len(c.args) != 1 || !c.numArg(0) {
			return nil, c.bad()
		}
		x := c.args[0]
		t := x.Type()
		switch {
		case t.IsIntegral():
			return c.make(t, strict1(x, ok)), nil
		case t.Kind == types.Decimal:
			rt := roundDecimalType(t.Precision, t.Scale, 0)
			return c.make(rt.WithNullable(t.Nullable()), strict1(x, func(v types.Value) (types.Value, error) {
				tr := decRound(v, 0, false)
				if types.DecimalCmp(tr, v) != 0 {
					sign := types.DecimalSign(v)
					if ceil && sign > 0 {
						tr = types.DecimalAdd(tr, types.DecimalValue(1, 0))
					} else if !ceil && sign < 0 {
						tr = types.DecimalSub(tr, types.DecimalValue(1, 0))
					}
				}
				return types.DecimalRescale(tr, 0), nil
			})), nil
		}
		f := math.Floor
		if ceil {
			f = math.Ceil
		}
		return c.make(t, strict1(x, func(v types.Value) (types.Value, error) { return types.FloatValue(f(v.Float())), nil })), nil
	}
}

// lockedRand is a seeded generator shared by the rows of one RAND(seed) call.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) intN(n int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n)
}

func seeded(seed int64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
}

// bindRand is RAND([seed]): a DOUBLE in [0, 1); with a seed, a repeatable sequence.
func bindRand(c *callSite) (Expr, error) {
	var gen func() float64 = rand.Float64
	if len(c.args) == 1 {
		seed, okc := intLiteral(c.args[0])
		if !okc {
			return nil, c.bad()
		}
		gen = seeded(seed).float
	}
	e := c.make(types.DoubleType().WithNullable(false), func([]types.Value) (types.Value, error) {
		return types.FloatValue(gen()), nil
	})
	e.volatile = true
	return e, nil
}

// bindRandInteger is RAND_INTEGER([seed, ]bound): an INT in [0, bound).
func bindRandInteger(c *callSite) (Expr, error) {
	if !c.intArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	gen := func(n int64) int64 { return rand.Int64N(n) }
	bound := c.args[len(c.args)-1]
	if len(c.args) == 2 {
		seed, okc := intLiteral(c.args[0])
		if !okc {
			return nil, c.bad()
		}
		gen = seeded(seed).intN
	}
	e := c.make(types.IntType().WithNullable(bound.Type().Nullable()), strict1(bound, func(b types.Value) (types.Value, error) {
		if b.I <= 0 {
			return types.NullValue, errorf("bound must be positive, got %d", b.I)
		}
		return types.IntValue(gen(b.I)), nil
	}))
	e.volatile = true
	return e, nil
}

func bindConstDouble(f float64) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		v := types.FloatValue(f)
		return c.make(types.DoubleType().WithNullable(false), func([]types.Value) (types.Value, error) { return v, nil }), nil
	}
}
