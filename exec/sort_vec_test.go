package exec

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// colRecorder is a recorder that takes columns: it records the rows of each columnar batch (converted) and
// counts the columnar pushes.
type colRecorder struct {
	recorder
	conv    vec.RowConv
	colPush int
	values  int // batches whose column 4 is a Values column
}

func (r *colRecorder) PushColumns(b *vec.Batch) error {
	r.colPush++
	if len(b.Cols) > 4 && b.Cols[4].Kind == vec.Values {
		r.values++
	}
	return r.Push(r.conv.Rows(b))
}

func (r *colRecorder) AcceptsColumns() bool { return true }

// sortVecInput returns random unsorted rows of batchAggTypes in batches of 0 to 700 rows; some DECIMAL(10, 2)
// values have another scale or do not fit int64, so they have no exact columnar form.
func sortVecInput(rng *rand.Rand, odd bool) []*changelog.Batch {
	var out []*changelog.Batch
	for range rng.IntN(8) {
		b := &changelog.Batch{}
		for range rng.IntN(701) {
			r := make([]types.Value, len(batchAggTypes))
			for c := range r {
				r[c] = batchAggValue(rng, c)
			}
			if odd && rng.IntN(50) == 0 {
				if rng.IntN(2) == 0 {
					r[4] = types.DecimalValue(int64(rng.IntN(2000)-1000), 3)
				} else {
					r[4] = types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(int64(rng.IntN(5)+1)), 70), 2)
				}
			}
			b.Append(changelog.Insert, r)
		}
		out = append(out, b)
	}
	return out
}

// TestSortColumns: a sort that knows its column types emits, to an output taking columns, the rows the row
// sort emits (values, order, then the watermark and End), as columnar batches, in memory and over spilled runs;
// a value without an exact columnar form turns its column into a Values column.
func TestSortColumns(t *testing.T) {
	keySets := [][]SortKey{{{Col: 1}}, {{Col: 0, NullsFirst: true}}, {{Col: 2, Desc: true}, {Col: 3}}, {{Col: 4}, {Col: 6, NullsFirst: true}},
		{{Col: 5, Desc: true}}}
	before := SortColumnBatches()
	fallbacks := 0
	for seed := range 120 {
		rng := rand.New(rand.NewPCG(uint64(seed), 23))
		keys := keySets[seed%len(keySets)]
		budget := int64(0)
		if seed%3 == 1 {
			budget = 20_000 // spills every few hundred rows
		}
		odd := seed%4 == 3
		dir := t.TempDir()
		rowRec, colRec := &recorder{}, &colRecorder{}
		rowOp := NewSort(keys, -1, 0, budget, dir, rowRec)
		colOp := NewSortColumns(keys, budget, dir, batchAggTypes, colRec)
		for _, b := range sortVecInput(rng, odd) {
			if err := rowOp.Push(b); err != nil {
				t.Fatal(err)
			}
			if err := colOp.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		for _, op := range []changelog.Output{rowOp, colOp} {
			if err := op.Watermark(int64(seed)); err != nil {
				t.Fatal(err)
			}
			if err := op.End(); err != nil {
				t.Fatal(err)
			}
		}
		name := fmt.Sprintf("seed %d (keys %v, budget %d)", seed, keys, budget)
		if got, want := colRec.b.String(), rowRec.b.String(); got != want {
			t.Fatalf("%s: columns gave\n%s\nrows gave\n%s", name, got, want)
		}
		if len(rowRec.rows) > 0 && colRec.colPush == 0 {
			t.Fatalf("%s: %d rows and no columnar batch", name, len(rowRec.rows))
		}
		if colRec.pushes != colRec.colPush {
			t.Fatalf("%s: %d pushes, %d of them columnar", name, colRec.pushes, colRec.colPush)
		}
		if colRec.values > 0 {
			fallbacks++
		}
	}
	if SortColumnBatches() == before {
		t.Fatal("no columnar batch counted")
	}
	if fallbacks == 0 {
		t.Fatal("no value without a columnar form made a Values column")
	}
}

// TestSortColumnsRowOutput: an output that takes no columns gets rows from a typed sort.
func TestSortColumnsRowOutput(t *testing.T) {
	rec := &recorder{}
	op := NewSortColumns([]SortKey{{Col: 0}}, 0, t.TempDir(), []types.Type{types.BigIntType()}, rec)
	b := &changelog.Batch{}
	for _, x := range []int64{3, 1, 2} {
		b.Append(changelog.Insert, []types.Value{types.IntValue(x)})
	}
	before := SortColumnBatches()
	if err := op.Push(b); err != nil {
		t.Fatal(err)
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	if got := rec.b.String(); got != "+I[1]\n+I[2]\n+I[3]\nEND\n" || SortColumnBatches() != before {
		t.Fatalf("got %q, %d columnar batches", got, SortColumnBatches()-before)
	}
}

// TestSortColumnsGroupAgg: a keyed batch GROUP BY behind a typed sort (the engine's plan) runs on columns and
// emits exactly the rows and pushes the row sort and row aggregate give, over random unsorted input, in memory
// and spilled, with values that have no exact columnar form or not.
func TestSortColumnsGroupAgg(t *testing.T) {
	in := batchAggTypes
	keySets := [][]int{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {0, 1}, {6, 2, 3}}
	before := GroupAggBatchColumnBatches()
	for seed := range 150 {
		rng := rand.New(rand.NewPCG(uint64(seed), 24))
		keys := keySets[seed%len(keySets)]
		specs := randomBatchAggSpecs(rng)
		cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggCalls(t, in, specs...), Batch: true}
		var sortKeys []SortKey
		for _, k := range keys {
			sortKeys = append(sortKeys, SortKey{Col: k, NullsFirst: true})
		}
		budget := int64(0)
		if seed%3 == 2 {
			budget = 30_000
		}
		rowRec, colRec := &recorder{}, &recorder{}
		rowAgg, err := NewGroupAgg(cfg, rowRec)
		if err != nil {
			t.Fatal(err)
		}
		colAgg, err := NewGroupAgg(cfg, colRec)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		rowOp := NewSort(sortKeys, -1, 0, budget, dir, rowAgg)
		colOp := NewSortColumns(sortKeys, budget, dir, in, colAgg)
		aggBefore := GroupAggBatchColumnBatches()
		nrows, odd := 0, seed%5 == 4
		for _, b := range sortVecInput(rng, odd) {
			nrows += len(b.Rows)
			if err := rowOp.Push(b); err != nil {
				t.Fatal(err)
			}
			if err := colOp.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := rowOp.End(); err != nil {
			t.Fatal(err)
		}
		if err := colOp.End(); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("seed %d (keys %v, budget %d, %s)", seed, keys, budget, strings.Join(specs, ", "))
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
		if nrows > 0 && GroupAggBatchColumnBatches() == aggBefore {
			t.Fatalf("%s: the aggregate took no columnar batch", name)
		}
	}
	if GroupAggBatchColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}
