package vec

import (
	"math/big"
	"reflect"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Rows converted to columns and back are the same rows (kinds, NULLs, nested ROWs, timestamps with
// nanoseconds, strings in the byte arena), and a value without an exact columnar form is refused.
func TestRowsRoundTrip(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.DecimalType(10, 2), types.StringType(), types.TimestampType(9),
		types.RowType(types.Field{Name: "x", Type: types.IntType()}, types.Field{Name: "y", Type: types.StringType()}),
		types.DoubleType(), types.BooleanType(), types.Type{Kind: types.Array, Elem: &types.Type{Kind: types.Int}}}
	rows := []changelog.Row{
		{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.DecimalValue(1234, 2), types.StringValue("ab"),
			types.TimestampValue(5, 7), types.RowValue([]types.Value{types.IntValue(3), types.StringValue("")}),
			types.FloatValue(1.5), types.BoolValue(true), types.ArrayValue([]types.Value{types.IntValue(1)})}},
		{Kind: changelog.UpdateBefore, Vals: make([]types.Value, 8)},
		{Kind: changelog.Delete, Vals: []types.Value{types.IntValue(-9), types.DecimalValue(-1, 2), types.StringValue("héllo"),
			types.TimestampValue(-5, 0), types.RowValue([]types.Value{types.NullValue, types.StringValue("z")}),
			types.FloatValue(-0.25), types.BoolValue(false), types.NullValue}},
	}
	var b Batch
	if !FromRows(&b, rows, ts, nil) {
		t.Fatal("rows do not convert")
	}
	if b.Len() != 3 || b.Kinds == nil {
		t.Fatalf("len %d, kinds %v", b.Len(), b.Kinds)
	}
	var conv RowConv
	got := conv.Rows(&b)
	if !reflect.DeepEqual(got.Rows, rows) {
		t.Fatalf("round trip:\n%v\nwant\n%v", got.Rows, rows)
	}
	b.Sel = []int32{2}
	if got := conv.Rows(&b); len(got.Rows) != 1 || !reflect.DeepEqual(got.Rows[0], rows[2]) {
		t.Fatalf("selection: %v", got.Rows)
	}
	bad := []changelog.Row{{Vals: []types.Value{types.IntValue(1), types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(1), 70), 2)}}}
	if FromRows(&b, bad, ts[:2], nil) {
		t.Fatal("a DECIMAL beyond int64 converted")
	}
	if FromRows(&b, []changelog.Row{{Vals: []types.Value{types.IntValue(1), types.DecimalValue(1, 3)}}}, ts[:2], nil) {
		t.Fatal("a DECIMAL of another scale converted")
	}
}

// A Bytes arena is reused after a batch whose strings were only read by kernels, and replaced after a batch
// whose strings became row values (rows downstream may keep them).
func TestArenaReuse(t *testing.T) {
	c := ColFor(types.StringType())
	c.Reset(0)
	c.AppendString("hello")
	first := &c.Data[0]
	_ = c.Str(0)
	c.Reset(0)
	c.AppendString("world")
	if &c.Data[0] != first {
		t.Fatal("an arena read only by kernels was not reused")
	}
	v := c.Value(0)
	c.Reset(0)
	c.AppendString("other")
	if &c.Data[0] == first || v.S != "world" {
		t.Fatalf("an exported arena was overwritten: %q", v.S)
	}
}
