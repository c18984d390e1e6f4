package exec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestGroupAggRetractionProperty feeds random +I/-D (and -U/+U) sequences into a streaming group aggregate,
// materializes its changelog (which also checks that every retraction matches an earlier emitted row) and
// compares the table with a from-scratch computation over the rows still alive, and with batch mode.
func TestGroupAggRetractionProperty(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	aggs := []AggCall{
		{Func: "COUNT", Filter: -1},
		{Func: "COUNT", Args: []int{1}, Filter: -1},
		{Func: "SUM", Args: []int{1}, Filter: -1},
		{Func: "MIN", Args: []int{1}, Filter: -1},
		{Func: "MAX", Args: []int{1}, Filter: -1},
		{Func: "AVG", Args: []int{1}, Filter: -1},
		{Func: "COUNT", Distinct: true, Args: []int{1}, Filter: -1},
		{Func: "SUM", Distinct: true, Args: []int{1}, Filter: -1},
	}
	for i := range aggs {
		aggs[i].ArgTypes = nil
		for _, a := range aggs[i].Args {
			aggs[i].ArgTypes = append(aggs[i].ArgTypes, in[a])
		}
		rt, err := AggResultType(aggs[i].Func, aggs[i].Distinct, aggs[i].ArgTypes)
		if err != nil {
			t.Fatal(err)
		}
		aggs[i].Type = rt
	}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var matKey []int // retract output: rows are matched whole
		if seed%2 == 1 {
			matKey = []int{0} // upsert output (no -U): keyed on the group key
		}
		mat := changelog.NewMaterializer(matKey)
		sink := NewCollect(mat.Apply)
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, EmitUpdateBefore: seed%2 == 0}, sink)
		if err != nil {
			t.Fatal(err)
		}
		var live [][]types.Value
		var b changelog.Batch
		steps := 1 + rng.IntN(150)
		for range steps {
			if len(live) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(live))
				r := live[i]
				live = slices.Delete(live, i, i+1)
				kind := changelog.Delete
				if rng.IntN(2) == 0 {
					kind = changelog.UpdateBefore
				}
				b.Append(kind, r)
			} else {
				r := []types.Value{types.StringValue(fmt.Sprint("k", rng.IntN(4))), types.IntValue(int64(rng.IntN(7) - 2))}
				if rng.IntN(6) == 0 {
					r[1] = types.NullValue
				}
				live = append(live, r)
				b.Append(changelog.Insert, r)
			}
			if rng.IntN(4) == 0 {
				if err := op.Push(&b); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				b.Reset()
			}
		}
		if err := op.Push(&b); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		want := recompute(live)
		if got := rowsText(mat.Rows()); got != rowsText(want) {
			t.Fatalf("seed %d: streaming result\n%s\nwant\n%s", seed, got, rowsText(want))
		}
		// Batch mode over the sorted live rows must give the same table.
		sorted := slices.Clone(live)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i][0].S < sorted[j][0].S })
		bmat := changelog.NewMaterializer(nil)
		bop, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, Batch: true}, NewCollect(bmat.Apply))
		if err != nil {
			t.Fatal(err)
		}
		var bb changelog.Batch
		for _, r := range sorted {
			bb.Append(changelog.Insert, r)
		}
		if err := bop.Push(&bb); err != nil {
			t.Fatal(err)
		}
		if err := bop.End(); err != nil {
			t.Fatal(err)
		}
		if got := rowsText(bmat.Rows()); got != rowsText(want) {
			t.Fatalf("seed %d: batch result\n%s\nwant\n%s", seed, got, rowsText(want))
		}
	}
}

// recompute computes key, COUNT(*), COUNT(v), SUM(v), MIN(v), MAX(v), AVG(v), COUNT(DISTINCT v),
// SUM(DISTINCT v) from scratch, in the Materializer's order.
func recompute(live [][]types.Value) [][]types.Value {
	byKey := map[string][]types.Value{}
	for _, r := range live {
		byKey[r[0].S] = append(byKey[r[0].S], r[1])
	}
	m := changelog.NewMaterializer(nil)
	for k, vs := range byKey {
		var cnt, sum int64
		var mn, mx int64
		distinct := map[int64]bool{}
		for _, v := range vs {
			if v.T == types.TagNull {
				continue
			}
			if cnt == 0 || v.I < mn {
				mn = v.I
			}
			if cnt == 0 || v.I > mx {
				mx = v.I
			}
			cnt++
			sum += v.I
			distinct[v.I] = true
		}
		row := []types.Value{types.StringValue(k), types.IntValue(int64(len(vs))), types.IntValue(cnt)}
		if cnt == 0 {
			row = append(row, types.NullValue, types.NullValue, types.NullValue, types.NullValue, types.IntValue(0), types.NullValue)
		} else {
			var dsum int64
			for d := range distinct {
				dsum += d
			}
			row = append(row, types.IntValue(sum), types.IntValue(mn), types.IntValue(mx), types.IntValue(sum/cnt),
				types.IntValue(int64(len(distinct))), types.IntValue(dsum))
		}
		m.Apply(changelog.Row{Kind: changelog.Insert, Vals: row})
	}
	return m.Rows()
}

