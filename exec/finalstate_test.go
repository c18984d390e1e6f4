package exec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestBatchFinalStateContinuesStreaming: a batch group aggregate over rows A writes its final state; a
// streaming group aggregate (insert-only input) restored from it and fed rows B gives, materialized with
// the batch output, the table of one streaming run over A then B.
func TestBatchFinalStateContinuesStreaming(t *testing.T) {
	calls := []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM0($1)", "SUM($2)", "AVG($2)", "SUM($3)", "AVG($3)",
		"MIN($1)", "MAX($4)", "MIN($2)", "MAX($3)", "FIRST_VALUE($1)", "LAST_VALUE($4)", "LISTAGG($4)", "LISTAGG($4, $7)",
		"BOOL_AND($5)", "BOOL_OR($5)", "COUNT(DISTINCT $1)", "SUM(DISTINCT $1)", "MIN($1) FILTER $6", "MAX(DISTINCT $4)", "LAST_VALUE($3)"}
	aggs := aggCalls(t, groupAggInput, calls...)
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 99))
		keys := []int{0}
		if seed%5 == 4 {
			keys = nil // a global aggregate (A may be empty)
		}
		var a, b [][]types.Value
		for range rng.IntN(40) {
			a = append(a, randGroupRow(rng))
		}
		for range 1 + rng.IntN(40) {
			b = append(b, randGroupRow(rng))
		}
		stream := GroupAggConfig{Keys: keys, InTypes: groupAggInput, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: true}

		// One streaming run over A then B.
		want := changelog.NewMaterializer(nil)
		op, err := NewGroupAgg(stream, NewCollect(want.Apply))
		if err != nil {
			t.Fatal(err)
		}
		pushRows(t, op, append(slices.Clone(a), b...))

		// Batch over A (sorted by key), then streaming restored from its final state over B.
		got := changelog.NewMaterializer(nil)
		final := state.NewMemory()
		batch := stream
		batch.Batch, batch.InsertOnly, batch.FinalState = true, false, final
		bop, err := NewGroupAgg(batch, NewCollect(got.Apply))
		if err != nil {
			t.Fatal(err)
		}
		sorted := slices.Clone(a)
		slices.SortStableFunc(sorted, func(x, y []types.Value) int {
			if keys == nil {
				return 0
			}
			return types.Compare(x[0], y[0], types.StringType())
		})
		pushRows(t, bop, sorted)
		if err := bop.End(); err != nil {
			t.Fatal(err)
		}
		sop, err := NewGroupAgg(stream, NewCollect(got.Apply))
		if err != nil {
			t.Fatal(err)
		}
		if err := StateOf(sop).RestoreState(final.Reader()); err != nil {
			t.Fatalf("seed %d: restore the batch run's final state: %v", seed, err)
		}
		pushRows(t, sop, b)
		if g, w := rowsText(got.Rows()), rowsText(want.Rows()); g != w {
			t.Fatalf("seed %d: batch then streaming gives\n%s\none streaming run gives\n%s", seed, g, w)
		}
		if len(a) > 0 && final.Len() < 2 {
			t.Fatalf("seed %d: the batch run wrote %d entries", seed, final.Len())
		}
	}
}

func pushRows(t *testing.T, op changelog.Output, rows [][]types.Value) {
	t.Helper()
	for _, r := range rows {
		if err := op.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: r}}}); err != nil {
			t.Fatal(err)
		}
	}
}
