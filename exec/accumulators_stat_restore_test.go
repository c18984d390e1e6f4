package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The statistical aggregates and COLLECT restore from any checkpoint cut with the same output as an
// uninterrupted run, in group aggregates (with retractions), window aggregates and OVER aggregates (with
// DISTINCT, which OVER windows now take).
func TestStatAggRestoreProperty(t *testing.T) {
	calls := []string{"VAR_POP($1)", "VAR_SAMP($1)", "STDDEV_POP($1)", "STDDEV_SAMP($3)", "VARIANCE($3)", "STDDEV($1)",
		"COLLECT($4)", "COLLECT($1)", "VAR_POP(DISTINCT $1)"}
	forEachCut(t, "group aggregate with statistical aggregates", 50, func(rng *rand.Rand) (builder, []step) {
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: groupAggInput, Aggs: aggCalls(t, groupAggInput, calls...), EmitUpdateBefore: true}
		ch := &changes{rng: rng, retract: 0.3, update: true}
		var steps []step
		for range 10 + rng.IntN(60) {
			steps = append(steps, ch.next(0, func() []types.Value { return randGroupRow(rng) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewGroupAgg(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

func TestStatWindowAndOverAggRestoreProperty(t *testing.T) {
	winIn := append(append([]types.Type{}, timedInput...), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3))
	forEachCut(t, "window aggregate with statistical aggregates", 100, func(rng *rand.Rand) (builder, []step) {
		cfg := GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: winIn,
			Aggs: aggCalls(t, winIn, "VAR_POP($2)", "STDDEV_SAMP($2)", "COLLECT($2)")}
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			agg, err := NewWindowAgg(cfg, 2, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{NewWindowAssigner(WindowSpec{Kind: Hop, Size: 6, Slide: 2}, 1, false, nil, agg)}, []state.Snapshotter{StateOf(agg)}
		}, timedRows(rng, 20+rng.IntN(60), 1)
	})
	frames := []OverFrame{{Rows: true, Unbounded: true}, {Unbounded: true}, {Rows: true, Preceding: 2}, {Preceding: 5}}
	forEachCut(t, "OVER aggregate with DISTINCT and statistical aggregates", 100, func(rng *rand.Rand) (builder, []step) {
		cfg := OverConfig{Partition: []int{0}, OrderCol: 1, Frame: frames[rng.IntN(len(frames))], InTypes: timedInput,
			Aggs: aggCalls(t, timedInput, "COUNT(DISTINCT $2)", "SUM(DISTINCT $2)", "VAR_SAMP($2)", "STDDEV_POP($2)", "COLLECT($2)")}
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewOverAgg(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, timedRows(rng, 20+rng.IntN(60), 1)
	})
}
