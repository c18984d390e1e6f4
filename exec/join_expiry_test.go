package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// intervalTestConfig is an interval join of (key, time, payload) rows: Lower <= l.t - r.t <= Upper, the
// bounds also checked by the residual, as the planner builds it.
func intervalTestConfig(t testing.TB, jt JoinType, lower, upper int64) JoinConfig {
	t.Helper()
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType()}
	env := expr.NewEnv(nil)
	mk := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	diff := mk("-", expr.Column(1, "lt", ts[1]), expr.Column(4, "rt", ts[1]))
	residual := mk("AND", mk(">=", diff, expr.Literal(types.IntValue(lower), types.BigIntType())),
		mk("<=", diff, expr.Literal(types.IntValue(upper), types.BigIntType())))
	return JoinConfig{Type: jt, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
		Residual: residual, Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}}
}

// TestIntervalJoinPruneVisitsExpiringRows: with 100K rows in state and 1000 watermarks that each expire
// ~100 of them, prune looks at rows of the expiring keys only (a few rows per key here), not at the whole
// state on every watermark (a full scan looks at ~50M rows).
func TestIntervalJoinPruneVisitsExpiringRows(t *testing.T) {
	for _, jt := range []JoinType{InnerJoin, LeftJoin} {
		left, right := NewJoin(intervalTestConfig(t, jt, 0, 0), NewCollect(func(changelog.Row) error { return nil }))
		j := left.(*joinInput).j
		const rows, keys = 100_000, 25_000 // four rows per key, 25 s apart
		var b changelog.Batch
		vals := make([]types.Value, 3*rows)
		for i := range rows {
			row := vals[3*i : 3*i+3]
			row[0], row[1], row[2] = types.IntValue(int64(i%keys)), types.IntValue(int64(i)), types.IntValue(7)
			b.Append(changelog.Insert, row)
			if len(b.Rows) == 1024 || i == rows-1 {
				if err := left.Push(&b); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		if l, _ := j.StateRows(); l != rows {
			t.Fatalf("%s: %d rows in state, want %d", jt, l, rows)
		}
		j.pruneVisits = 0
		for k := 1; k <= 1000; k++ {
			for _, in := range []changelog.Output{left, right} {
				if err := in.Watermark(int64(k) * 100); err != nil {
					t.Fatal(err)
				}
			}
		}
		l, _ := j.StateRows()
		if l != 0 {
			t.Fatalf("%s: %d rows left in state after the watermark passed them all", jt, l)
		}
		t.Logf("%s: prune looked at %d rows to expire %d", jt, j.pruneVisits, rows)
		if j.pruneVisits > 6*rows {
			t.Fatalf("%s: prune looked at %d rows to expire %d: it scans more than the expiring keys", jt, j.pruneVisits, rows)
		}
		if n := j.expiry[0].size() + j.expiry[1].size(); n != 0 {
			t.Fatalf("%s: the expiry index lists %d keys with state empty", jt, n)
		}
	}
}

// TestIntervalJoinPruneMatchesFullScan feeds random rows (late ones, NULL keys and times, several rows per
// key) and watermarks into interval joins of every outer type, once pruning through the expiry index and
// once scanning every key, and checks that both emit the same rows and watermarks in the same order and
// hold the same state; midway both are checkpointed and restored (the index is rebuilt).
func TestIntervalJoinPruneMatchesFullScan(t *testing.T) {
	for _, jt := range []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin} {
		for seed := uint64(0); seed < 40; seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(jt)+100))
			lower := int64(rng.IntN(400)) - 300
			upper := lower + int64(rng.IntN(400))
			cfg := intervalTestConfig(t, jt, lower, upper)
			var recs [2]recorder
			var ins [2][2]changelog.Output
			var js [2]*joinOp
			build := func(v int) {
				l, r := NewJoin(cfg, &recs[v])
				ins[v] = [2]changelog.Output{l, r}
				js[v] = l.(*joinInput).j
				js[v].fullPrune = v == 1
			}
			build(0)
			build(1)
			clock := int64(0)
			steps := 300 + rng.IntN(300)
			for step := range steps {
				if step == steps/2 {
					for v := range 2 {
						snap := state.NewMemory()
						if err := js[v].SnapshotState(snap); err != nil {
							t.Fatal(err)
						}
						build(v)
						if err := js[v].RestoreState(snap.Reader()); err != nil {
							t.Fatal(err)
						}
					}
				}
				side := rng.IntN(2)
				if rng.IntN(6) == 0 {
					clock += int64(rng.IntN(200))
					wm := clock - int64(rng.IntN(300))
					for v := range 2 {
						if err := ins[v][side].Watermark(wm); err != nil {
							t.Fatal(err)
						}
					}
					continue
				}
				var b changelog.Batch
				for range 1 + rng.IntN(4) {
					key := types.IntValue(int64(rng.IntN(6)))
					if rng.IntN(15) == 0 {
						key = types.NullValue
					}
					tm := types.IntValue(clock + int64(rng.IntN(600)) - 300)
					if rng.IntN(40) == 0 {
						tm = types.NullValue
					}
					b.Append(changelog.Insert, []types.Value{key, tm, types.IntValue(int64(rng.IntN(3)))})
				}
				for v := range 2 {
					if err := ins[v][side].Push(&b); err != nil {
						t.Fatal(err)
					}
				}
			}
			for v := range 2 {
				for _, in := range ins[v] {
					if err := in.End(); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, want := recs[0].b.String(), recs[1].b.String()
			if got != want {
				t.Fatalf("%s seed %d: pruning by the expiry index emitted\n%s\nscanning every key\n%s", jt, seed, got, want)
			}
			if len(recs[0].rows) == 0 {
				t.Fatalf("%s seed %d: no output: the test exercises nothing", jt, seed)
			}
		}
	}
}

