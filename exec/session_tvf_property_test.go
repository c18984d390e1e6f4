package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestSessionWindowAggMatchesRecomputation runs the SESSION window TVF's plan (session assigner, then a
// window aggregation grouped by key, window_start, window_end: COUNT(*), SUM(v)) over rows in random order
// with watermarks between batches (never within a gap of a row still to come, so no row is late or touches a closed session), and checks its +I
// rows against a recomputation: per key, sort the times; a row whose window [t, t+gap) touches the session so
// far (t <= end) joins it. Also checks that every session fires once and only after the watermark passed its
// end - 1.
func TestSessionWindowAggMatchesRecomputation(t *testing.T) {
	const gap = 10
	early := 0 // sessions fired by a watermark before the end of input
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		n := 1 + rng.IntN(150)
		type in struct{ k, ts, v int64 }
		var rows []in
		for range n {
			rows = append(rows, in{int64(rng.IntN(4)), int64(rng.IntN(500)), int64(rng.IntN(100) - 20)})
		}
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

		// Input columns: k, ts, v; the assigner appends window_start (3), window_end (4), window_time (5).
		aggs := []AggCall{{Func: "COUNT", Filter: -1}, {Func: "SUM", Args: []int{2}, ArgTypes: []types.Type{types.BigIntType()}, Filter: -1}}
		for i := range aggs {
			rt, err := AggResultType(aggs[i].Func, false, aggs[i].ArgTypes)
			if err != nil {
				t.Fatal(err)
			}
			aggs[i].Type = rt
		}
		inTypes := []types.Type{types.BigIntType(), types.TimestampType(3), types.BigIntType(), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}
		cfg := GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: inTypes, Aggs: aggs}
		var got []string
		wm := int64(minWatermark)
		sink := NewCollect(func(r changelog.Row) error {
			if r.Kind != changelog.Insert {
				return fmt.Errorf("window aggregate emitted %s", r.Kind)
			}
			if r.Vals[2].I-1 > wm {
				return fmt.Errorf("session [%d,%d) fired at watermark %d", r.Vals[1].I, r.Vals[2].I, wm)
			}
			if wm != changelog.MaxWatermark {
				early++
			}
			got = append(got, fmt.Sprintf("k=%d [%d,%d) n=%d sum=%d", r.Vals[0].I, r.Vals[1].I, r.Vals[2].I, r.Vals[3].I, r.Vals[4].I))
			return nil
		})
		agg, err := NewWindowAgg(cfg, 2, sink)
		if err != nil {
			t.Fatal(err)
		}
		w := NewSessionAssigner(gap, 1, []int{0}, []types.Type{types.BigIntType()}, false, time.UTC, agg)
		for i := 0; i < len(rows); {
			m := min(len(rows)-i, 1+rng.IntN(10))
			var b changelog.Batch
			for _, r := range rows[i : i+m] {
				b.Append(changelog.Insert, []types.Value{types.IntValue(r.k), types.TimestampValue(r.ts, 0), types.IntValue(r.v)})
			}
			if err := w.Push(&b); err != nil {
				t.Fatal(err)
			}
			i += m
			if i < len(rows) && rng.IntN(2) == 0 {
				// A watermark more than a gap below every row still to come: no row to come can touch a session
				// that the watermark closes (one ending exactly at a later row's time would be closed before it
				// arrives, and that row would start a new session, as in Flink).
				next := rows[i].ts
				for _, r := range rows[i:] {
					next = min(next, r.ts)
				}
				if w2 := next - gap - 1 - int64(rng.IntN(5)); w2 > wm {
					wm = w2
					if err := w.Watermark(wm); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		wm = changelog.MaxWatermark
		if err := w.End(); err != nil {
			t.Fatal(err)
		}

		byKey := map[int64][]in{}
		for _, r := range rows {
			byKey[r.k] = append(byKey[r.k], r)
		}
		var want []string
		for k, rs := range byKey {
			slices.SortFunc(rs, func(a, b in) int { return int(a.ts - b.ts) })
			for i := 0; i < len(rs); {
				start, end, sum, j := rs[i].ts, rs[i].ts+gap, rs[i].v, i+1
				for j < len(rs) && rs[j].ts <= end {
					end = max(end, rs[j].ts+gap)
					sum += rs[j].v
					j++
				}
				want = append(want, fmt.Sprintf("k=%d [%d,%d) n=%d sum=%d", k, start, end, j-i, sum))
				i = j
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d: session window aggregation differs from the recomputation\ngot:\n%s\nwant:\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if early == 0 {
		t.Fatal("no session fired before the end of input: the watermarks were not exercised")
	}
}
