package exec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// matchTestConfig: input (p BIGINT, ts TIMESTAMP(3), v BIGINT), PATTERN (A B+? C) or (A B{1,3} C) with
// DEFINE A AS v > 0, B AS v < A.v, C AS v >= A.v; MEASURES A.v, SUM(B.v), MATCH_ROWTIME(), FIRST(ts).
func matchTestConfig(t testing.TB, greedy bool, skip MatchSkip, within int64) MatchConfig {
	in := []types.Type{types.BigIntType(), types.TimestampType(3), types.BigIntType()}
	env := expr.NewEnv(nil)
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	v := expr.Column(2, "v", in[2])
	av := expr.Column(3, "A.v", in[2].WithNullable(true))
	slots := []MatchSlot{
		{Kind: SlotLast, Elem: 0, Arg: v},
		{Kind: SlotAgg, Elem: 1, Arg: v, Agg: AggCall{Func: "SUM", Args: []int{0}, ArgTypes: in[2:3], Filter: -1, Type: in[2].WithNullable(true)}},
		{Kind: SlotRowtime, Elem: -1},
		{Kind: SlotFirst, Elem: -1, Arg: expr.Column(1, "ts", in[1])},
	}
	elems := []MatchElem{{Min: 1, Max: 1}, {Min: 1, Max: -1}, {Min: 1, Max: 1}}
	if greedy {
		elems[1] = MatchElem{Min: 1, Max: 3, Greedy: true}
	}
	return MatchConfig{
		Partition: []int{0}, TimeCol: 1, Types: in, Elems: elems,
		Defines: []expr.Expr{
			call(">", v, expr.Literal(types.IntValue(0), types.BigIntType())),
			call("<", v, av),
			call(">=", v, av),
		},
		Measures: []expr.Expr{av, expr.Column(4, "SUM(B.v)", in[2].WithNullable(true)), expr.Column(5, "rt", in[1]), expr.Column(6, "t0", in[1])},
		Slots:    slots, Skip: skip, SkipElem: 1, SkipName: "B", Within: within,
	}
}

// matchSteps generates rows of 3 partitions with times at most 3 s behind the watermark's next value
// (never late), watermarks every few pushes, and End.
func matchSteps(rng *rand.Rand, withWatermarks bool) []step {
	var steps []step
	wm, maxTs := int64(0), int64(0)
	for range 10 + rng.IntN(30) {
		var rows []changelog.Row
		for range 1 + rng.IntN(3) {
			ts := wm + 1 + int64(rng.IntN(3000))
			maxTs = max(maxTs, ts)
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				types.IntValue(int64(rng.IntN(3))), types.TimestampValue(ts, 0), types.IntValue(int64(rng.IntN(5)))}})
		}
		steps = append(steps, step{rows: rows})
		if withWatermarks && rng.IntN(3) == 0 && maxTs-1000 > wm {
			wm = maxTs - 1000
			steps = append(steps, step{wm: wm, isWM: true})
		}
	}
	return append(steps, step{end: true})
}

func TestMatchRestore(t *testing.T) {
	forEachCut(t, "Match", 60, func(rng *rand.Rand) (builder, []step) {
		skip := MatchSkip(rng.IntN(3))
		if skip == 2 {
			skip = SkipToLast
		}
		var within int64
		if rng.IntN(2) == 0 {
			within = 2000 + int64(rng.IntN(4000))
		}
		cfg := matchTestConfig(t, rng.IntN(2) == 0, skip, within)
		build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewMatch(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}
		return build, matchSteps(rng, true)
	})
}

