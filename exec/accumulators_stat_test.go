package exec

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// TestStatAccProperty adds and retracts random values in the statistical accumulators and COLLECT and
// compares each result with a from-scratch computation over the values still alive (integers: Flink's
// reduction in integer arithmetic; doubles: the two-pass variance within a tolerance), also after a
// state round trip.
func TestStatAccProperty(t *testing.T) {
	fns := []string{"VAR_POP", "VAR_SAMP", "STDDEV_POP", "STDDEV_SAMP", "VARIANCE", "STDDEV", "COLLECT"}
	for _, argType := range []types.Type{types.BigIntType(), types.DoubleType()} {
		for _, fn := range fns {
			rt, err := AggResultType(fn, false, []types.Type{argType})
			if err != nil {
				t.Fatal(err)
			}
			spec, err := compileAgg(AggCall{Func: fn, Args: []int{0}, ArgTypes: []types.Type{argType}, Type: rt, Filter: -1}, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(50) {
				rng := rand.New(rand.NewPCG(seed, 3))
				acc := spec.newAcc()
				var live []types.Value
				for range 1 + rng.IntN(60) {
					if len(live) > 0 && rng.IntN(3) == 0 {
						i := rng.IntN(len(live))
						acc.retract([]types.Value{live[i]})
						live = slices.Delete(live, i, i+1)
					} else {
						v := types.NullValue
						if rng.IntN(6) > 0 {
							x := int64(rng.IntN(21) - 10)
							v = types.IntValue(x)
							if argType.Kind == types.Double {
								v = types.FloatValue(float64(x) / 4)
							}
						}
						acc.add([]types.Value{v})
						live = append(live, v)
					}
					if rng.IntN(5) == 0 { // a state round trip
						fresh := spec.newAcc()
						if _, err := fresh.loadState(acc.appendState(nil)); err != nil {
							t.Fatal(err)
						}
						acc = fresh
					}
					got, want := acc.result(), statRecompute(fn, argType, live)
					if !statClose(got, want) {
						t.Fatalf("%s(%s) seed %d over %v: got %v, want %v", fn, argType, seed, live, got, want)
					}
				}
			}
		}
	}
}

func statRecompute(fn string, t types.Type, live []types.Value) types.Value {
	var xs []types.Value
	for _, v := range live {
		if !v.IsNull() {
			xs = append(xs, v)
		}
	}
	if fn == "COLLECT" {
		slices.SortFunc(xs, func(a, b types.Value) int { return types.Compare(a, b, t) })
		return types.ArrayValue(append([]types.Value{}, xs...))
	}
	m := statFuncs[fn]
	n := int64(len(xs))
	if n == 0 || m.samp && n == 1 {
		return types.NullValue
	}
	den := n
	if m.samp {
		den--
	}
	if t.Kind == types.BigInt {
		var s, ss int64
		for _, x := range xs {
			s += x.I
			ss += x.I * x.I
		}
		v := (ss - s*s/n) / den
		if m.sqrt {
			v = int64(math.Sqrt(float64(v)))
		}
		return types.IntValue(v)
	}
	var mean float64
	for _, x := range xs {
		mean += x.Float()
	}
	mean /= float64(n)
	var dev float64
	for _, x := range xs {
		dev += (x.Float() - mean) * (x.Float() - mean)
	}
	v := dev / float64(den)
	if m.sqrt {
		v = math.Sqrt(v)
	}
	return types.FloatValue(v)
}

func statClose(got, want types.Value) bool {
	if got.T == types.TagFloat && want.T == types.TagFloat {
		return math.Abs(got.Float()-want.Float()) < 1e-9
	}
	if got.T == types.TagArray && want.T == types.TagArray {
		a, b := got.Array(), want.Array()
		return slices.EqualFunc(a, b, func(x, y types.Value) bool { return x.T == y.T && x.I == y.I })
	}
	return got.T == want.T && got.I == want.I
}
