package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// windowRankSteps generates rows [k, v, window_end, id] with small values (ties) and windows around the
// watermark (some late), interleaved with rising watermarks, ending with End.
func windowRankSteps(rng *rand.Rand) []step {
	var steps []step
	wm, id := int64(0), int64(0)
	for range 5 + rng.IntN(40) {
		if rng.IntN(5) == 0 {
			wm += int64(rng.IntN(15))
			steps = append(steps, step{wm: wm, isWM: true})
			continue
		}
		var rows []changelog.Row
		for range 1 + rng.IntN(4) {
			end := 10 * (wm/10 + int64(rng.IntN(4)))
			id++
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				types.IntValue(int64(rng.IntN(3))), types.IntValue(int64(rng.IntN(4))), types.IntValue(end), types.IntValue(id)}})
		}
		steps = append(steps, step{rows: rows})
	}
	return append(steps, step{end: true})
}

// TestWindowRankMatchesRecomputation checks the window Top-N against a recomputation: drop the rows of
// windows the watermark had passed when they came, rank the others per (window, k) by v (ties by arrival,
// reversed with LastOnTies), number them (ROW_NUMBER, RANK or DENSE_RANK), keep those numbered within the
// limit, and expect each window at the first watermark that
// passes its end - 1 (or at End).
func TestWindowRankMatchesRecomputation(t *testing.T) {
	bt := types.BigIntType()
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		cfg := WindowRankConfig{Partition: []int{2, 0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}}, Limit: int64(1 + rng.IntN(3)),
			EndCol: 2, Types: []types.Type{bt, bt, bt, bt}, LastOnTies: rng.IntN(2) == 0, Func: []string{"", "RANK", "DENSE_RANK"}[rng.IntN(3)]}
		if cfg.Func != "" {
			cfg.LastOnTies = false // window deduplication is ROW_NUMBER only
		}
		steps := windowRankSteps(rng)
		at := 0
		var got []string
		op := NewWindowRank(cfg, NewCollect(func(r changelog.Row) error {
			if r.Kind != changelog.Insert {
				t.Fatalf("seed %d: emitted %s", seed, r.Kind)
			}
			got = append(got, fmt.Sprintf("@%d end=%d k=%d v=%d id=%d rn=%d", at, r.Vals[2].I, r.Vals[0].I, r.Vals[1].I, r.Vals[3].I, r.Vals[4].I))
			return nil
		}))
		for i, s := range steps {
			at = i
			runSteps(t, []changelog.Output{op}, []step{s})
		}

		// Recomputation.
		wm := int64(math.MinInt64)
		type key struct{ end, k int64 }
		parts := map[key][][]types.Value{}
		fireAt := map[int64]int{}
		for i, s := range steps {
			switch {
			case s.isWM:
				wm = max(wm, s.wm)
				for e := range fireAt {
					if fireAt[e] < 0 && e-1 <= wm {
						fireAt[e] = i
					}
				}
			case s.end:
				for e := range fireAt {
					if fireAt[e] < 0 {
						fireAt[e] = i
					}
				}
			default:
				for _, r := range s.rows {
					end := r.Vals[2].I
					if end-1 <= wm {
						continue
					}
					if _, ok := fireAt[end]; !ok {
						fireAt[end] = -1
					}
					k := key{end, r.Vals[0].I}
					parts[k] = append(parts[k], r.Vals)
				}
			}
		}
		var want []string
		for k, rows := range parts {
			sort.SliceStable(rows, func(i, j int) bool {
				a, b := rows[i][1].I, rows[j][1].I
				if a == b {
					return cfg.LastOnTies && rows[i][3].I > rows[j][3].I
				}
				return (a < b) != cfg.Order[0].Desc
			})
			var num, dense int64
			for i, r := range rows {
				if i == 0 || r[1].I != rows[i-1][1].I {
					num, dense = int64(i+1), dense+1
				}
				n := map[string]int64{"": int64(i + 1), "RANK": num, "DENSE_RANK": dense}[cfg.Func]
				if n > cfg.Limit {
					break
				}
				want = append(want, fmt.Sprintf("@%d end=%d k=%d v=%d id=%d rn=%d", fireAt[k.end], k.end, k.k, r[1].I, r[3].I, n))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("seed %d (%+v): window rank differs from recomputation\ngot:\n%s\nwant:\n%s", seed, cfg, g, w)
		}
	}
}

// TestWindowRankRestore: a run cut at a random step and restored from a snapshot emits what an
// uninterrupted run does.
func TestWindowRankRestore(t *testing.T) {
	bt := types.BigIntType()
	forEachCut(t, "window rank", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := WindowRankConfig{Partition: []int{2, 0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}}, Limit: int64(1 + rng.IntN(3)),
			EndCol: 2, Types: []types.Type{bt, bt, bt, bt}, LastOnTies: rng.IntN(2) == 0, Func: []string{"", "RANK", "DENSE_RANK"}[rng.IntN(3)]}
		if cfg.Func != "" {
			cfg.LastOnTies = false // window deduplication is ROW_NUMBER only
		}
		build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewWindowRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}
		return build, windowRankSteps(rng)
	})
}
