package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// DECIMAL in compact slots (groupagg_compact_decimal.go) against the object path.

var decIn = []types.Type{types.BigIntType(), types.DecimalType(10, 2), types.DecimalType(18, 4), types.BooleanType(),
	types.StringType(), types.DecimalType(18, 0)}

// decRow is a row of decIn: small decimals with negatives and NULLs; with huge, the DECIMAL(18, 0) column
// holds values near 10^18 whose sums pass int64 now and then (the slots move to objects).
func decRow(huge bool) func(rng *rand.Rand, odd bool) []types.Value {
	return func(rng *rand.Rand, odd bool) []types.Value {
		maybeNull := func(v types.Value) types.Value {
			if rng.IntN(8) == 0 {
				return types.NullValue
			}
			return v
		}
		big := rng.Int64N(2000) - 1000
		if huge && rng.IntN(3) == 0 {
			big = 999_999_999_999_999_999 - rng.Int64N(5)
		}
		return []types.Value{
			maybeNull(types.IntValue(rng.Int64N(5) - 2)),
			maybeNull(types.DecimalValue(rng.Int64N(200_001)-100_000, 2)),
			maybeNull(types.DecimalValue(rng.Int64N(2_000_000_001)-1_000_000_000, 4)),
			maybeNull(types.BoolValue(rng.IntN(2) == 0)),
			maybeNull(types.StringValue([]string{"a", "b", "c"}[rng.IntN(3)])),
			maybeNull(types.DecimalValue(big, 0)),
		}
	}
}

// TestCompactDecimalMatchGroups: SUM, SUM0 and AVG of DECIMAL with retractions, and MIN/MAX of DECIMAL over
// an insert-only input, in compact groups give the object path's output, also across snapshots both ways;
// sums that pass int64 move the compact operator to objects, exactly.
func TestCompactDecimalMatchGroups(t *testing.T) {
	for _, c := range []struct {
		name       string
		aggs       []string
		insertOnly bool
	}{
		{"sums", []string{"COUNT(*)", "SUM($1)", "SUM0($1)", "AVG($1)", "SUM($2)", "AVG($2)", "SUM($1) FILTER $3", "SUM($5)", "AVG($5)", "SUM0($5)"}, false},
		{"minmax", []string{"MIN($1)", "MAX($1)", "MAX($2) FILTER $3", "MIN($5)", "SUM($5)", "AVG($2)", "COUNT($1)"}, true},
	} {
		for _, keys := range [][]int{{0}, {0, 4}, nil} {
			for seed := range uint64(6) {
				huge := seed >= 4
				name := fmt.Sprintf("%s keys=%v seed=%d huge=%t", c.name, keys, seed, huge)
				cfg := GroupAggConfig{Keys: keys, InTypes: decIn, Aggs: aggCalls(t, decIn, c.aggs...), InsertOnly: c.insertOnly, EmitUpdateBefore: seed%2 == 0}
				compact := checkCompactRun(t, name, cfg, rand.New(rand.NewPCG(seed, 17)), huge, decRow(huge))
				if compact == huge {
					t.Fatalf("%s: compact groups at the end: %t", name, compact)
				}
			}
		}
	}
}

// TestCompactDecimalEligible: which DECIMAL calls compact groups take.
func TestCompactDecimalEligible(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.DecimalType(18, 2), types.DecimalType(19, 2), types.DecimalType(38, 10)}
	for _, tc := range []struct {
		agg        string
		insertOnly bool
		want       bool
	}{
		{"SUM($1)", false, true},
		{"AVG($1)", false, true},
		{"MAX($1)", true, true},
		{"MAX($1)", false, false}, // retractable MIN/MAX keep a multiset
		{"SUM($2)", false, false}, // precision 19 does not fit int64
		{"MIN($3)", true, false},
	} {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, tc.agg), InsertOnly: tc.insertOnly}, &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		if got := op.(*groupAgg).compact != nil; got != tc.want {
			t.Errorf("%s insert-only=%t: compact groups %t, want %t", tc.agg, tc.insertOnly, got, tc.want)
		}
	}
}

