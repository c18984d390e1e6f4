package parquet

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/formats"

	"github.com/sluicesql/sluice/types"
)

// allTypes is a row type with every SQL type the format carries (Arrow and Parquet), nested ones included.
func allTypes() types.Type {
	dec := types.DecimalType(10, 2)
	return types.RowType(
		types.Field{Name: "b", Type: types.BooleanType()},
		types.Field{Name: "ti", Type: types.TinyIntType()},
		types.Field{Name: "si", Type: types.SmallIntType()},
		types.Field{Name: "i", Type: types.IntType()},
		types.Field{Name: "bi", Type: types.BigIntType()},
		types.Field{Name: "f", Type: types.FloatType()},
		types.Field{Name: "d", Type: types.DoubleType()},
		types.Field{Name: "dec", Type: dec},
		types.Field{Name: "bigdec", Type: types.DecimalType(38, 4)},
		types.Field{Name: "c", Type: types.CharType(3)},
		types.Field{Name: "s", Type: types.StringType()},
		types.Field{Name: "bin", Type: types.BytesType()},
		types.Field{Name: "dt", Type: types.DateType()},
		types.Field{Name: "tm", Type: types.TimeType(3)},
		types.Field{Name: "ts", Type: types.TimestampType(9)},
		types.Field{Name: "ltz", Type: types.TimestampLTZType(6)},
		types.Field{Name: "arr", Type: types.ArrayType(types.IntType())},
		types.Field{Name: "m", Type: types.MapType(types.StringType(), types.DoubleType())},
		types.Field{Name: "r", Type: types.RowType(types.Field{Name: "x", Type: types.IntType()}, types.Field{Name: "y", Type: types.ArrayType(types.StringType())})},
	)
}

func sampleRows() [][]types.Value {
	huge, _ := new(big.Int).SetString("-12345678901234567890123456789012345678", 10)
	ts, _ := types.ParseTimestamp("2024-02-29 23:59:58.123456789", 9)
	old, _ := types.ParseTimestamp("1900-01-01 00:00:00.000001", 9)
	ltz, _ := types.ParseTimestamp("2030-06-01 12:00:00.654321", 6)
	full := []types.Value{
		types.BoolValue(true), types.IntValue(-128), types.IntValue(32767), types.IntValue(-2147483648), types.IntValue(1 << 62),
		types.FloatValue(float64(float32(1.5))), types.FloatValue(-2.25e300), types.DecimalValue(-12345, 2), types.BigDecimalValue(huge, 4),
		types.StringValue("abc"), types.StringValue("héllo, wörld"), types.BytesValue([]byte{0, 1, 255}),
		types.DateValue(-719162), types.TimeValue(86399999 * 1e6), ts, ltz,
		types.ArrayValue([]types.Value{types.IntValue(1), types.NullValue, types.IntValue(3)}),
		types.MapOf(&types.MapValue{Keys: []types.Value{types.StringValue("k")}, Vals: []types.Value{types.FloatValue(0.5)}}),
		types.RowValue([]types.Value{types.IntValue(7), types.ArrayValue([]types.Value{types.StringValue("a")})}),
	}
	second := append([]types.Value(nil), full...)
	second[0], second[14], second[10] = types.BoolValue(false), old, types.StringValue("")
	second[16] = types.ArrayValue([]types.Value{})
	nulls := make([]types.Value, len(full))
	return [][]types.Value{full, nulls, second}
}

func write(t testing.TB, row types.Type, rows [][]types.Value, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, row, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, data []byte, row types.Type, project []int, cfg Config) [][]types.Value {
	t.Helper()
	r, err := NewReader(context.Background(), bytes.NewReader(data), row, project, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]types.Value
	for {
		b, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return out
		}
		for _, x := range b {
			out = append(out, append([]types.Value(nil), x...))
		}
	}
}

func show(row types.Type, vals []types.Value) string {
	var sb strings.Builder
	for i, v := range vals {
		if i > 0 {
			sb.WriteString(" | ")
		}
		sb.Write(types.AppendSQL(nil, v, row.Fields[i].Type, time.UTC))
	}
	return sb.String()
}

