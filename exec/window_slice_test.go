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
)

// randomSliceSpec is a TUMBLE, a HOP (sizes not always a multiple of the slide) or a CUMULATE window, with
// an offset.
func randomSliceSpec(rng *rand.Rand) WindowSpec {
	if rng.IntN(4) == 0 {
		return WindowSpec{Kind: Tumble, Size: int64(1 + rng.IntN(8)), Offset: int64(rng.IntN(5))}
	}
	if rng.IntN(2) == 0 {
		slide := int64(1 + rng.IntN(6))
		return WindowSpec{Kind: Hop, Size: slide + int64(rng.IntN(12)), Slide: slide, Offset: int64(rng.IntN(5))}
	}
	step := int64(1 + rng.IntN(5))
	return WindowSpec{Kind: Cumulate, Size: step * int64(1+rng.IntN(5)), Slide: step, Offset: int64(rng.IntN(5))}
}

// sliceSteps are pushes of (key, time, value) rows with times that move forward with some disorder, late
// rows included, NULL times and values, and watermarks that trail the times.
func sliceSteps(rng *rand.Rand, n int) []step {
	var steps []step
	now := int64(rng.IntN(10))
	for range n {
		if rng.IntN(4) == 0 {
			steps = append(steps, step{isWM: true, wm: now - int64(rng.IntN(6))})
			continue
		}
		now += int64(rng.IntN(3))
		var rows []changelog.Row
		for range 1 + rng.IntN(4) {
			tv := types.TimestampValue(now-int64(rng.IntN(12)), 0)
			if rng.IntN(20) == 0 {
				tv = types.NullValue
			}
			v := types.IntValue(int64(rng.IntN(21) - 10))
			if rng.IntN(10) == 0 {
				v = types.NullValue
			}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.StringValue(fmt.Sprint("k", rng.IntN(4))), tv, v}})
		}
		steps = append(steps, step{rows: rows})
	}
	return append(steps, step{end: true})
}

var sliceIn = []types.Type{types.StringType(), types.TimestampType(3), types.BigIntType(),
	types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}

func sliceCfg(t testing.TB) GroupAggConfig {
	return GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: sliceIn,
		Aggs: aggCalls(t, sliceIn, "COUNT(*)", "SUM($2)", "MIN($2)", "MAX($2)", "COUNT($2)", "AVG($2)", "SUM0($2)", "VAR_POP($2)", "STDDEV_SAMP($2)")}
}

func buildSliced(spec WindowSpec) builder {
	return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
		agg, err := NewSliceWindowAgg(sliceCfg(t), spec, 1, 2, out)
		if err != nil {
			t.Fatal(err)
		}
		return []changelog.Output{NewSliceAssigner(spec, 1, false, nil, agg)}, []state.Snapshotter{StateOf(agg)}
	}
}

// recomputeWindows is the window aggregation computed from its definition: a row counts in every window that
// contains its time and whose end - 1 is above the watermark when the row arrives; a window fires when the
// watermark reaches its end - 1 (all at the end), its keys in order, with COUNT(*), SUM, MIN, MAX and
// COUNT of the values.
func recomputeWindows(spec WindowSpec, steps []step) string {
	type acc struct {
		n, cnt, sum, mn, mx int64
	}
	type win struct{ start, end int64 }
	open := map[win]map[string]*acc{}
	fired := int64(minWatermark)
	var b strings.Builder
	fire := func(wm int64) {
		var ws []win
		for w := range open {
			if w.end-1 <= wm {
				ws = append(ws, w)
			}
		}
		slices.SortFunc(ws, func(a, b win) int { return int(a.end - b.end) })
		for _, w := range ws {
			keys := make([]string, 0)
			for k := range open[w] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				a := open[w][k]
				sum, mn, mx := "NULL", "NULL", "NULL"
				if a.cnt > 0 {
					sum, mn, mx = fmt.Sprint(a.sum), fmt.Sprint(a.mn), fmt.Sprint(a.mx)
				}
				fmt.Fprintf(&b, "%s %d %d: %d %s %s %s %d\n", k, w.start, w.end, a.n, sum, mn, mx, a.cnt)
			}
			delete(open, w)
		}
		fired = max(fired, wm)
	}
	for _, s := range steps {
		switch {
		case s.end:
			fire(changelog.MaxWatermark - 1)
		case s.isWM:
			fire(s.wm)
		default:
			for _, r := range s.rows {
				if r.Vals[1].IsNull() {
					continue
				}
				spec.windows(r.Vals[1].I, func(start, end int64) {
					if end-1 <= fired {
						return
					}
					w := win{start, end}
					if open[w] == nil {
						open[w] = map[string]*acc{}
					}
					a := open[w][r.Vals[0].S]
					if a == nil {
						a = &acc{}
						open[w][r.Vals[0].S] = a
					}
					a.n++
					if v := r.Vals[2]; !v.IsNull() {
						if a.cnt == 0 || v.I < a.mn {
							a.mn = v.I
						}
						if a.cnt == 0 || v.I > a.mx {
							a.mx = v.I
						}
						a.cnt++
						a.sum += v.I
					}
				})
			}
		}
	}
	return b.String()
}

