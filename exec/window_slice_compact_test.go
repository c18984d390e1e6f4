package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Compact slices (window_slice_compact.go) against the object path: the same rows, watermarks and
// switches give the same changelog, value by value.

// compactSliceCase is a configuration whose calls and keys all fit compact slices: an integer or a string
// key column, the window columns at random places among the keys, integer and floating-point values with
// NULLs, and a FILTER.
type compactSliceCase struct {
	spec       WindowSpec
	in         []types.Type
	cfg        func(t testing.TB) GroupAggConfig
	start, end int
	strKey     bool
	keyRange   int // the keys drawn from (0: 7 integers or 5 strings)
	pushRows   int // the most rows per push (0: 6)
	noNullKeys bool
}

func randomCompactSliceCase(rng *rand.Rand) compactSliceCase {
	c := compactSliceCase{spec: randomSliceSpec(rng), strKey: rng.IntN(2) == 0}
	kt := types.BigIntType()
	if c.strKey {
		kt = types.StringType()
	}
	c.in = []types.Type{kt, types.TimestampType(3), types.BigIntType(), types.DoubleType(), types.BooleanType(),
		types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
	var keys []int
	switch rng.IntN(3) {
	case 0:
		keys, c.start, c.end = []int{0, 5, 6}, 1, 2
	case 1:
		keys, c.start, c.end = []int{5, 6, 0}, 0, 1
	default:
		keys, c.start, c.end = []int{6, 0, 5}, 2, 0
	}
	c.cfg = func(t testing.TB) GroupAggConfig {
		return GroupAggConfig{Keys: keys, InTypes: c.in, Aggs: aggCalls(t, c.in, "COUNT(*)", "SUM($2)", "MIN($2)", "MAX($2)",
			"COUNT($2)", "AVG($2)", "SUM0($2)", "SUM($3)", "AVG($3)", "MAX($2) FILTER $4", "COUNT($3) FILTER $4", "SUM0($3)")}
	}
	return c
}

func (c compactSliceCase) steps(rng *rand.Rand, n int) []step {
	var steps []step
	now := int64(rng.IntN(10))
	for range n {
		if rng.IntN(4) == 0 {
			steps = append(steps, step{isWM: true, wm: now - int64(rng.IntN(6))})
			continue
		}
		now += int64(rng.IntN(3))
		var rows []changelog.Row
		for range 1 + rng.IntN(max(6, c.pushRows)) {
			tv := types.TimestampValue(now-int64(rng.IntN(12)), 0)
			if rng.IntN(20) == 0 {
				tv = types.NullValue
			}
			k := types.IntValue(int64(rng.IntN(7) - 3))
			if c.strKey {
				k = types.StringValue(fmt.Sprint("k\x00", rng.IntN(5)))
			}
			if c.keyRange > 0 {
				k = types.IntValue(int64(rng.IntN(c.keyRange) - c.keyRange/2))
				if c.strKey {
					k = types.StringValue(fmt.Sprint("k\x00", rng.IntN(c.keyRange)))
				}
			}
			if rng.IntN(15) == 0 && !c.noNullKeys {
				k = types.NullValue
			}
			v := types.IntValue(int64(rng.IntN(21) - 10))
			if rng.IntN(10) == 0 {
				v = types.NullValue
			}
			f := types.FloatValue(float64(rng.IntN(9)-4) / 4)
			if rng.IntN(8) == 0 {
				f = types.NullValue
			}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{k, tv, v, f, types.BoolValue(rng.IntN(2) == 0)}})
		}
		steps = append(steps, step{rows: rows})
	}
	return append(steps, step{end: true})
}

// build builds the case's operator; compact false moves it to the object path before any row.
func (c compactSliceCase) build(compact func() bool) builder {
	return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
		agg, err := NewSliceWindowAgg(c.cfg(t), c.spec, c.start, c.end, out)
		if err != nil {
			t.Fatal(err)
		}
		w := agg.(*sliceWindowAgg)
		if w.c == nil {
			t.Fatal("the case's calls and keys do not give compact slices")
		}
		if !compact() {
			w.decompact()
		}
		return []changelog.Output{NewSliceAssigner(c.spec, 1, false, nil, agg)}, []state.Snapshotter{StateOf(agg)}
	}
}

