package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// sliceVecIn: k STRING, t TIMESTAMP, v BIGINT, s STRING, ik BIGINT; the slice assigner appends
// window_start (5), window_end (6) and window_time (7).
var sliceVecIn = []types.Type{types.StringType(), types.TimestampType(3), types.BigIntType(), types.StringType(), types.BigIntType(),
	types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}

// sliceVecSteps are pushes of rows with NULL keys, times, values and strings, times that move forward with
// some disorder (late rows included), and watermarks.
func sliceVecSteps(rng *rand.Rand, n int) []step {
	var steps []step
	now := int64(rng.IntN(10))
	null := func(v types.Value) types.Value {
		if rng.IntN(12) == 0 {
			return types.NullValue
		}
		return v
	}
	for range n {
		if rng.IntN(4) == 0 {
			steps = append(steps, step{isWM: true, wm: now - int64(rng.IntN(6))})
			continue
		}
		now += int64(rng.IntN(3))
		var rows []changelog.Row
		for range 1 + rng.IntN(6) {
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				null(types.StringValue(fmt.Sprint("k", rng.IntN(4)))),
				null(types.TimestampValue(now-int64(rng.IntN(12)), 0)),
				null(types.IntValue(int64(rng.IntN(21) - 10))),
				null(types.StringValue(fmt.Sprint("s", rng.IntN(30)))),
				null(types.IntValue(int64(rng.IntN(5)))),
			}})
		}
		steps = append(steps, step{rows: rows})
	}
	return append(steps, step{end: true})
}

