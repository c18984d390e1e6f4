package engine

import (
	"bytes"
	"context"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// collectRows keeps copies of the rows pushed to it.
type collectRows struct{ rows []changelog.Row }

func (c *collectRows) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		c.rows = append(c.rows, changelog.Row{Kind: r.Kind, Vals: changelog.CopyVals(r.Vals)})
	}
	return nil
}
func (c *collectRows) Watermark(int64) error { return nil }
func (c *collectRows) End() error            { return nil }

// ipcAllTypesRows is a row of every type with extreme values, a row of NULLs and a row of empty and
// boundary values, in every row kind.
func ipcAllTypesRows() ([]types.Type, changelog.Batch) {
	inner := types.RowType(types.Field{Name: "c", Type: types.StringType()}, types.Field{Name: "d", Type: types.DecimalType(5, 1)})
	ts := []types.Type{
		types.BooleanType(), types.TinyIntType(), types.SmallIntType(), types.IntType(), types.BigIntType(), types.FloatType(),
		types.DoubleType(), types.DecimalType(10, 2), types.DecimalType(38, 10), types.CharType(3), types.StringType(),
		types.BytesType(), types.DateType(), types.TimeType(9), types.TimestampType(9), types.TimestampLTZType(3),
		{Kind: types.IntervalYearMonth}, {Kind: types.IntervalDayTime}, types.ArrayType(types.IntType()),
		types.MapType(types.StringType(), types.BigIntType()), types.MultisetType(types.StringType()),
		types.RowType(types.Field{Name: "a", Type: types.IntType()}, types.Field{Name: "b", Type: inner}), types.NullType(),
	}
	huge, _ := new(big.Int).SetString("-12345678901234567890123456789012345678", 10)
	rowA := []types.Value{
		types.BoolValue(true), types.IntValue(-128), types.IntValue(32767), types.IntValue(math.MinInt32), types.IntValue(math.MaxInt64),
		types.FloatValue(float64(float32(1.5))), types.FloatValue(math.Inf(-1)), types.DecimalValue(-12345, 2),
		types.BigDecimalValue(huge, 10), types.StringValue("abc"), types.StringValue("héllo, wörld"), types.BytesValue([]byte{0, 1, 255}),
		types.DateValue(-719162), types.TimeValue(86399_999_999_999), types.TimestampValue(253402300799999, 999999), // 9999-12-31 23:59:59.999999999
		types.TimestampValue(-62135596800000, 0), types.IntValue(-14), types.IntValue(86400_000*3 + 7),
		types.ArrayValue([]types.Value{types.IntValue(1), types.NullValue, types.IntValue(3)}),
		types.MapOf(&types.MapValue{Keys: []types.Value{types.StringValue("k"), types.NullValue}, Vals: []types.Value{types.NullValue, types.IntValue(2)}}),
		types.ArrayValue([]types.Value{types.StringValue("x"), types.StringValue("x")}),
		types.RowValue([]types.Value{types.IntValue(7), types.RowValue([]types.Value{types.StringValue("in"), types.DecimalValue(15, 1)})}),
		types.NullValue,
	}
	rowB := make([]types.Value, len(ts)) // all NULL
	rowC := append([]types.Value(nil), rowA...)
	rowC[19] = types.MapOf(&types.MapValue{})
	rowC[18] = types.ArrayValue(nil)
	rowC[21] = types.RowValue([]types.Value{types.NullValue, types.NullValue})
	rowC[8] = types.DecimalValue(math.MaxInt64, 10)
	var in changelog.Batch
	in.Append(changelog.Insert, rowA)
	in.Append(changelog.Delete, rowB)
	in.Append(changelog.UpdateBefore, rowC)
	in.Append(changelog.UpdateAfter, rowA)

	return ts, in
}

