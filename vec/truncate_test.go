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
