package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestCompactGroupsWarmMatches runs random changelogs (inserts and retractions, batches of 1 to 200 rows so
// that read-ahead blocks end mid-batch, the key index growing meanwhile) through two compact group
// aggregates, one reading its lookups ahead from the first group on (groupagg_warm.go) and one never, as rows
// and as columns, and checks that they write the same rows, also after the first is snapshotted and restored
// halfway.
func TestCompactGroupsWarmMatches(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType(), types.DoubleType(), types.FloatType(),
		types.BooleanType(), types.IntType(), types.StringType()}
	aggs := aggCalls(t, in, "COUNT(*)", "SUM($2)", "AVG($3)", "COUNT(*) FILTER $5", "SUM0($6)")
	for _, keys := range [][]int{{0, 1}, {7, 0}, {7}} {
		for _, columns := range []bool{false, true} {
			for seed := range uint64(3) {
				name := fmt.Sprintf("keys=%v columns=%t seed=%d", keys, columns, seed)
				cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, EmitUpdateBefore: seed%2 == 0}
				var ops [2]*groupAgg
				var recs [2]*recorder
				for i := range ops {
					recs[i] = &recorder{}
					op, err := NewGroupAgg(cfg, recs[i])
					if err != nil {
						t.Fatal(err)
					}
					ops[i] = op.(*groupAgg)
					if ops[i].compact == nil {
						t.Fatalf("%s: the aggregate does not use compact groups", name)
					}
				}
				ops[0].compact.warmSlots, ops[1].compact.warmSlots = 0, math.MaxInt
				rng := rand.New(rand.NewPCG(seed, 13))
				var live [][]types.Value
				warmed := false
				for round := range 60 {
					if round == 30 {
						// Snapshot the reading-ahead operator and go on with its restored copy (reading ahead).
						mem := state.NewMemory()
						if err := ops[0].SnapshotState(mem); err != nil {
							t.Fatal(err)
						}
						rec := &recorder{}
						op, err := NewGroupAgg(cfg, rec)
						if err != nil {
							t.Fatal(err)
						}
						restored := op.(*groupAgg)
						if err := restored.RestoreState(mem.Reader()); err != nil {
							t.Fatalf("%s: restore: %v", name, err)
						}
						if restored.compact == nil {
							t.Fatalf("%s: the restored aggregate does not use compact groups", name)
						}
						restored.compact.warmSlots = 0
						if recs[0].b.String() != recs[1].b.String() {
							t.Fatalf("%s: before the snapshot, reading ahead wrote\n%s\nwithout:\n%s", name, recs[0].b.String(), recs[1].b.String())
						}
						ops[0], recs[0] = restored, rec
						recs[1].b.Reset()
						recs[1].rows = nil
					}
					var b changelog.Batch
					for range 1 + rng.IntN(200) {
						if len(live) > 0 && rng.IntN(3) == 0 {
							i := rng.IntN(len(live))
							b.Append(changelog.Delete, live[i])
							live[i] = live[len(live)-1]
							live = live[:len(live)-1]
							continue
						}
						r := warmRow(rng)
						live = append(live, r)
						b.Append(changelog.Insert, r)
					}
					for i, op := range ops {
						var err error
						if columns {
							var vb vec.Batch
							vec.FromRows(&vb, b.Rows, in, nil)
							err = op.PushColumns(&vb)
						} else {
							err = op.Push(&b)
						}
						if err != nil {
							t.Fatalf("%s: operator %d: %v", name, i, err)
						}
					}
					warmed = warmed || ops[0].compact.warmable()
				}
				if !warmed {
					t.Fatalf("%s: the reading-ahead operator never read ahead", name)
				}
				if len(recs[0].rows) == 0 || recs[0].b.String() != recs[1].b.String() {
					t.Fatalf("%s: reading ahead wrote\n%s\nwithout:\n%s", name, recs[0].b.String(), recs[1].b.String())
				}
			}
		}
	}
}

// warmRow is a row of TestCompactGroupsWarmMatches: keys over a few hundred groups, some NULL.
func warmRow(rng *rand.Rand) []types.Value {
	null := func(v types.Value) types.Value {
		if rng.IntN(10) == 0 {
			return types.NullValue
		}
		return v
	}
	return []types.Value{
		null(types.IntValue(rng.Int64N(100))),
		null(types.IntValue(rng.Int64N(4))),
		null(types.IntValue(rng.Int64N(1000))),
		null(types.FloatValue(float64(rng.IntN(64)) / 4)),
		types.NullValue,
		null(types.BoolValue(rng.IntN(2) == 0)),
		null(types.IntValue(rng.Int64N(50))),
		null(types.StringValue(fmt.Sprintf("k%d", rng.IntN(40)))),
	}
}