// TestRoundTripAllTypes writes every type with both time-zone settings and compression codecs and reads it
// back unchanged.
func TestRoundTripAllTypes(t *testing.T) {
	row := allTypes()
	rows := sampleRows()
	for _, utc := range []bool{false, true} {
		for _, codec := range []string{"snappy", "zstd", "uncompressed"} {
			cfg := DefaultConfig()
			cfg.UTC = utc
			cfg.BatchRows = 2 // several record batches
			f := NewFactory()
			c, err := f.ConfigFrom(formatsCtx(map[string]string{"compression": codec}))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Codec = c.Codec
			got := readAll(t, write(t, row, rows, cfg), row, nil, cfg)
			if len(got) != len(rows) {
				t.Fatalf("read %d rows, want %d", len(got), len(rows))
			}
			for i := range rows {
				if g, w := show(row, got[i]), show(row, rows[i]); g != w {
					t.Errorf("utc=%v %s row %d:\n got %s\nwant %s", utc, codec, i, g, w)
				}
			}
		}
	}
}

// TestProjection reads two columns; the others stay NULL.
func TestProjection(t *testing.T) {
	row := allTypes()
	data := write(t, row, sampleRows(), DefaultConfig())
	got := readAll(t, data, row, []int{10, 3}, DefaultConfig())
	if len(got) != 3 {
		t.Fatalf("%d rows", len(got))
	}
	for i, r := range got {
		for j, v := range r {
			if (j == 10 || j == 3) != !v.IsNull() && !(i == 1) {
				t.Errorf("row %d column %d: %v", i, j, v)
			}
		}
	}
	if got[0][10].S != "héllo, wörld" || got[0][3].I != -2147483648 {
		t.Errorf("projected values: %v %v", got[0][10], got[0][3])
	}
}

func TestCorrupt(t *testing.T) {
	row := allTypes()
	data := write(t, row, sampleRows(), DefaultConfig())
	for name, bad := range map[string][]byte{
		"text":      []byte("id,name\n1,a\n"),
		"truncated": data[:len(data)/2],
		"empty":     nil,
	} {
		_, err := NewReader(context.Background(), bytes.NewReader(bad), row, nil, DefaultConfig())
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestTypeMismatch(t *testing.T) {
	data := write(t, types.RowType(types.Field{Name: "a", Type: types.StringType()}), [][]types.Value{{types.StringValue("x")}}, DefaultConfig())
	_, err := NewReader(context.Background(), bytes.NewReader(data), types.RowType(types.Field{Name: "a", Type: types.IntType()}), nil, DefaultConfig())
	if err == nil || !strings.Contains(err.Error(), "column 'a': the file's type utf8 cannot be read as INT") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusedTypes(t *testing.T) {
	_, err := ArrowSchema(types.RowType(types.Field{Name: "ms", Type: types.MultisetType(types.IntType())}))
	if err == nil || !strings.Contains(err.Error(), "column 'ms': type MULTISET<INT> is not supported by the parquet format") {
		t.Fatalf("err = %v", err)
	}
}

func formatsCtx(opts map[string]string) formats.Context { return formats.Context{Options: opts} }

// TestLocalTimezone: with utc-timezone false (Flink's default) a TIMESTAMP wall clock is stored as the
// instant it denotes in the process's zone; reading it as UTC shows the shift, reading it back as local
// restores it. TIMESTAMP_LTZ instants are stored as they are.
func TestLocalTimezone(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("UTC+2", 2*3600)
	defer func() { time.Local = saved }()
	row := types.RowType(types.Field{Name: "ts", Type: types.TimestampType(3)}, types.Field{Name: "ltz", Type: types.TimestampLTZType(3)})
	ts, _ := types.ParseTimestamp("2024-06-01 12:00:00.5", 3)
	data := write(t, row, [][]types.Value{{ts, ts}}, DefaultConfig())
	local := readAll(t, data, row, nil, DefaultConfig())
	utcCfg := DefaultConfig()
	utcCfg.UTC = true
	utc := readAll(t, data, row, nil, utcCfg)
	if local[0][0] != ts || local[0][1] != ts {
		t.Errorf("local round trip: %v, want %v", local[0], ts)
	}
	if want := ts.I - 2*3600*1000; utc[0][0].I != want || utc[0][1] != ts {
		t.Errorf("read as UTC: %v, want the wall clock 2 hours earlier (%d) and the same instant", utc[0], want)
	}
}
