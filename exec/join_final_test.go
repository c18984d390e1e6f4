package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestJoinBatchFinalState: a batch join over inputs A writes its final state; a streaming join restored from
// it and fed inputs B gives, materialized together with the batch output, the table of one streaming join
// over A then B — for inner, left, right and full joins, with NULL keys and duplicate rows.
func TestJoinBatchFinalState(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 31))
		typ := JoinType(seed % 4)
		row := func() []types.Value {
			k := types.IntValue(int64(rng.IntN(4)))
			if rng.IntN(8) == 0 {
				k = types.NullValue
			}
			return []types.Value{k, types.StringValue(fmt.Sprint("v", rng.IntN(3)))}
		}
		type in struct {
			side int
			vals []types.Value
		}
		gen := func() []in {
			var out []in
			for range rng.IntN(25) {
				out = append(out, in{rng.IntN(2), row()})
			}
			return out
		}
		a, b := gen(), gen()
		cfg := JoinConfig{Type: typ, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts}
		feed := func(l, r changelog.Output, rows []in) {
			for _, x := range rows {
				var bt changelog.Batch
				bt.Append(changelog.Insert, x.vals)
				if err := []changelog.Output{l, r}[x.side].Push(&bt); err != nil {
					t.Fatal(err)
				}
			}
		}

		want := changelog.NewMaterializer(nil)
		l, r := NewJoin(cfg, NewCollect(want.Apply))
		feed(l, r, append(append([]in(nil), a...), b...))

		got := changelog.NewMaterializer(nil)
		final := state.NewMemory()
		bcfg := cfg
		bcfg.Batch, bcfg.FinalState = true, final
		bl, br := NewJoin(bcfg, NewCollect(got.Apply))
		feed(bl, br, a)
		if err := bl.End(); err != nil {
			t.Fatal(err)
		}
		if err := br.End(); err != nil {
			t.Fatal(err)
		}
		sl, sr := NewJoin(cfg, NewCollect(got.Apply))
		if err := StateOf(sl).RestoreState(final.Reader()); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		feed(sl, sr, b)
		if w, g := matString(want), matString(got); w != g {
			t.Fatalf("seed %d (%s): batch then streaming:\n%s\nstreaming over all:\n%s", seed, typ, g, w)
		}
	}
}
