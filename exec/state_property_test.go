package exec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The restore properties, one test per operator family (harness: state_harness_test.go).

// groupAggInput: k STRING, v BIGINT, d DOUBLE, m DECIMAL(38, 2), s STRING, b BOOLEAN, f BOOLEAN, sep STRING.
var groupAggInput = []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.DecimalType(38, 2),
	types.StringType(), types.BooleanType(), types.BooleanType(), types.StringType()}

func randGroupRow(rng *rand.Rand) []types.Value {
	pick := func(vs ...types.Value) types.Value { return vs[rng.IntN(len(vs))] }
	v := types.IntValue(int64(rng.IntN(7) - 2))
	if rng.IntN(6) == 0 {
		v = types.NullValue
	}
	d := pick(types.FloatValue(0.1), types.FloatValue(-0.0), types.FloatValue(0), types.FloatValue(2.5), types.FloatValue(1e300), types.NullValue)
	m := types.DecimalValue(int64(rng.IntN(2000)-1000), 2)
	switch rng.IntN(5) {
	case 0: // beyond int64: a big decimal
		b := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(25+rng.IntN(10))), nil)
		if rng.IntN(2) == 0 {
			b.Neg(b)
		}
		m = types.BigDecimalValue(b.Add(b, big.NewInt(int64(rng.IntN(100)))), 2)
	case 1:
		m = types.NullValue
	case 2: // equal to a scale-2 value but printed differently: LAST_VALUE's result changes, the output not
		m = types.DecimalValue(int64(rng.IntN(5)), 1)
	case 3:
		m = types.DecimalValue(int64(rng.IntN(5))*10, 2)
	}
	return []types.Value{
		types.StringValue(fmt.Sprint("k", rng.IntN(4))), v, d, m,
		pick(types.StringValue("a"), types.StringValue("b"), types.StringValue("c"), types.NullValue),
		pick(types.BoolValue(true), types.BoolValue(false), types.NullValue),
		types.BoolValue(rng.IntN(2) == 0),
		pick(types.StringValue("-"), types.StringValue("|"), types.NullValue),
	}
}

var groupAggCalls = []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM0($1)", "SUM($2)", "AVG($2)", "SUM($3)",
	"AVG($3)", "MIN($1)", "MAX($4)", "MIN($2)", "MAX($3)", "FIRST_VALUE($1)", "LAST_VALUE($4)", "LISTAGG($4)", "LISTAGG($4, $7)",
	"BOOL_AND($5)", "BOOL_OR($5)", "COUNT(DISTINCT $1)", "SUM(DISTINCT $1)", "MIN($1) FILTER $6", "MAX(DISTINCT $4)", "LAST_VALUE($3)"}

