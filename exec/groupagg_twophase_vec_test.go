package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestLocalGroupAggColumns: the local aggregate's columnar input emits exactly the partial rows (same
// values, same order, same pushes) its row input emits for the same rows, with retractions, NULLs, FILTER
// clauses, selection vectors, string, integer and no keys, and mini-batch sizes that fill inside a batch.
func TestLocalGroupAggColumns(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2),
		types.DoubleType(), types.BooleanType(), types.BigIntType()}
	for seed := range 60 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		retract := seed%2 == 1
		specs := []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM($3)", "SUM0($1)", "AVG($3)",
			"SUM($4)", "AVG($4)", "COUNT($4)", "BOOL_AND($5)", "BOOL_OR($5)", "SUM($6)"}
		if !retract {
			specs = append(specs, "MIN($1)", "MAX($3)", "MAX($2)", "MIN($4)", "MAX($6)")
		}
		aggs := aggCalls(t, in, specs...)
		aggs[2].Filter, aggs[len(aggs)-1].Filter = 5, 5
		keys := [][]int{{0}, {6}, nil, {2, 6}}[seed%4]
		cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, InsertOnly: !retract}
		size := int64(1 + rng.IntN(40))
		batches, sels := vecTestBatches(rng, retract)
		rowRec, colRec := &recorder{}, &recorder{}
		rowOp, err := NewLocalGroupAgg(cfg, mbConfig(size), rowRec)
		if err != nil {
			t.Fatal(err)
		}
		colOp, err := NewLocalGroupAgg(cfg, mbConfig(size), colRec)
		if err != nil {
			t.Fatal(err)
		}
		cols := colOp.(vec.Output)
		for i, b := range batches {
			var vb vec.Batch
			if !vec.FromRows(&vb, b.Rows, in, nil) {
				t.Fatal("rows without a columnar form")
			}
			var rows changelog.Batch
			for k, r := range b.Rows {
				if sels[i] == nil || sels[i][k] {
					rows.Append(r.Kind, r.Vals)
					if sels[i] != nil {
						vb.Sel = append(vb.Sel, int32(k))
					}
				}
			}
			if sels[i] != nil && vb.Sel == nil {
				vb.Sel = []int32{}
			}
			if err := rowOp.Push(&rows); err != nil {
				t.Fatal(err)
			}
			if err := cols.PushColumns(&vb); err != nil {
				t.Fatal(err)
			}
		}
		if err := rowOp.End(); err != nil {
			t.Fatal(err)
		}
		if err := cols.End(); err != nil {
			t.Fatal(err)
		}
		if len(rowRec.rows) == 0 {
			t.Fatalf("seed %d: no partial rows", seed)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes {
			t.Fatalf("seed %d (keys %v, size %d): columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", seed, keys, size, colRec.pushes, got, rowRec.pushes, want)
		}
	}
}

// TestLocalGroupAggColumnsErrors: a retraction into an insert-only local and a batch without a column the
// aggregate reads fail the push.
func TestLocalGroupAggColumnsErrors(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)"), InsertOnly: true}
	op, err := NewLocalGroupAgg(cfg, mbConfig(10), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	var vb vec.Batch
	rows := []changelog.Row{{Kind: changelog.Delete, Vals: []types.Value{types.IntValue(1), types.IntValue(2)}}}
	vec.FromRows(&vb, rows, in, nil)
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "group aggregate received a retraction on an insert-only input: -D" {
		t.Fatalf("retraction: %v", err)
	}
	vb.Cols = vb.Cols[:1]
	vb.Kinds = nil
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "local group aggregate: a columnar batch of 1 columns, the aggregate reads column 1" {
		t.Fatalf("missing column: %v", err)
	}
}

// vecTestBatches returns random batches over the columns of TestLocalGroupAggColumns and, for some, the rows
// a selection vector keeps (nil: all).
func vecTestBatches(rng *rand.Rand, retract bool) ([]changelog.Batch, [][]bool) {
	var live [][]types.Value
	var out []changelog.Batch
	var sels [][]bool
	for range 1 + rng.IntN(12) {
		var b changelog.Batch
		var sel []bool
		if rng.IntN(3) == 0 {
			sel = []bool{}
		}
		for range rng.IntN(60) {
			if retract && len(live) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(live))
				b.Append([]changelog.Kind{changelog.Delete, changelog.UpdateBefore}[rng.IntN(2)], live[i])
				live = append(live[:i], live[i+1:]...)
			} else {
				r := []types.Value{types.StringValue(fmt.Sprint("k", rng.IntN(5))), types.IntValue(int64(rng.IntN(9) - 3)),
					types.StringValue(fmt.Sprint("s", rng.IntN(5))), types.DecimalValue(int64(rng.IntN(1000)), 2),
					types.FloatValue(float64(rng.IntN(64)) / 4), types.BoolValue(rng.IntN(2) == 0), types.IntValue(int64(rng.IntN(7)))}
				for j := range r {
					if j != 0 && rng.IntN(8) == 0 {
						r[j] = types.NullValue
					}
				}
				live = append(live, r)
				b.Append(changelog.Insert, r)
			}
			if sel != nil {
				sel = append(sel, rng.IntN(4) != 0)
			}
		}
		out = append(out, b)
		sels = append(sels, sel)
	}
	return out, sels
}
