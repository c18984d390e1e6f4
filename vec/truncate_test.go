package vec

import (
	"testing"

	"github.com/sluicesql/sluice/types"
)

func TestTruncate(t *testing.T) {
	for _, typ := range []types.Type{types.BigIntType(), types.DoubleType(), types.BooleanType(), types.StringType(),
		types.TimestampType(9), types.ArrayType(types.IntType())} {
		c := ColFor(typ)
		c.Reset(0)
		vals := []types.Value{types.IntValue(7), types.FloatValue(1.5), types.BoolValue(true), types.StringValue("abc"),
			types.TimestampValue(5, 3), types.ArrayValue([]types.Value{types.IntValue(1)})}
		var v types.Value
		for _, x := range vals {
			if c.Append(0, x) {
				v = x
				break
			}
			c.Reset(0)
		}
		if v.T == types.TagNull {
			t.Fatalf("%s: no value appends", typ)
		}
		for i := 1; i < 70; i++ {
			c.AppendNull(i)
		}
		c.Truncate(1)
		if c.Len() != 1 || c.IsNull(0) || c.Nulls.Any() {
			t.Fatalf("%s: after Truncate(1): len %d, nulls %v", typ, c.Len(), c.Nulls)
		}
		if !c.Append(1, v) || c.Len() != 2 || c.IsNull(1) || !types.Equal(c.Value(1), v, typ) {
			t.Fatalf("%s: append after truncate: len %d, value %v", typ, c.Len(), c.Value(1))
		}
	}
}

// A struct column whose children are uneven (a row half decoded: a later member appended, the first not)
// is cut back child by child.
func TestTruncateUnevenStruct(t *testing.T) {
	c := ColFor(types.RowType(types.Field{Name: "a", Type: types.BigIntType()}, types.Field{Name: "b", Type: types.StringType()}))
	c.Reset(0)
	if !c.Append(0, types.RowValue([]types.Value{types.IntValue(1), types.StringValue("x")})) {
		t.Fatal("append")
	}
	c.Fields[1].AppendString("half") // row 1 begun: b appended, a not
	c.Truncate(1)
	if c.Fields[0].Len() != 1 || c.Fields[1].Len() != 1 || c.Fields[1].Str(0) != "x" {
		t.Fatalf("children after Truncate(1): %d, %d rows", c.Fields[0].Len(), c.Fields[1].Len())
	}
}
