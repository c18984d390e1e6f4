package exec

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestCompactBlocksMatchRows: compact groups with q16's calls (string MAX, COUNT(*) with FILTERs, two
// COUNT(DISTINCT) families of FILTER variants), fed the same random columnar batches by blocks
// (pushCompactBlocks) and row by row (pushCompactColumns), write the same changes, row for row, and the same
// snapshot; a retraction in the last batch fails both after the same rows. The batches mix few and many
// groups (a block holds a group's rows several times, or once), NULL arguments and FILTERs, argument values
// past 2^32 (a set leaves narrow mode) and selection vectors.
func TestCompactBlocksMatchRows(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.BigIntType(), types.BigIntType(),
		types.StringType(), types.BooleanType(), types.BooleanType(), types.BooleanType()}
	aggs := aggCalls(t, in, "MAX($4)", "COUNT(*)", "COUNT(*)", "COUNT(*)", "COUNT(*)",
		"COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)", "COUNT(DISTINCT $2)",
		"COUNT(DISTINCT $3)", "COUNT(DISTINCT $3)", "COUNT(DISTINCT $3)", "COUNT(DISTINCT $3)")
	for k, f := range []int{5, 6, 7} {
		aggs[2+k].Filter, aggs[6+k].Filter, aggs[10+k].Filter = f, f, f
	}
	// seeds 0-7: q16's calls; seeds 8-11: MIN instead of MAX over strings that are often empty or NULL (the
	// read-ahead of a kept string's bytes skips an empty one); seeds 12-15: no string call (no strings to
	// read ahead)
	minAggs := append(aggCalls(t, in, "MIN($4)"), aggs[1:]...)
	noStr := aggs[1:]
	for seed := range uint64(16) {
		rng := rand.New(rand.NewPCG(seed, 23))
		groups := []int{3, 40, 2000, 20000}[seed%4]
		aggs := [][]AggCall{aggs, aggs, minAggs, noStr}[seed/4]
		str := func() types.Value {
			if seed/4 == 2 {
				switch rng.IntN(4) {
				case 0:
					return types.NullValue
				case 1:
					return types.StringValue("")
				}
			}
			return types.StringValue(fmt.Sprintf("%02d:%02d", rng.IntN(24), rng.IntN(60)))
		}
		cfg := GroupAggConfig{Keys: []int{0, 1}, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: seed%2 == 0}
		name := fmt.Sprintf("seed=%d groups=%d", seed, groups)
		ops := make([]*groupAgg, 2)
		recs := make([]*recorder, 2)
		for i := range ops {
			recs[i] = &recorder{}
			op, err := NewGroupAgg(cfg, recs[i])
			if err != nil {
				t.Fatal(err)
			}
			ops[i] = op.(*groupAgg)
			if ops[i].compact == nil {
				t.Fatalf("%s: no compact groups", name)
			}
		}
		ops[0].compact.blockGroups = 0             // by blocks from the first row
		ops[1].compact.blockGroups = math.MaxInt32 // row by row
		val := func(n int) types.Value {
			switch rng.IntN(25) {
			case 0:
				return types.NullValue
			case 1:
				return types.IntValue(int64(1)<<33 + int64(rng.IntN(n))) // another high half: fixed mode
			}
			return types.IntValue(int64(rng.IntN(n)))
		}
		flag := func() types.Value {
			if rng.IntN(15) == 0 {
				return types.NullValue
			}
			return types.BoolValue(rng.IntN(2) == 0)
		}
		batch := func(n int, retract int) *vec.Batch {
			rows := make([]changelog.Row, n)
			for r := range rows {
				rows[r] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
					types.StringValue(fmt.Sprint("channel-", rng.IntN(groups))), types.IntValue(int64(rng.IntN(2))),
					val(300), val(50), str(),
					flag(), flag(), flag()}}
				if r == retract {
					rows[r].Kind = changelog.UpdateBefore
				}
			}
			var b vec.Batch
			vec.FromRows(&b, rows, in, nil)
			if retract < 0 && rng.IntN(3) == 0 {
				b.Sel = []int32{}
				for r := range n {
					if rng.IntN(4) != 0 {
						b.Sel = append(b.Sel, int32(r))
					}
				}
			}
			return &b
		}
		columns := GroupAggColumnBatches()
		pushes := 0
		for range 40 {
			b := batch(1+rng.IntN(300), -1)
			for i, op := range ops {
				if blocks := op.compact.blockable(); blocks != (i == 0) {
					t.Fatalf("%s: operator %d goes by blocks: %t", name, i, blocks)
				}
				if err := op.PushColumns(b); err != nil {
					t.Fatalf("%s: operator %d: %v", name, i, err)
				}
			}
			pushes += 2
		}
		b := batch(200, 130)
		for i, op := range ops {
			if err := op.PushColumns(b); !errors.Is(err, ErrRetractionInInsertOnlyInput) {
				t.Fatalf("%s: operator %d: the retraction gave %v", name, i, err)
			}
		}
		if err := ops[0].flush(); err != nil {
			t.Fatal(err)
		}
		if err := ops[1].flush(); err != nil {
			t.Fatal(err)
		}
		if got := GroupAggColumnBatches() - columns; got < int64(pushes) {
			t.Fatalf("%s: %d of %d pushes took the columns", name, got, pushes)
		}
		if recs[0].b.String() != recs[1].b.String() {
			t.Fatalf("%s: by blocks\n%s\nrow by row\n%s", name, recs[0].b.String(), recs[1].b.String())
		}
		if len(recs[0].rows) == 0 {
			t.Fatalf("%s: no output", name)
		}
		if a, b := snapshotEntries(t, ops[0]), snapshotEntries(t, ops[1]); a != b {
			t.Fatalf("%s: snapshot by blocks\n%s\nrow by row\n%s", name, a, b)
		}
	}
}