// TestMatchWatermarksDoNotChangeResults: the matches found while watermarks advance are those found when
// every row is fed at the end (batch mode), since no row is late.
func TestMatchWatermarksDoNotChangeResults(t *testing.T) {
	found := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 99))
		cfg := matchTestConfig(t, seed%2 == 0, MatchSkip(seed%3), int64(seed%4)*1500)
		steps := matchSteps(rng, true)
		run := func(steps []step) []string {
			rec := &recorder{}
			op, err := NewMatch(cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, []changelog.Output{op}, steps)
			var out []string
			for _, r := range rec.rows {
				if r.Kind != changelog.Insert {
					t.Fatalf("seed %d: emitted %s", seed, r.Kind)
				}
				out = append(out, formatRow(r))
			}
			slices.Sort(out)
			return out
		}
		streaming := run(steps)
		batch := run(slices.DeleteFunc(slices.Clone(steps), func(s step) bool { return s.isWM }))
		if !slices.Equal(streaming, batch) {
			t.Fatalf("seed %d: with watermarks\n%v\nall at the end\n%v", seed, streaming, batch)
		}
		found += len(batch)
	}
	if found < 100 {
		t.Fatalf("only %d matches in 200 runs: the input is too weak", found)
	}
}

// TestMatchLateRows: a row at or behind the watermark is dropped and counted.
func TestMatchLateRows(t *testing.T) {
	cfg := matchTestConfig(t, false, SkipPastLastRow, 0)
	rec := &recorder{}
	op, err := NewMatch(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	row := func(ts, v int64) changelog.Row {
		return changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.TimestampValue(ts, 0), types.IntValue(v)}}
	}
	steps := []step{
		{rows: []changelog.Row{row(1000, 3), row(2000, 1)}},
		{wm: 2000, isWM: true},
		{rows: []changelog.Row{row(1500, 0), row(2000, 9), row(3000, 5)}}, // two late rows
		{end: true},
	}
	runSteps(t, []changelog.Output{op}, steps)
	if got := op.(*matchOp).Late; got != 2 {
		t.Fatalf("Late = %d, want 2", got)
	}
	// A=3 (1 s), B=1 (2 s), C=5 (3 s): the late rows took no part.
	if len(rec.rows) != 1 || formatRow(rec.rows[0]) != "+I[1, 3, 1, ts3000, ts1000]" {
		t.Fatalf("got %d rows: %v", len(rec.rows), formatRow(rec.rows[0]))
	}
}

// TestMatchStatePruned: with WITHIN, rows and runs of a partition that can no longer match are dropped as
// the watermark passes, and a partition without pending rows, runs or waiting matches is removed.
func TestMatchStatePruned(t *testing.T) {
	cfg := matchTestConfig(t, false, SkipPastLastRow, 1000)
	op, err := NewMatch(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []changelog.Row
	for i := range int64(100) {
		// v decreasing: every row is an A and a B, no C ever matches, so runs pile up without WITHIN.
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(7), types.TimestampValue(i*100, 0), types.IntValue(200 - i)}})
	}
	m := op.(*matchOp)
	if err := m.Push(&changelog.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	if err := m.Watermark(5000); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.parts {
		if len(p.rows) > 11 || len(p.nfa.runs) > 11 {
			t.Fatalf("after the watermark: %d rows and %d runs kept, want at most the last second's", len(p.rows), len(p.nfa.runs))
		}
	}
	if err := m.Watermark(20000); err != nil {
		t.Fatal(err)
	}
	if len(m.parts) != 0 {
		t.Fatalf("%d partitions kept after every run timed out", len(m.parts))
	}
}

// BenchmarkMatch: PATTERN (A B+? C) over 64 partitions, batches of 1024 rows, a watermark after each.
func BenchmarkMatch(b *testing.B) {
	cfg := matchTestConfig(b, false, SkipPastLastRow, 0)
	op, err := NewMatch(cfg, &discard{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batch := &changelog.Batch{}
	vals := make([]types.Value, 3*1024)
	b.ReportAllocs()
	b.ResetTimer()
	ts := int64(0)
	for i := 0; i < b.N; i += 1024 {
		batch.Reset()
		for k := range 1024 {
			ts++
			row := vals[3*k : 3*k+3]
			row[0], row[1], row[2] = types.IntValue(int64(k%64)), types.TimestampValue(ts, 0), types.IntValue(int64(rng.IntN(10)))
			batch.Append(changelog.Insert, row)
		}
		if err := op.Push(batch); err != nil {
			b.Fatal(err)
		}
		if err := op.Watermark(ts); err != nil {
			b.Fatal(err)
		}
	}
}