// TestCompactDecimalOverflow: a sum that passes int64 leaves compact groups before the row is applied, and
// the sum goes on exactly in the object path (a big decimal), as the reference computes it.
func TestCompactDecimalOverflow(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.DecimalType(18, 0)}
	rec := &recorder{}
	op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)", "SUM0($1)")}, rec)
	if err != nil {
		t.Fatal(err)
	}
	g := op.(*groupAgg)
	v := types.DecimalValue(999_999_999_999_999_999, 0)
	var b changelog.Batch
	for range 10 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(1), v})
	}
	if err := op.Push(&changelog.Batch{Rows: b.Rows[:9]}); err != nil {
		t.Fatal(err)
	}
	if g.compact == nil {
		t.Fatal("9 * (10^18 - 1) fits int64: still compact")
	}
	if err := op.Push(&changelog.Batch{Rows: b.Rows[9:]}); err != nil {
		t.Fatal(err)
	}
	if g.compact != nil {
		t.Fatal("10 * (10^18 - 1) passes int64: still compact")
	}
	last := rec.rows[len(rec.rows)-1].Vals
	if got := types.DecimalString(last[1]); got != "9999999999999999990" {
		t.Fatalf("SUM after the overflow = %s", got)
	}
	if got := types.DecimalString(last[2]); got != "9999999999999999990" {
		t.Fatalf("SUM0 after the overflow = %s", got)
	}
	// the snapshot of the big sum restores (into objects: it does not fit the slots) and goes on exactly
	mem := state.NewMemory()
	if err := g.SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	op2, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)", "SUM0($1)")}, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if err := StateOf(op2).RestoreState(mem.Reader()); err != nil {
		t.Fatal(err)
	}
	if op2.(*groupAgg).compact != nil {
		t.Fatal("a sum past int64 restored into compact slots")
	}
	if err := op2.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Delete, Vals: []types.Value{types.IntValue(1), v}}}}); err != nil {
		t.Fatal(err)
	}
	if got := types.DecimalString(rec2.rows[len(rec2.rows)-1].Vals[1]); got != "8999999999999999991" {
		t.Fatalf("SUM after a retraction past the restore = %s", got)
	}
}

// decSliceCase is a compact slice case with DECIMAL calls: rows (k, ts, DECIMAL(12, 2), DECIMAL(18, 0), bool);
// with huge, the DECIMAL(18, 0) values are 4 * 10^12 now and then, so that AVG's sums (at scale 6) in a slice
// or in a window's merge pass int64.
func decSliceCase(rng *rand.Rand, huge bool) (compactSliceCase, func(rng *rand.Rand, n int) []step) {
	c := compactSliceCase{spec: randomSliceSpec(rng)}
	c.in = []types.Type{types.BigIntType(), types.TimestampType(3), types.DecimalType(12, 2), types.DecimalType(18, 0),
		types.BooleanType(), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
	c.start, c.end = 1, 2
	c.cfg = func(t testing.TB) GroupAggConfig {
		return GroupAggConfig{Keys: []int{0, 5, 6}, InTypes: c.in, Aggs: aggCalls(t, c.in, "COUNT(*)", "SUM($2)", "AVG($2)",
			"MIN($2)", "MAX($2)", "SUM0($3)", "SUM($3) FILTER $4", "MAX($3)", "MIN($3) FILTER $4", "AVG($3)")}
	}
	steps := func(rng *rand.Rand, n int) []step {
		var steps []step
		now := int64(rng.IntN(10))
		for range n {
			if rng.IntN(4) == 0 {
				steps = append(steps, step{isWM: true, wm: now - int64(rng.IntN(6))})
				continue
			}
			now += int64(rng.IntN(3))
			var rows []changelog.Row
			for range 1 + rng.IntN(6) {
				r := decRow(false)(rng, false)
				tv := types.TimestampValue(now-int64(rng.IntN(12)), 0)
				if rng.IntN(20) == 0 {
					tv = types.NullValue
				}
				if huge && r[5].T != types.TagNull && rng.IntN(3) == 0 {
					// AVG keeps the sum at scale 6: 4e18 in its slot; three in a slice or a window pass int64
					r[5] = types.DecimalValue(4_000_000_000_000+rng.Int64N(1000), 0)
				}
				rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{r[0], tv, r[1], r[5], r[3]}})
			}
			steps = append(steps, step{rows: rows})
		}
		return append(steps, step{end: true})
	}
	return c, steps
}