// TestSliceWindowColumns: the slice assigner and the slice-shared window aggregate over columnar batches
// emit exactly what they emit over the same rows (values, order, pushes, watermarks) and hold the same state
// (snapshot entries, byte for byte, after every step), for TUMBLE, HOP and CUMULATE windows, compact and
// object slices, string and integer keys with NULLs, NULL times and values, string MAX, selection vectors,
// late rows, and batches that reach the columnar operator as rows.
func TestSliceWindowColumns(t *testing.T) {
	in := sliceVecIn[:5]
	cases := []struct {
		name    string
		keys    []int
		specs   []string
		compact bool
	}{
		{"compact string key", []int{0, 5, 6}, []string{"COUNT(*)", "SUM($2)", "MIN($2)", "MAX($2)", "COUNT($2)", "AVG($2)", "SUM0($2)"}, true},
		{"compact int key", []int{4, 5, 6}, []string{"COUNT(*)", "MAX($2)", "SUM($4)"}, true},
		{"compact no key", []int{5, 6}, []string{"COUNT(*)", "MIN($2)"}, true},
		{"objects", []int{0, 5, 6, 4}, []string{"COUNT(*)", "SUM($2)", "MAX($3)", "MIN($3)", "VAR_POP($2)", "MIN($2)", "AVG($2)"}, false},
	}
	before := WindowColumnBatches()
	for seed := range 80 {
		rng := rand.New(rand.NewPCG(uint64(seed), 13))
		c := cases[seed%len(cases)]
		spec := randomSliceSpec(rng)
		cfg := GroupAggConfig{Keys: c.keys, InTypes: sliceVecIn, Aggs: aggCalls(t, sliceVecIn, c.specs...)}
		start, end := -1, -1
		for i, k := range c.keys {
			switch k {
			case 5:
				start = i
			case 6:
				end = i
			}
		}
		name := fmt.Sprintf("seed %d (%s, %v)", seed, c.name, spec)
		build := func(rec *recorder) (changelog.Output, *sliceWindowAgg) {
			agg, err := NewSliceWindowAgg(cfg, spec, start, end, rec)
			if err != nil {
				t.Fatal(err)
			}
			return NewSliceAssigner(spec, 1, false, nil, agg), agg.(*sliceWindowAgg)
		}
		rowRec, colRec := &recorder{}, &recorder{}
		rowIn, rowAgg := build(rowRec)
		colIn, colAgg := build(colRec)
		if (colAgg.c != nil) != c.compact {
			t.Fatalf("%s: compact slices %v", name, colAgg.c != nil)
		}
		cols, ok := colIn.(vec.Output)
		if !ok || !cols.AcceptsColumns() {
			t.Fatalf("%s: the slice assigner does not take columns", name)
		}
		for _, s := range sliceVecSteps(rng, 40) {
			var err error
			switch {
			case s.end:
				if err = rowIn.End(); err == nil {
					err = colIn.End()
				}
			case s.isWM:
				if err = rowIn.Watermark(s.wm); err == nil {
					err = colIn.Watermark(s.wm)
				}
			default:
				var vb vec.Batch
				if !vec.FromRows(&vb, s.rows, in, nil) {
					t.Fatal("rows without a columnar form")
				}
				var rows changelog.Batch
				if rng.IntN(3) == 0 { // a selection vector
					vb.Sel = []int32{}
					for k, r := range s.rows {
						if rng.IntN(3) != 0 {
							vb.Sel = append(vb.Sel, int32(k))
							rows.Append(r.Kind, r.Vals)
						}
					}
				} else {
					rows.Rows = s.rows
				}
				if err = rowIn.Push(&rows); err != nil {
					break
				}
				if rng.IntN(6) == 0 {
					err = colIn.Push(&rows)
				} else {
					err = cols.PushColumns(&vb)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rs, cs := sliceSnapshotGroups(t, rowAgg), sliceSnapshotGroups(t, colAgg); rs != cs {
				t.Fatalf("%s: after %v the columnar operator's snapshot differs\ncolumns:\n%s\nrows:\n%s", name, s, cs, rs)
			}
		}
		if rowAgg.Late != colAgg.Late {
			t.Fatalf("%s: %d late rows on columns, %d on rows", name, colAgg.Late, rowAgg.Late)
		}
		if (colAgg.c != nil) != (rowAgg.c != nil) {
			t.Fatalf("%s: compact slices on one side only", name)
		}
		if len(rowRec.rows) == 0 {
			t.Fatalf("%s: no output", name)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
	}
	if WindowColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// sliceSnapshotGroups returns w's snapshot as text: the meta entry and every group entry's key and groups
// (their key and state bytes), sorted (an entry lists its groups in the order of the slice maps).
func sliceSnapshotGroups(t *testing.T, w *sliceWindowAgg) string {
	t.Helper()
	mem := state.NewMemory()
	if err := w.SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	var lines []string
	r := mem.Reader()
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ns != 0 {
			lines = append(lines, fmt.Sprintf("%d %x %x", ns, k, v))
			continue
		}
		if _, err := eachGroup(v, "groups", func(gk, gv []byte) error {
			lines = append(lines, fmt.Sprintf("%d %x %x %x", ns, k, gk, gv))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(lines) == 0 {
		t.Fatal("an empty snapshot")
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestSliceWindowColumnsPath: which batches the window aggregate takes as columns (the counter) and which go
// through rows; a retraction fails as on the row path.
func TestSliceWindowColumnsPath(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.DecimalType(10, 2), types.TimestampType(3), types.TimestampType(3)}
	spec := WindowSpec{Kind: Tumble, Size: 10}
	rows := []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.DecimalValue(5, 2),
		types.TimestampValue(0, 0), types.TimestampValue(10, 0)}}}
	for _, c := range []struct {
		specs   []string
		columns bool
	}{
		{[]string{"COUNT(*)", "SUM($0)"}, true},    // compact
		{[]string{"SUM($1)"}, false},               // compact with a DECIMAL sum: rows
		{[]string{"VAR_POP($0)", "MAX($1)"}, true}, // objects: values one by one
	} {
		cfg := GroupAggConfig{Keys: []int{0, 2, 3}, InTypes: in, Aggs: aggCalls(t, in, c.specs...)}
		op, err := NewSliceWindowAgg(cfg, spec, 1, 2, &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		var vb vec.Batch
		vec.FromRows(&vb, rows, in, nil)
		before := WindowColumnBatches()
		if err := op.(vec.Output).PushColumns(&vb); err != nil {
			t.Fatal(err)
		}
		if got := WindowColumnBatches() - before; got != map[bool]int64{true: 1}[c.columns] {
			t.Fatalf("%v: %d batches took the columnar path", c.specs, got)
		}
		vec.FromRows(&vb, []changelog.Row{{Kind: changelog.Delete, Vals: rows[0].Vals}}, in, nil)
		if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != errSliceRetract(changelog.Delete).Error() {
			t.Fatalf("%v: retraction: %v", c.specs, err)
		}
	}
}

// TestSliceWindowColumnsNoAlloc: once its slices and scratch exist, a columnar batch through the slice
// assigner into compact slices allocates nothing.
func TestSliceWindowColumnsNoAlloc(t *testing.T) {
	in := sliceVecIn[:5]
	spec := WindowSpec{Kind: Hop, Size: 10, Slide: 2}
	cfg := GroupAggConfig{Keys: []int{4, 5, 6}, InTypes: sliceVecIn, Aggs: aggCalls(t, sliceVecIn, "COUNT(*)", "SUM($2)", "MAX($2)")}
	agg, err := NewSliceWindowAgg(cfg, spec, 1, 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	op := NewSliceAssigner(spec, 1, false, nil, agg).(vec.Output)
	var rows []changelog.Row
	for i := range 256 {
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.StringValue("k"),
			types.TimestampValue(int64(i%7), 0), types.IntValue(int64(i)), types.StringValue("s"), types.IntValue(int64(i % 5))}})
	}
	var vb vec.Batch
	if !vec.FromRows(&vb, rows, in, nil) {
		t.Fatal("rows without a columnar form")
	}
	before := WindowColumnBatches()
	allocs := testing.AllocsPerRun(20, func() {
		if err := op.PushColumns(&vb); err != nil {
			t.Fatal(err)
		}
	})
	if WindowColumnBatches()-before < 20 {
		t.Fatal("the batches did not take the columnar path")
	}
	if allocs != 0 && !raceEnabled {
		t.Fatalf("%.1f allocations per batch", allocs)
	}
}