func TestSliceWindowAggProperty(t *testing.T) {
	for seed := range 300 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		spec := randomSliceSpec(rng)
		steps := sliceSteps(rng, 10+rng.IntN(60))
		got := &recorder{}
		ins, _ := buildSliced(spec)(t, got)
		runSteps(t, ins, steps)
		var b strings.Builder
		for _, r := range got.rows {
			v := r.Vals
			fmt.Fprintf(&b, "%s %d %d: %s %s %s %s %s\n", v[0].S, v[1].I, v[2].I, fmtVal(v[3]), fmtVal(v[4]), fmtVal(v[5]), fmtVal(v[6]), fmtVal(v[7]))
		}
		if want := recomputeWindows(spec, steps); b.String() != want {
			t.Fatalf("seed %d, %s size %d slide %d offset %d:\ngot:\n%s\nwant:\n%s", seed, spec.Kind, spec.Size, spec.Slide, spec.Offset, b.String(), want)
		}
		// The per-window aggregation gives the same changelog (watermarks included) for every call.
		per := &recorder{}
		agg, err := NewWindowAgg(sliceCfg(t), 2, per)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, []changelog.Output{NewWindowAssigner(spec, 1, false, nil, agg)}, steps)
		if got.b.String() != per.b.String() {
			t.Fatalf("seed %d, %s size %d slide %d offset %d: sliced:\n%s\nper window:\n%s", seed, spec.Kind, spec.Size, spec.Slide, spec.Offset, got.b.String(), per.b.String())
		}
	}
}

func fmtVal(v types.Value) string {
	if v.IsNull() {
		return "NULL"
	}
	return fmt.Sprint(v.I)
}

func TestSliceWindowAggRestoreProperty(t *testing.T) {
	forEachCut(t, "slice window aggregate", 200, func(rng *rand.Rand) (builder, []step) {
		return buildSliced(randomSliceSpec(rng)), sliceSteps(rng, 20+rng.IntN(60))
	})
}

func TestSliceWindowAggSignature(t *testing.T) {
	// A savepoint of the per-window aggregate does not restore into the sliced one: the error says so.
	spec := WindowSpec{Kind: Hop, Size: 6, Slide: 2}
	agg, err := NewWindowAgg(sliceCfg(t), 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, []changelog.Output{NewWindowAssigner(spec, 1, false, nil, agg)}, []step{{rows: []changelog.Row{{Kind: changelog.Insert,
		Vals: []types.Value{types.StringValue("a"), types.TimestampValue(3, 0), types.IntValue(1)}}}}})
	mem := state.NewMemory()
	if err := StateOf(agg).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	sliced, err := NewSliceWindowAgg(sliceCfg(t), spec, 1, 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = StateOf(sliced).RestoreState(mem.Reader())
	if err == nil || !strings.Contains(err.Error(), "SliceWindowAggregate(window=HOP(size=6, slide=2, offset=0)") {
		t.Fatalf("restoring a per-window savepoint: %v", err)
	}
}

// TestSliceWindowAggRescale: the sliced aggregate as subtasks partitioned by the key without the window
// columns; a snapshot at n subtasks restores at n+1 (every key's slices go to the subtask that receives the
// key's rows) and the run gives the single-instance results (sorted: subtasks interleave).
func TestSliceWindowAggRescale(t *testing.T) {
	for seed := range 20 {
		rng := rand.New(rand.NewPCG(uint64(seed), 13))
		spec := randomSliceSpec(rng)
		steps := sliceSteps(rng, 60)
		steps = steps[:len(steps)-1] // End below
		mk := func(out changelog.Output) (changelog.Output, error) {
			return NewSliceWindowAgg(sliceCfg(t), spec, 1, 2, out)
		}
		sorted := func(r *recorder) string {
			var lines []string
			for _, row := range r.rows {
				lines = append(lines, formatRow(row))
			}
			slices.Sort(lines)
			return strings.Join(lines, "\n")
		}
		single := &recorder{}
		ins, _ := buildSliced(spec)(t, single)
		runSteps(t, ins, append(steps, step{end: true}))
		for _, n := range []int{2, 3} {
			got := &recorder{}
			op, err := NewParallel([]int{0}, sliceIn[:1], 128, n, mk, got)
			if err != nil {
				t.Fatal(err)
			}
			half := len(steps) / 2
			runSteps(t, []changelog.Output{NewSliceAssigner(spec, 1, false, nil, op)}, steps[:half])
			mem := state.NewMemory()
			if err := StateOf(op).SnapshotState(mem); err != nil {
				t.Fatal(err)
			}
			op.(*Parallel).Close()
			op2, err := NewParallel([]int{0}, sliceIn[:1], 128, n+1, mk, got)
			if err != nil {
				t.Fatal(err)
			}
			if err := StateOf(op2).RestoreState(mem.Reader()); err != nil {
				t.Fatal(err)
			}
			runSteps(t, []changelog.Output{NewSliceAssigner(spec, 1, false, nil, op2)}, append(steps[half:], step{end: true}))
			if g, w := sorted(got), sorted(single); g != w {
				t.Fatalf("seed %d, %d then %d subtasks:\ngot\n%s\nwant\n%s", seed, n, n+1, g, w)
			}
		}
	}
}
