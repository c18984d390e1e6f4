package vec

import (
	"math/big"
	"math/rand"
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

// RowConv's column-by-column conversion gives what Col.Value gives for every slot: random rows of every
// column kind with NULLs, converted with and without a selection, after the arena held other values.
func TestRowConvMatchesValue(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.DecimalType(10, 2), types.StringType(), types.TimestampType(9),
		types.TimestampType(3), types.DoubleType(), types.BooleanType(), types.BytesType(), types.DateType(),
		types.DecimalType(30, 4), types.RowType(types.Field{Name: "x", Type: types.IntType()})}
	rng := rand.New(rand.NewSource(7))
	var conv RowConv
	for round := 0; round < 50; round++ {
		n := 1 + rng.Intn(40)
		rows := make([]changelog.Row, n)
		for i := range rows {
			v := make([]types.Value, len(ts))
			if rng.Intn(4) > 0 {
				v[0] = types.IntValue(rng.Int63() - rng.Int63())
				v[1] = types.DecimalValue(rng.Int63n(1e9)-5e8, 2)
				v[2] = types.StringValue(string(rune('a' + rng.Intn(26))))
				v[3] = types.TimestampValue(rng.Int63n(1e12), int32(rng.Intn(1e6)))
				v[4] = types.TimestampValue(rng.Int63n(1e12), 0)
				v[5] = types.FloatValue(rng.NormFloat64())
				v[6] = types.BoolValue(rng.Intn(2) == 0)
				v[7] = types.BytesValue([]byte{byte(rng.Intn(256))})
				v[8] = types.DateValue(int64(rng.Intn(20000)))
				v[9] = types.DecimalValue(rng.Int63n(1e15), 4)
				v[10] = types.RowValue([]types.Value{types.IntValue(int64(rng.Intn(9)))})
			}
			rows[i] = changelog.Row{Kind: changelog.Kind(rng.Intn(4)), Vals: v}
		}
		var b Batch
		if !FromRows(&b, rows, ts, nil) {
			t.Fatal("rows do not convert")
		}
		if rng.Intn(2) == 0 {
			for i := 0; i < n; i++ {
				if rng.Intn(3) > 0 {
					b.Sel = append(b.Sel, int32(i))
				}
			}
			if b.Sel == nil {
				b.Sel = []int32{}
			}
		}
		got := conv.Rows(&b)
		if len(got.Rows) != b.Len() {
			t.Fatalf("round %d: %d rows, want %d", round, len(got.Rows), b.Len())
		}
		for k, r := range got.Rows {
			i := b.Row(k)
			if r.Kind != b.Kind(i) {
				t.Fatalf("round %d row %d: kind %v, want %v", round, k, r.Kind, b.Kind(i))
			}
			for j, c := range b.Cols {
				if want := c.Value(i); !reflect.DeepEqual(r.Vals[j], want) {
					t.Fatalf("round %d row %d col %d: %#v, want %#v", round, k, j, r.Vals[j], want)
				}
			}
		}
	}
}