func rowsText(rows [][]types.Value) string {
	var b bytes.Buffer
	for _, r := range rows {
		b.WriteString(formatRow(changelog.Row{Vals: r}))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTopNProperty compares Top-N's materialized output with the window of a model list after random
// inserts and retractions.
func TestTopNProperty(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var trace []string
		defer func() {
			if t.Failed() {
				t.Logf("seed %d trace:\n%s", seed, strings.Join(trace, "\n"))
			}
		}()
		limit, offset := int64(rng.IntN(5)), int64(rng.IntN(3))
		keys := []SortKey{{Col: 0, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		mat := changelog.NewMaterializer(nil)
		op := NewTopN(keys, limit, offset, NewCollect(func(r changelog.Row) error {
			trace = append(trace, "  out "+formatRow(r))
			return mat.Apply(r)
		}))
		type entry struct {
			vals []types.Value
			seq  int
		}
		var model []entry
		var b changelog.Batch
		for i := range 1 + rng.IntN(120) {
			if len(model) > 0 && rng.IntN(3) == 0 {
				r := model[rng.IntN(len(model))].vals
				// The operator removes the earliest equal row; so does the model.
				for j := range model {
					if rowsEqual(model[j].vals, r) {
						model = slices.Delete(model, j, j+1)
						break
					}
				}
				b.Append(changelog.Delete, r)
				trace = append(trace, "in "+formatRow(changelog.Row{Kind: changelog.Delete, Vals: r}))
			} else {
				v := types.IntValue(int64(rng.IntN(6)))
				if rng.IntN(7) == 0 {
					v = types.NullValue
				}
				r := []types.Value{v, types.IntValue(int64(rng.IntN(2)))}
				model = append(model, entry{vals: r, seq: i})
				b.Append(changelog.Insert, r)
				trace = append(trace, "in "+formatRow(changelog.Row{Kind: changelog.Insert, Vals: r}))
			}
			if rng.IntN(3) == 0 {
				if err := op.Push(&b); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		sorted := slices.Clone(model)
		slices.SortStableFunc(sorted, func(x, y entry) int {
			return bytes.Compare(appendSortKey(nil, x.vals, keys), appendSortKey(nil, y.vals, keys))
		})
		want := changelog.NewMaterializer(nil)
		for i, e := range sorted {
			if int64(i) >= offset && int64(i) < offset+limit {
				want.Apply(changelog.Row{Kind: changelog.Insert, Vals: e.vals})
			}
		}
		if got, w := rowsText(mat.Rows()), rowsText(want.Rows()); got != w {
			t.Errorf("seed %d (limit %d offset %d keys %+v): got\n%s\nwant\n%s", seed, limit, offset, keys, got, w)
		}
	}
}

// TestSortSpillProperty sorts random rows with tiny memory budgets and compares with a stable in-memory
// sort of the same rows, checking that spill files were written and removed.
func TestSortSpillProperty(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 3))
		keys := []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}, {Col: 2}}
		var rows [][]types.Value
		for i := range rng.IntN(500) {
			r := []types.Value{types.IntValue(int64(i)), types.StringValue(fmt.Sprint(rng.IntN(20))), types.FloatValue(rng.NormFloat64())}
			switch rng.IntN(8) {
			case 0:
				r[1] = types.NullValue
			case 1:
				r[2] = types.DecimalValue(rng.Int64N(1000)-500, 2)
			}
			rows = append(rows, r)
		}
		dir := t.TempDir()
		var got [][]types.Value
		op := NewSort(keys, -1, 0, int64(200+rng.IntN(5000)), dir, NewCollect(func(r changelog.Row) error {
			got = append(got, changelog.CopyVals(r.Vals))
			return nil
		}))
		spills := 0
		op.(*sortOp).onSpill = func(string) { spills++ }
		var b changelog.Batch
		for _, r := range rows {
			b.Append(changelog.Insert, r)
			if rng.IntN(10) == 0 {
				if err := op.Push(&b); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(rows)
		slices.SortStableFunc(want, func(x, y []types.Value) int {
			return bytes.Compare(appendSortKey(nil, x, keys), appendSortKey(nil, y, keys))
		})
		if rowsText(got) != rowsText(want) {
			t.Fatalf("seed %d: got\n%s\nwant\n%s", seed, rowsText(got), rowsText(want))
		}
		if len(rows) > 100 && spills == 0 {
			t.Fatalf("seed %d: %d rows did not spill", seed, len(rows))
		}
		if left, _ := filepathGlob(dir); len(left) != 0 {
			t.Fatalf("seed %d: spill files left: %v", seed, left)
		}
	}
}