// TestSliceCompactDecimal: compact slices with DECIMAL calls give the object path's changelog (TUMBLE, HOP
// and CUMULATE), with sums that pass int64 in a slice or in a window's merge moving to objects exactly.
func TestSliceCompactDecimal(t *testing.T) {
	fellBack := 0
	for seed := range 200 {
		rng := rand.New(rand.NewPCG(uint64(seed), 23))
		huge := seed%3 == 0
		c, gen := decSliceCase(rng, huge)
		steps := gen(rng, 10+rng.IntN(80))
		obj := &recorder{}
		ins, _ := c.build(func() bool { return false })(t, obj)
		runSteps(t, ins, steps)
		cmp := &recorder{}
		ins, snaps := c.build(func() bool { return true })(t, cmp)
		runSteps(t, ins, steps)
		if snaps[0].(*sliceWindowAgg).c == nil {
			fellBack++
		}
		if obj.b.String() != cmp.b.String() || !sameRows(obj.rows, cmp.rows) {
			t.Fatalf("seed %d, %s size %d slide %d offset %d:\nobjects:\n%s\ncompact:\n%s", seed, c.spec.Kind,
				c.spec.Size, c.spec.Slide, c.spec.Offset, obj.b.String(), cmp.b.String())
		}
	}
	if fellBack < 20 || fellBack > 67 {
		t.Fatalf("%d of 200 runs moved to objects; want the huge ones (67) mostly", fellBack)
	}
}

// TestSliceCompactDecimalRestore: restores mid-stream of compact slices with DECIMAL calls, snapshots written
// by compact slices and by objects alternately.
func TestSliceCompactDecimalRestore(t *testing.T) {
	forEachCut(t, "compact decimal slice window aggregate", 150, func(rng *rand.Rand) (builder, []step) {
		c, gen := decSliceCase(rng, false)
		n := 0
		return c.build(func() bool { n++; return n%2 == 0 }), gen(rng, 20+rng.IntN(60))
	})
}

// BenchmarkCompactDecimal: SUM and AVG of a DECIMAL(10, 2) and MAX of it, GROUP BY a BIGINT of 10K keys,
// insert-only, 1M rows: compact slots vs objects.
func BenchmarkCompactDecimal(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.DecimalType(10, 2)}
	aggs := aggCalls(b, in, "SUM($1)", "AVG($1)", "MAX($1)", "COUNT(*)")
	const n = 1 << 20
	var batches []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		bt := &changelog.Batch{}
		for j := i; j < i+1024; j++ {
			bt.Append(changelog.Insert, []types.Value{types.IntValue(int64(j*7919) % 10000), types.DecimalValue(int64(j%100000)-50000, 2)})
		}
		batches = append(batches, bt)
	}
	for _, compact := range []bool{false, true} {
		b.Run(fmt.Sprintf("compact=%t", compact), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, InsertOnly: true}, NewCollect(func(changelog.Row) error { return nil }))
				if err != nil {
					b.Fatal(err)
				}
				if g := op.(*groupAgg); g.compact == nil {
					b.Fatal("not compact")
				} else if !compact {
					g.decompact()
				}
				for _, bt := range batches {
					if err := op.Push(bt); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
