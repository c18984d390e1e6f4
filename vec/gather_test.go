package vec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Rows gathered from several batches (in another order, timestamps with and without nanoseconds, NULLs,
// nested ROWs, strings, kinds only in some batches) are the source rows; a batch of another shape does not
// fit; after Reset the gather takes the other shape.
func TestGather(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType(), types.TimestampType(9), types.DecimalType(30, 2),
		types.RowType(types.Field{Name: "x", Type: types.IntType()}, types.Field{Name: "y", Type: types.StringType()}),
		types.DoubleType(), types.BooleanType(), types.ArrayType(types.IntType())}
	row := func(i int, nanos int32, null bool) []types.Value {
		v := []types.Value{types.IntValue(int64(i)), types.StringValue(fmt.Sprint("s", i)), types.TimestampValue(int64(i), nanos),
			types.DecimalValue(int64(i*100+1), 2), types.RowValue([]types.Value{types.IntValue(int64(i)), types.StringValue(fmt.Sprint("r", i))}),
			types.FloatValue(float64(i) / 4), types.BoolValue(i%2 == 0), types.ArrayValue([]types.Value{types.IntValue(int64(i))})}
		if null {
			for j := range v {
				if (i+j)%3 == 0 {
					v[j] = types.NullValue
				}
			}
		}
		return v
	}
	mk := func(lo int, nanos int32, kind changelog.Kind) ([]changelog.Row, *Batch) {
		var rows []changelog.Row
		for i := lo; i < lo+4; i++ {
			rows = append(rows, changelog.Row{Kind: kind, Vals: row(i, nanos, i%2 == 1)})
		}
		b := &Batch{}
		if !FromRows(b, rows, ts, nil) {
			t.Fatal("no columnar form")
		}
		return rows, b
	}
	ra, a := mk(0, 0, changelog.Insert)
	rb, b := mk(10, 7, changelog.UpdateAfter)
	rc, c := mk(20, 0, changelog.Insert)
	if a.Cols[2].Nanos != nil || b.Cols[2].Nanos == nil || a.Kinds != nil || b.Kinds == nil {
		t.Fatal("the test's batches lack a timestamp column without and one with nanoseconds, or kinds")
	}
	var g Gather
	var want []changelog.Row
	add := func(src *Batch, rows []changelog.Row, idx ...int32) {
		if !g.Fits(src) {
			t.Fatal("a batch of the same shape does not fit")
		}
		g.Append(src, idx)
		for _, i := range idx {
			want = append(want, rows[i])
		}
	}
	add(a, ra, 3, 0)
	add(b, rb, 1, 2)
	add(c, rc, 2)
	var conv RowConv
	if got := conv.Rows(&g.Batch); fmt.Sprint(got.Rows) != fmt.Sprint(want) {
		t.Fatalf("gathered:\n%v\nwant\n%v", got.Rows, want)
	}
	other := &Batch{N: 1, Cols: []*Col{{Kind: Values, Vals: []types.Value{types.IntValue(1)}}}}
	if g.Fits(other) {
		t.Fatal("a batch of another shape fits")
	}
	g.Reset()
	if g.N != 0 || g.Kinds != nil || !g.Fits(other) {
		t.Fatalf("after Reset: %d rows, kinds %v", g.N, g.Kinds)
	}
	g.Append(other, []int32{0})
	if got := conv.Rows(&g.Batch); fmt.Sprint(got.Rows) != fmt.Sprint([]changelog.Row{{Vals: []types.Value{types.IntValue(1)}}}) {
		t.Fatalf("after a reshape: %v", got.Rows)
	}
}