// Every type round-trips exactly through an intermediate result file: nested ROW, DECIMAL beyond int64,
// TIMESTAMP(9) outside Arrow's nanosecond range, NULL at every level, NULL map keys, and every row kind.
func TestIPCRoundTripAllTypes(t *testing.T) {
	ts, in := ipcAllTypesRows()
	st := &batchStage{path: filepath.Join(t.TempDir(), "stage-1.arrow"), types: ts}
	w, err := newIPCWriter(st.path, ts)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // several record batches: 3 × 4 rows with a batch of 8192 rows is one; add more below
		if err := w.Push(&in); err != nil {
			t.Fatal(err)
		}
	}
	var many changelog.Batch
	for range ipcBatchRows {
		many.Append(changelog.Insert, in.Rows[1].Vals) // all NULL
	}
	if err := w.Push(&many); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.path + ".inprogress"); !os.IsNotExist(err) {
		t.Fatalf("the in-progress file is left: %v", err)
	}
	var got collectRows
	if err := (&ipcSource{st: st}).Run(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.rows) != 12+ipcBatchRows {
		t.Fatalf("read %d rows, want %d", len(got.rows), 12+ipcBatchRows)
	}
	for i, r := range got.rows {
		want := in.Rows[i%4]
		if i >= 12 {
			want = many.Rows[0]
		}
		if r.Kind != want.Kind {
			t.Fatalf("row %d: kind %s, want %s", i, r.Kind, want.Kind)
		}
		for c, typ := range ts {
			a, b := types.AppendValueBinary(nil, want.Vals[c], typ), types.AppendValueBinary(nil, r.Vals[c], typ)
			if !bytes.Equal(a, b) {
				t.Fatalf("row %d column %d (%s): got %+v, want %+v", i, c, typ, r.Vals[c], want.Vals[c])
			}
		}
	}
}

// A write error on an intermediate result file (here: no space left on the device) fails with an error
// that names the file, and leaves no file behind.
func TestIPCWriteErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stage-2.arrow")
	if err := os.Symlink("/dev/full", path+".inprogress"); err != nil {
		t.Fatal(err)
	}
	w, err := newIPCWriter(path, []types.Type{types.StringType()})
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	long := types.StringValue(strings.Repeat("x", 1000))
	for range 2 * ipcBatchRows {
		b.Append(changelog.Insert, []types.Value{long})
	}
	err = w.Push(&b)
	if err == nil {
		err = w.End()
	}
	if err == nil || !strings.Contains(err.Error(), "writing the intermediate result file "+path) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want an error naming %s and the cause, got %v", path, err)
	}
	w.discard()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a failed write left its file: %v", err)
	}
}

// A truncated file is refused with an error naming it.
func TestIPCTruncatedFile(t *testing.T) {
	ts := []types.Type{types.BigIntType()}
	st := &batchStage{path: filepath.Join(t.TempDir(), "stage-1.arrow"), types: ts}
	w, _ := newIPCWriter(st.path, ts)
	var b changelog.Batch
	for i := range 100 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i))})
	}
	if err := w.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(st.path)
	if err := os.Truncate(st.path, fi.Size()-20); err != nil {
		t.Fatal(err)
	}
	err := (&ipcSource{st: st}).Run(context.Background(), &collectRows{})
	if err == nil || !strings.Contains(err.Error(), "reading the intermediate result file "+st.path) {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

// Values read from a file outlive the record batch buffers they came from, which the next file reuses:
// strings nested in MAP, ARRAY and ROW values are copies.
func TestIPCValuesOutliveRecycledBuffers(t *testing.T) {
	ts := []types.Type{types.MapType(types.StringType(), types.BigIntType()), types.ArrayType(types.StringType()),
		types.RowType(types.Field{Name: "s", Type: types.StringType()})}
	file := func(s string) *batchStage {
		st := &batchStage{path: filepath.Join(t.TempDir(), "stage.arrow"), types: ts}
		w, err := newIPCWriter(st.path, ts)
		if err != nil {
			t.Fatal(err)
		}
		var b changelog.Batch
		for range 100 {
			b.Append(changelog.Insert, []types.Value{
				types.MapOf(&types.MapValue{Keys: []types.Value{types.StringValue(s)}, Vals: []types.Value{types.IntValue(1)}}),
				types.ArrayValue([]types.Value{types.StringValue(s)}), types.RowValue([]types.Value{types.StringValue(s)})})
		}
		if err := w.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
		return st
	}
	var got collectRows
	if err := (&ipcSource{st: file("kept")}).Run(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := (&ipcSource{st: file("ZZZZ")}).Run(context.Background(), &collectRows{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range got.rows {
		if k, e, f := r.Vals[0].Map().Keys[0].S, r.Vals[1].Array()[0].S, r.Vals[2].Fields()[0].S; k != "kept" || e != "kept" || f != "kept" {
			t.Fatalf("values changed after later reads: map key %q, array element %q, row field %q", k, e, f)
		}
	}
}
