package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestSessionMatchesRecomputation feeds rows in random time order into the session assigner and checks the
// sessions it closes against a recomputation: per key, sort the times; a row whose window [t, t+gap) touches
// the session so far (t <= end) joins it (Flink merges windows that intersect, touching ones included).
func TestSessionMatchesRecomputation(t *testing.T) {
	const gap = 10
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(120)
		var rows [][]types.Value
		times := map[int64][]int64{}
		for range n {
			k, ts := int64(rng.IntN(3)), int64(rng.IntN(400))
			rows = append(rows, []types.Value{types.IntValue(k), types.TimestampValue(ts, 0)})
			times[k] = append(times[k], ts)
		}
		var got []string
		w := NewSessionAssigner(gap, 1, []int{0}, []types.Type{types.BigIntType()}, false, nil, NewCollect(func(r changelog.Row) error {
			got = append(got, fmt.Sprintf("k=%d [%d,%d) t=%d", r.Vals[0].I, r.Vals[2].I, r.Vals[3].I, r.Vals[1].I))
			return nil
		}))
		for i := 0; i < len(rows); {
			m := min(len(rows)-i, 1+rng.IntN(8))
			if err := w.Push(&changelog.Batch{Rows: rowsOf(rows[i : i+m])}); err != nil {
				t.Fatal(err)
			}
			i += m
		}
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
		var want []string
		for k, ts := range times {
			slices.Sort(ts)
			for i := 0; i < len(ts); {
				start, end, j := ts[i], ts[i]+gap, i+1
				for j < len(ts) && ts[j] <= end {
					end = max(end, ts[j]+gap)
					j++
				}
				for _, x := range ts[i:j] {
					want = append(want, fmt.Sprintf("k=%d [%d,%d) t=%d", k, start, end, x))
				}
				i = j
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("seed %d: sessions differ from recomputation\ngot:\n%s\nwant:\n%s", seed, g, w)
		}
	}
}

func rowsOf(vals [][]types.Value) []changelog.Row {
	out := make([]changelog.Row, len(vals))
	for i, v := range vals {
		out[i] = changelog.Row{Kind: changelog.Insert, Vals: v}
	}
	return out
}
