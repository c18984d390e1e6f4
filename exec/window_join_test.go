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

// windowJoinSteps generates rows [k, window_end, id] on both inputs (k sometimes NULL, windows around the
// watermark, some late), watermarks per input, and End on both.
func windowJoinSteps(rng *rand.Rand) []step {
	var steps []step
	wm, id := [2]int64{}, int64(0)
	for range 5 + rng.IntN(40) {
		in := rng.IntN(2)
		if rng.IntN(4) == 0 {
			wm[in] += int64(rng.IntN(15))
			steps = append(steps, step{in: in, wm: wm[in], isWM: true})
			continue
		}
		var rows []changelog.Row
		for range 1 + rng.IntN(3) {
			end := 10 * (min(wm[0], wm[1])/10 + int64(rng.IntN(3)))
			id++
			k := types.IntValue(int64(rng.IntN(3)))
			if rng.IntN(8) == 0 {
				k = types.NullValue
			}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{k, types.IntValue(end), types.IntValue(id)}})
		}
		steps = append(steps, step{in: in, rows: rows})
	}
	return append(steps, step{in: 0, end: true}, step{in: 1, end: true})
}

func windowJoinConfig(typ JoinType) WindowJoinConfig {
	bt := types.BigIntType()
	ts := []types.Type{bt, bt, bt}
	return WindowJoinConfig{Type: typ, LeftKeys: []int{1, 0}, RightKeys: []int{1, 0}, LeftTypes: ts, RightTypes: ts, LeftEnd: 1, RightEnd: 1}
}

// TestWindowJoinMatchesRecomputation checks the window join against a recomputation: drop rows of windows
// the joint watermark (the minimum of both inputs') had passed when they came; per window, every pair with
// equal non-NULL keys, then the unmatched rows of the outer sides; each window at the first joint watermark
// that passes its end - 1, or at the End of the second input.
func TestWindowJoinMatchesRecomputation(t *testing.T) {
	for seed := uint64(0); seed < 400; seed++ {
		rng := rand.New(rand.NewPCG(seed, 13))
		typ := JoinType(rng.IntN(4))
		steps := windowJoinSteps(rng)
		at := 0
		var got []string
		id := func(v []types.Value, off int) string {
			if v[off].IsNull() {
				return "-"
			}
			return fmt.Sprint(v[off].I)
		}
		l, r := NewWindowJoin(windowJoinConfig(typ), NewCollect(func(row changelog.Row) error {
			if row.Kind != changelog.Insert {
				t.Fatalf("seed %d: emitted %s", seed, row.Kind)
			}
			got = append(got, fmt.Sprintf("@%d L%s R%s", at, id(row.Vals, 2), id(row.Vals, 5)))
			return nil
		}))
		for i, s := range steps {
			at = i
			runSteps(t, []changelog.Output{l, r}, []step{s})
		}

		wm := [2]int64{minWatermark, minWatermark}
		fired := int64(minWatermark)
		type win struct {
			rows   [2][][]types.Value
			fireAt int
		}
		wins := map[int64]*win{}
		ended := 0
		for i, s := range steps {
			switch {
			case s.isWM:
				wm[s.in] = max(wm[s.in], s.wm)
				fired = max(fired, min(wm[0], wm[1]))
				for e, w := range wins {
					if w.fireAt < 0 && e-1 <= fired {
						w.fireAt = i
					}
				}
			case s.end:
				ended++
				if ended == 2 {
					for _, w := range wins {
						if w.fireAt < 0 {
							w.fireAt = i
						}
					}
				}
			default:
				for _, row := range s.rows {
					e := row.Vals[1].I
					if e-1 <= fired {
						continue
					}
					if wins[e] == nil {
						wins[e] = &win{fireAt: -1}
					}
					wins[e].rows[s.in] = append(wins[e].rows[s.in], row.Vals)
				}
			}
		}
		var want []string
		for _, w := range wins {
			matchedR := map[int]bool{}
			for _, lv := range w.rows[0] {
				found := false
				for ri, rv := range w.rows[1] {
					if !lv[0].IsNull() && !rv[0].IsNull() && lv[0].I == rv[0].I {
						found, matchedR[ri] = true, true
						want = append(want, fmt.Sprintf("@%d L%d R%d", w.fireAt, lv[2].I, rv[2].I))
					}
				}
				if !found && (typ == LeftJoin || typ == FullJoin) {
					want = append(want, fmt.Sprintf("@%d L%d R-", w.fireAt, lv[2].I))
				}
			}
			for ri, rv := range w.rows[1] {
				if !matchedR[ri] && (typ == RightJoin || typ == FullJoin) {
					want = append(want, fmt.Sprintf("@%d L- R%d", w.fireAt, rv[2].I))
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("seed %d (%s): window join differs from recomputation\ngot:\n%s\nwant:\n%s", seed, typ, g, w)
		}
	}
}

// TestWindowJoinRestore: a run cut at a random step and restored from a snapshot emits what an
// uninterrupted run does.
func TestWindowJoinRestore(t *testing.T) {
	forEachCut(t, "window join", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := windowJoinConfig(JoinType(rng.IntN(4)))
		build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			l, r := NewWindowJoin(cfg, out)
			return []changelog.Output{l, r}, []state.Snapshotter{StateOf(l)}
		}
		return build, windowJoinSteps(rng)
	})
}