// BenchmarkIntervalJoinWatermarks: an interval join holding a steady state of N rows (one side, keys mostly
// of one row) takes b.N more rows in batches of 1024, each followed by a watermark that expires as many:
// the cost per row (cpu-ns/op) must not grow with N.
func BenchmarkIntervalJoinWatermarks(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("state=%d", n), func(b *testing.B) {
			left, right := NewJoin(intervalTestConfig(b, InnerJoin, 0, 0), NewCollect(func(changelog.Row) error { return nil }))
			rng := rand.New(rand.NewPCG(5, 6))
			const batch = 1024
			vals := make([]types.Value, 3*batch)
			var bt changelog.Batch
			next := int64(0)
			feed := func(rows int, wm bool) {
				for i := 0; i < rows; i += batch {
					bt.Reset()
					for k := range min(batch, rows-i) {
						row := vals[3*k : 3*k+3]
						row[0], row[1], row[2] = types.IntValue(rng.Int64N(1<<30)), types.IntValue(next), types.IntValue(next)
						next++
						bt.Append(changelog.Insert, row)
					}
					if err := left.Push(&bt); err != nil {
						b.Fatal(err)
					}
					if wm {
						for _, in := range []changelog.Output{left, right} {
							if err := in.Watermark(next - int64(n)); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			}
			feed(n, false)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			feed(b.N, true)
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkIntervalJoinHotKeys: four join keys; right rows stay in state for `state` ms (one left and one
// right row per ms: l.t - r.t in [state, state+8]), so each key holds state/4 right rows in one bigBucket,
// while a left row matches about two of them and left rows expire at once. Every batch of 512 rows per
// side is followed by a watermark 10 ms behind. The cost per row (cpu-ns/op, per pair of rows) must not
// grow with the state: prune reads only the expiring chunks of a key and a probe only the chunks inside its
// bounds.
func BenchmarkIntervalJoinHotKeys(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("state=%d", n), func(b *testing.B) {
			matches := 0
			left, right := NewJoin(intervalTestConfig(b, InnerJoin, int64(n), int64(n)+8),
				NewCollect(func(changelog.Row) error { matches++; return nil }))
			const batch = 512
			vals := make([]types.Value, 3*batch)
			var bt changelog.Batch
			next := int64(0)
			feed := func(rows int) {
				for i := 0; i < rows; i += batch {
					k := min(batch, rows-i)
					for s, in := range []changelog.Output{left, right} {
						bt.Reset()
						for r := range k {
							row := vals[3*r : 3*r+3]
							tm := next + int64(r)
							row[0], row[1], row[2] = types.IntValue(tm%4), types.IntValue(tm), types.IntValue(int64(s))
							bt.Append(changelog.Insert, row)
						}
						if err := in.Push(&bt); err != nil {
							b.Fatal(err)
						}
					}
					next += int64(k)
					for _, in := range []changelog.Output{left, right} {
						if err := in.Watermark(next - 10); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			feed(n + 1024)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			matches = 0
			feed(b.N)
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
			if _, r := left.(*joinInput).j.StateRows(); r < n*9/10 {
				b.Fatalf("%d right rows in state, want about %d", r, n)
			}
		})
	}
}
