package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestRankIncrementalMatchesReference runs random inserts and retractions (and -U/+U pairs) of ROW_NUMBER
// Ranks — limits from 1 to 60 and unbounded, with and without the row number, insert-only and updating
// inputs, partitions large enough to move to rankBigs, pushes of up to 40 rows — through the incremental
// path (rank_incr.go), through the general path (top rows recomputed and compared whole) and through the
// naive reference Rank (rank_ref_test.go): the three outputs must be the same, row for row and push for
// push.
func TestRankIncrementalMatchesReference(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	limits := []int64{1, 2, 5, 20, 60, -1}
	bigs, incr := 0, 0
	for seed := range uint64(160) {
		rng := rand.New(rand.NewPCG(seed, 0x51c3))
		insertOnly := rng.IntN(2) == 0
		cfg := RankConfig{Partition: []int{0}, Limit: limits[rng.IntN(len(limits))], RowNumber: rng.IntN(3) != 0,
			Types: ts, InsertOnly: insertOnly}
		if rng.IntN(2) == 0 {
			cfg.Func = "ROW_NUMBER"
		}
		cfg.Order = []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		if rng.IntN(3) == 0 {
			cfg.Order = append(cfg.Order, SortKey{Col: 2, Desc: rng.IntN(2) == 0})
		}
		parts, orders, pad := 1+rng.IntN(3), 1+rng.IntN(60), rng.IntN(300)
		ch := &changes{rng: rng, update: true}
		if !insertOnly {
			ch.retract = 0.2 + 0.3*rng.Float64()
		}
		var steps []step
		n := 30 + rng.IntN(200)
		if cfg.Limit < 0 && cfg.RowNumber {
			n = 20 + rng.IntN(60)
		}
		for range n {
			s := ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, orders, pad) })
			steps = append(steps, s)
		}
		got, general, want := &recorder{}, &recorder{}, &recorder{}
		op, gen, ref := NewRank(cfg, got), NewRank(cfg, general), newRefRank(cfg, want)
		if !op.(*rankOp).incremental {
			t.Fatalf("seed %d: %+v does not take the incremental path", seed, cfg)
		}
		gen.(*rankOp).incremental = false
		for i := 0; i < len(steps); {
			b := &changelog.Batch{}
			for k := 1 + rng.IntN(40); k > 0 && i < len(steps); k-- {
				for _, r := range steps[i].rows {
					b.Append(r.Kind, r.Vals)
				}
				i++
			}
			for _, o := range []changelog.Output{op, gen, ref} {
				if err := o.Push(b); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
			}
		}
		for _, o := range []changelog.Output{op, gen, ref} {
			if err := o.End(); err != nil {
				t.Fatal(err)
			}
		}
		if got.b.String() != want.b.String() {
			t.Fatalf("seed %d (%+v): output differs from the reference\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
		if general.b.String() != want.b.String() {
			t.Fatalf("seed %d (%+v): the general path's output differs from the reference", seed, cfg)
		}
		if got.pushes != want.pushes {
			t.Fatalf("seed %d: %d pushes, want %d", seed, got.pushes, want.pushes)
		}
		if len(want.b.String()) > 0 {
			incr++
		}
		for _, bb := range op.(*rankOp).st.bigs {
			if bb != nil {
				bigs++
			}
		}
	}
	if bigs == 0 || incr == 0 {
		t.Fatalf("%d seeds kept a partition in a rankBig, %d emitted: the test does not reach both", bigs, incr)
	}
}
