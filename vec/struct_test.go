package vec

import (
	"reflect"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// A struct column as the Kafka source fills it (a decoder appending members, PadNulls for rows no one
// wrote, Truncate for a row it could not finish) keeps a NULL ROW apart from a ROW of NULLs, nested ROWs
// included, and gives back the values it took.
func TestStructNullRowAndRowOfNulls(t *testing.T) {
	inner := types.RowType(types.Field{Name: "c", Type: types.StringType()})
	rt := types.RowType(types.Field{Name: "a", Type: types.BigIntType()}, types.Field{Name: "b", Type: types.StringType()},
		types.Field{Name: "in", Type: inner})
	c := ColFor(rt)
	if !Exact(types.BigIntType()) || Exact(rt) {
		t.Fatal("Exact: want scalars exact and ROW not (only a decoder's DecodesColumns vouches for a ROW)")
	}
	c.Reset(0)
	ofNulls := types.RowValue([]types.Value{types.NullValue, types.NullValue, types.NullValue})
	full := types.RowValue([]types.Value{types.IntValue(7), types.StringValue("s"), types.RowValue([]types.Value{types.StringValue("deep")})})
	innerNulls := types.RowValue([]types.Value{types.IntValue(8), types.NullValue, types.RowValue([]types.Value{types.NullValue})})
	want := []types.Value{types.NullValue, ofNulls, full, innerNulls}
	for i, v := range want {
		if !c.Append(i, v) {
			t.Fatalf("append %d: %v", i, v)
		}
	}
	c.PadNulls(70) // past one bitmap word
	want = append(want, make([]types.Value, 66)...)
	for i := range want {
		if got := c.Value(i); !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("row %d: got %v, want %v", i, got, want[i])
		}
	}
	// A row half appended (a wrong member shape) is refused and cut back; the column takes rows again.
	if c.Append(70, types.RowValue([]types.Value{types.IntValue(1), types.IntValue(2), types.NullValue})) {
		t.Fatal("a BIGINT in a STRING member appended")
	}
	c.Truncate(3)
	if c.Len() != 3 || c.Nulls.Get(3) || c.Nulls.Get(69) {
		t.Fatalf("after Truncate(3): %d rows, NULL bits 3: %v, 69: %v", c.Len(), c.Nulls.Get(3), c.Nulls.Get(69))
	}
	if !c.Append(3, full) || !reflect.DeepEqual(c.Value(3), full) || !reflect.DeepEqual(c.Value(0), types.NullValue) {
		t.Fatalf("after Truncate and Append: %v, %v", c.Value(0), c.Value(3))
	}
	var conv RowConv
	b := Batch{N: 4, Cols: []*Col{c}}
	rows := conv.Rows(&b).Rows
	for i, w := range []types.Value{types.NullValue, ofNulls, full, full} {
		if !reflect.DeepEqual(rows[i].Vals[0], w) {
			t.Fatalf("RowConv row %d: got %v, want %v", i, rows[i].Vals[0], w)
		}
	}
}