func TestGroupAggRestoreProperty(t *testing.T) {
	forEachCut(t, "group aggregate", 200, func(rng *rand.Rand) (builder, []step) {
		mode := rng.IntN(4) // 0 retract output, 1 upsert output, 2 insert-only input, 3 global aggregate
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: groupAggInput, Aggs: aggCalls(t, groupAggInput, groupAggCalls...),
			EmitUpdateBefore: mode != 1, InsertOnly: mode == 2}
		if mode == 3 {
			cfg.Keys = nil
		}
		ch := &changes{rng: rng, retract: 0.3, update: true}
		if cfg.InsertOnly {
			ch.retract = 0
		}
		var steps []step
		for range 10 + rng.IntN(60) {
			steps = append(steps, ch.next(0, func() []types.Value { return randGroupRow(rng) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewGroupAgg(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

// timedRows generates insert-only rows (k STRING, t TIMESTAMP(3), v BIGINT) with a clock that moves forward,
// some rows behind the watermark, and watermarks trailing the clock.
func timedRows(rng *rand.Rand, n, inputs int) []step {
	var steps []step
	now := int64(1000)
	wm := int64(math.MinInt64)
	for range n {
		now += int64(rng.IntN(3))
		in := rng.IntN(inputs)
		if rng.IntN(4) == 0 {
			if w := now - int64(rng.IntN(4)); w > wm {
				wm = w
				steps = append(steps, step{in: in, isWM: true, wm: w})
			}
			continue
		}
		var rows []changelog.Row
		for range 1 + rng.IntN(3) {
			tv := types.TimestampValue(now+int64(rng.IntN(9)-5), 0)
			if rng.IntN(15) == 0 {
				tv = types.NullValue
			}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				types.StringValue(fmt.Sprint("k", rng.IntN(3))), tv, types.IntValue(int64(rng.IntN(10)))}})
		}
		steps = append(steps, step{in: in, rows: rows})
	}
	for in := range inputs {
		steps = append(steps, step{in: in, end: true})
	}
	return steps
}

var timedInput = []types.Type{types.StringType(), types.TimestampType(3), types.BigIntType()}

func TestWindowAggRestoreProperty(t *testing.T) {
	winIn := append(append([]types.Type{}, timedInput...), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3))
	specs := []WindowSpec{{Kind: Tumble, Size: 5}, {Kind: Hop, Size: 6, Slide: 2}, {Kind: Cumulate, Size: 8, Slide: 2}, {Kind: Session, Size: 4}}
	forEachCut(t, "window aggregate", 200, func(rng *rand.Rand) (builder, []step) {
		spec := specs[rng.IntN(len(specs))]
		cfg := GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: winIn,
			Aggs: aggCalls(t, winIn, "COUNT(*)", "SUM($2)", "MAX($2)", "MIN($2)", "AVG($2)", "FIRST_VALUE($2)", "LAST_VALUE($2)", "COUNT(DISTINCT $2)")}
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			agg, err := NewWindowAgg(cfg, 2, out)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Kind == Session {
				sess := NewSessionAssigner(spec.Size, 1, []int{0}, []types.Type{types.StringType()}, false, nil, agg)
				return []changelog.Output{sess}, []state.Snapshotter{StateOf(sess), StateOf(agg)}
			}
			assign := NewWindowAssigner(spec, 1, false, nil, agg)
			if StateOf(assign) != nil {
				t.Fatal("the window assigner is stateless")
			}
			return []changelog.Output{assign}, []state.Snapshotter{StateOf(agg)}
		}, timedRows(rng, 20+rng.IntN(60), 1)
	})
}

func TestOverAggRestoreProperty(t *testing.T) {
	frames := []OverFrame{{Rows: true, Unbounded: true}, {Unbounded: true}, {Rows: true, Preceding: 2}, {Preceding: 5}}
	forEachCut(t, "OVER aggregate", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := OverConfig{Partition: []int{0}, OrderCol: 1, Frame: frames[rng.IntN(len(frames))], InTypes: timedInput,
			Aggs: aggCalls(t, timedInput, "COUNT(*)", "SUM($2)", "MIN($2)", "MAX($2)", "AVG($2)", "FIRST_VALUE($2)", "LAST_VALUE($2)")}
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewOverAgg(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, timedRows(rng, 20+rng.IntN(60), 1)
	})
}

func TestJoinRestoreProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	forEachCut(t, "regular join", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := JoinConfig{Type: JoinType(rng.IntN(4)), LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts}
		ch := &changes{rng: rng, retract: 0.3, update: true}
		mk := func() []types.Value {
			k := types.IntValue(int64(rng.IntN(3)))
			if rng.IntN(8) == 0 {
				k = types.NullValue
			}
			return []types.Value{k, types.IntValue(int64(rng.IntN(2)))}
		}
		var steps []step
		wm := [2]int64{0, 0}
		for range 10 + rng.IntN(50) {
			in := rng.IntN(2)
			if rng.IntN(6) == 0 {
				wm[in] += int64(rng.IntN(5))
				steps = append(steps, step{in: in, isWM: true, wm: wm[in]})
				continue
			}
			steps = append(steps, ch.next(in, mk))
		}
		steps = append(steps, step{in: 0, end: true}, step{in: 1, end: true})
		return joinBuilder(cfg), steps
	})
}

func joinBuilder(cfg JoinConfig) builder {
	return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
		l, r := NewJoin(cfg, out)
		if StateOf(l) != StateOf(r) {
			t.Fatal("both join inputs must lead to the same Snapshotter")
		}
		return []changelog.Output{l, r}, []state.Snapshotter{StateOf(l)}
	}
}

func TestIntervalJoinRestoreProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()} // key, time
	env := expr.NewEnv(nil)
	mk := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	const lower, upper = -5, 3
	diff := mk("-", expr.Column(1, "lt", ts[1]), expr.Column(3, "rt", ts[1]))
	residual := mk("AND", mk(">=", diff, expr.Literal(types.IntValue(lower), types.BigIntType())), mk("<=", diff, expr.Literal(types.IntValue(upper), types.BigIntType())))
	forEachCut(t, "interval join", 100, func(rng *rand.Rand) (builder, []step) {
		cfg := JoinConfig{Type: JoinType(rng.IntN(4)), LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
			Residual: residual, Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}}
		var steps []step
		now := int64(0)
		for range 20 + rng.IntN(80) {
			now += int64(rng.IntN(3))
			in := rng.IntN(2)
			if rng.IntN(3) == 0 {
				steps = append(steps, step{in: in, isWM: true, wm: now - 1})
				continue
			}
			row := []types.Value{types.IntValue(int64(rng.IntN(3))), types.IntValue(now + int64(rng.IntN(4)))}
			steps = append(steps, step{in: in, rows: []changelog.Row{{Kind: changelog.Insert, Vals: row}}})
		}
		steps = append(steps, step{in: 0, end: true}, step{in: 1, end: true})
		return joinBuilder(cfg), steps
	})
}

func TestTemporalJoinRestoreProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.TimestampType(3), types.BigIntType()}
	kinds := []changelog.Kind{changelog.Insert, changelog.UpdateAfter, changelog.UpdateBefore, changelog.Delete}
	forEachCut(t, "temporal join", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := TemporalJoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, LeftTypes: ts, RightTypes: ts,
			Outer: rng.IntN(2) == 0}
		var steps []step
		now := int64(100)
		wm := [2]int64{math.MinInt64, math.MinInt64}
		for range 20 + rng.IntN(60) {
			now += int64(rng.IntN(3))
			in := rng.IntN(2)
			if rng.IntN(4) == 0 {
				if w := now - int64(rng.IntN(3)); w > wm[in] {
					wm[in] = w
					steps = append(steps, step{in: in, isWM: true, wm: w})
				}
				continue
			}
			k := types.IntValue(int64(rng.IntN(3)))
			if rng.IntN(10) == 0 {
				k = types.NullValue
			}
			row := []types.Value{k, types.TimestampValue(now+int64(rng.IntN(7)-3), 0), types.IntValue(int64(rng.IntN(100)))}
			kind := changelog.Insert
			if in == 1 {
				kind = kinds[rng.IntN(len(kinds))]
			}
			steps = append(steps, step{in: in, rows: []changelog.Row{{Kind: kind, Vals: row}}})
		}
		steps = append(steps, step{in: rng.IntN(2), end: true})
		steps = append(steps, step{in: 1 - steps[len(steps)-1].in, end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			l, r := NewTemporalJoin(cfg, out)
			if StateOf(l) != StateOf(r) {
				t.Fatal("both temporal join inputs must lead to the same Snapshotter")
			}
			return []changelog.Output{l, r}, []state.Snapshotter{StateOf(l)}
		}, steps
	})
}

func TestRankRestoreProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.BigIntType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	forEachCut(t, "rank", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}},
			Limit: int64(1 + rng.IntN(3)), RowNumber: rng.IntN(2) == 0, Types: ts}
		ch := &changes{rng: rng, retract: 0.3, update: true}
		var steps []step
		for range 10 + rng.IntN(60) {
			steps = append(steps, ch.next(0, func() []types.Value {
				return []types.Value{types.StringValue(fmt.Sprint("p", rng.IntN(3))), types.IntValue(int64(rng.IntN(5))), types.IntValue(int64(rng.IntN(3)))}
			}))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

func TestTopNRestoreProperty(t *testing.T) {
	forEachCut(t, "Top-N", 200, func(rng *rand.Rand) (builder, []step) {
		keys := []SortKey{{Col: 0, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		limit, offset := int64(1+rng.IntN(4)), int64(rng.IntN(3))
		ch := &changes{rng: rng, retract: 0.3, update: true}
		var steps []step
		for range 10 + rng.IntN(60) {
			steps = append(steps, ch.next(0, func() []types.Value {
				v := types.IntValue(int64(rng.IntN(6)))
				if rng.IntN(7) == 0 {
					v = types.NullValue
				}
				return []types.Value{v, types.IntValue(int64(rng.IntN(2)))}
			}))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewTopN(keys, limit, offset, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

func TestNormalizeRestoreProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3)}
	kinds := []changelog.Kind{changelog.Insert, changelog.UpdateAfter, changelog.UpdateAfter, changelog.Delete, changelog.UpdateBefore}
	forEachCut(t, "changelog normalize", 200, func(rng *rand.Rand) (builder, []step) {
		msg := rng.IntN(2) == 0
		var steps []step
		for i := range 10 + rng.IntN(60) {
			var rows []changelog.Row
			for range 1 + rng.IntN(3) {
				rows = append(rows, changelog.Row{Kind: kinds[rng.IntN(len(kinds))], Vals: []types.Value{
					types.IntValue(int64(rng.IntN(4))), types.IntValue(int64(rng.IntN(3))), types.TimestampValue(int64(i), 0)}})
			}
			steps = append(steps, step{rows: rows})
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewChangelogNormalize([]int{0}, ts, false, out)
			if msg {
				op = WithMessageColumns(op, []int{2})
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

// TestSmallOperatorsRestoreProperty covers the watermark assigner, LIMIT and UNION.
func TestSmallOperatorsRestoreProperty(t *testing.T) {
	forEachCut(t, "watermark assigner + limit", 100, func(rng *rand.Rand) (builder, []step) {
		limit, offset := int64(1+rng.IntN(30)), int64(rng.IntN(5))
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			lim := NewLimit(limit, offset, out)
			wa := NewWatermarkAssigner(minusExpr{col: 1, d: 2}, lim)
			return []changelog.Output{wa}, []state.Snapshotter{StateOf(wa), StateOf(lim)}
		}, timedRows(rng, 10+rng.IntN(40), 1)
	})
	forEachCut(t, "union", 100, func(rng *rand.Rand) (builder, []step) {
		const n = 3
		steps := timedRows(rng, 10+rng.IntN(40), n)
		// End inputs at random places (nothing reaches an input after its End).
		body, ends := steps[:len(steps)-n], steps[len(steps)-n:]
		var out []step
		ended := map[int]bool{}
		for _, s := range body {
			if ended[s.in] {
				continue
			}
			out = append(out, s)
			if rng.IntN(25) == 0 {
				ended[s.in] = true
				out = append(out, step{in: s.in, end: true})
			}
		}
		for _, e := range ends {
			if !ended[e.in] {
				out = append(out, e)
			}
		}
		return func(t testing.TB, o changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			ins := NewUnion(n, o)
			for _, in := range ins[1:] {
				if StateOf(in) != StateOf(ins[0]) {
					t.Fatal("every union input must lead to the same Snapshotter")
				}
			}
			return ins, []state.Snapshotter{StateOf(ins[0])}
		}, out
	})
}

// TestGroupAggRestoreKeepsEmittedRow: LAST_VALUE over 0.1 then 0.10 changes the accumulator's result but not
// the output (equal values), so the last emitted row (0.1) differs from the current result (0.10); the -U
// after the restore must still retract exactly what was emitted.
func TestGroupAggRestoreKeepsEmittedRow(t *testing.T) {
	in := []types.Type{types.StringType(), types.DecimalType(38, 2)}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "LAST_VALUE($1)"), EmitUpdateBefore: true}
	row := func(d types.Value) step {
		return step{rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.StringValue("a"), d}}}}
	}
	steps := []step{row(types.DecimalValue(1, 1)), row(types.DecimalValue(10, 2)), row(types.DecimalValue(25, 2)), {end: true}}
	build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
		op, err := NewGroupAgg(cfg, out)
		if err != nil {
			t.Fatal(err)
		}
		return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
	}
	checkRestore(t, "LAST_VALUE", build, steps, 2, 0)
	rec := &recorder{}
	ins, _ := build(t, rec)
	runSteps(t, ins, steps)
	if want := "+I[a, 0.1]\n-U[a, 0.1]\n+U[a, 0.25]\nEND\n"; rec.b.String() != want {
		t.Fatalf("got\n%swant\n%s", rec.b.String(), want)
	}
}