func TestSliceCompactMatchesObjects(t *testing.T) {
	defer func(n int) { sliceEmitRows = n }(sliceEmitRows)
	strong := 0
	for seed := range 300 {
		rng := rand.New(rand.NewPCG(uint64(seed), 21))
		sliceEmitRows = []int{1024, 1, 2, 3}[seed%4] // large windows go out in several batches
		c := randomCompactSliceCase(rng)
		steps := c.steps(rng, 10+rng.IntN(80))
		obj := &recorder{}
		ins, _ := c.build(func() bool { return false })(t, obj)
		runSteps(t, ins, steps)
		cmp := &recorder{}
		ins, snaps := c.build(func() bool { return true })(t, cmp)
		// at a random step the compact operator moves to the object path (as a row it cannot keep would)
		sw := rng.IntN(len(steps) + 1)
		runSteps(t, ins, steps[:sw])
		w := snaps[0].(*sliceWindowAgg)
		if w.c == nil {
			t.Fatalf("seed %d: left compact slices without a reason", seed)
		}
		if rng.IntN(2) == 0 {
			w.decompact()
		}
		runSteps(t, ins, steps[sw:])
		if obj.b.String() != cmp.b.String() || !sameRows(obj.rows, cmp.rows) {
			t.Fatalf("seed %d, %s size %d slide %d offset %d, switch at %d:\nobjects:\n%s\ncompact:\n%s", seed, c.spec.Kind,
				c.spec.Size, c.spec.Slide, c.spec.Offset, sw, obj.b.String(), cmp.b.String())
		}
		if len(obj.rows) > 5 {
			strong++
		}
	}
	if strong < 200 {
		t.Fatalf("only %d seeds emit more than 5 rows", strong)
	}
}

// TestSliceCompactRestore: restores mid-stream, with snapshots written by compact slices and by the object
// path alternately (a restore moves into compact slices).
func TestSliceCompactRestore(t *testing.T) {
	forEachCut(t, "compact slice window aggregate", 200, func(rng *rand.Rand) (builder, []step) {
		c := randomCompactSliceCase(rng)
		n := 0
		return c.build(func() bool { n++; return n%2 == 0 }), c.steps(rng, 20+rng.IntN(60))
	})
}

// TestSliceCompactRestoreMode: a restore of compact-fitting state gives compact slices.
func TestSliceCompactRestoreMode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	c := randomCompactSliceCase(rng)
	c.spec = WindowSpec{Kind: Hop, Size: 10, Slide: 2}
	steps := c.steps(rng, 30)
	for _, compact := range []bool{false, true} {
		ins, snaps := c.build(func() bool { return compact })(t, &recorder{})
		runSteps(t, ins, steps[:len(steps)-1])
		mem := state.NewMemory()
		if err := snaps[0].SnapshotState(mem); err != nil {
			t.Fatal(err)
		}
		_, snaps2 := c.build(func() bool { return true })(t, &recorder{})
		if err := snaps2[0].RestoreState(mem.Reader()); err != nil {
			t.Fatal(err)
		}
		w := snaps2[0].(*sliceWindowAgg)
		if w.c == nil || len(w.c.slices) == 0 || len(w.slices) != 0 {
			t.Fatalf("compact %v: restored into objects (%d compact slices, %d object slices)", compact, len(w.c.slices), len(w.slices))
		}
	}
}

// TestSliceCompactFallback: a row whose MIN/MAX argument the slots cannot keep exactly moves the operator to
// the object path in the middle of a batch; the changelog is the object path's.
func TestSliceCompactFallback(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	c := randomCompactSliceCase(rng)
	c.spec = WindowSpec{Kind: Hop, Size: 6, Slide: 2}
	steps := c.steps(rng, 40)
	odd := types.IntValue(4)
	odd.N = 1 // not a plain integer: the compact slots would lose N
	for i := range steps {
		if len(steps[i].rows) > 1 && i > len(steps)/2 {
			steps[i].rows[1].Vals[2] = odd
			break
		}
	}
	obj := &recorder{}
	ins, _ := c.build(func() bool { return false })(t, obj)
	runSteps(t, ins, steps)
	cmp := &recorder{}
	ins, snaps := c.build(func() bool { return true })(t, cmp)
	runSteps(t, ins, steps)
	if snaps[0].(*sliceWindowAgg).c != nil {
		t.Fatal("still compact after a value the slots cannot keep")
	}
	if obj.b.String() != cmp.b.String() || !sameRows(obj.rows, cmp.rows) || len(obj.rows) == 0 {
		t.Fatalf("objects:\n%s\ncompact then objects:\n%s", obj.b.String(), cmp.b.String())
	}
}
