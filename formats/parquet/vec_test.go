package parquet

import (
	"bytes"
	"context"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// colsOf builds a columnar batch of rows: typed columns where every value has an exact form, Values
// columns for the others (a DECIMAL(38, 4) beyond int64, ARRAY, MAP, ROW).
func colsOf(rows [][]types.Value, row types.Type) *vec.Batch {
	b := &vec.Batch{N: len(rows)}
	for j, f := range row.Fields {
		c := vec.ColFor(f.Type)
		ok := c.Kind != vec.Struct
		for i := 0; ok && i < len(rows); i++ {
			ok = c.Append(i, rows[i][j])
		}
		if !ok {
			c = &vec.Col{Kind: vec.Values}
			for i := range rows {
				c.Append(i, rows[i][j])
			}
		}
		b.Cols = append(b.Cols, c)
	}
	return b
}

// randomRows makes n rows of allTypes: the sample rows' values shuffled per column, and NULLs.
func randomRows(rng *rand.Rand, n int) [][]types.Value {
	sample := sampleRows()
	out := make([][]types.Value, n)
	for i := range out {
		r := make([]types.Value, len(sample[0]))
		for j := range r {
			r[j] = sample[rng.Intn(len(sample))][j]
		}
		if i%5 == 0 {
			r[4] = types.IntValue(int64(i) * 7919)
			r[10] = types.StringValue(string(rune('a' + i%26)))
		}
		out[i] = r
	}
	return out
}

func readColumns(t *testing.T, data []byte, row types.Type, project []int, cfg Config) [][]types.Value {
	t.Helper()
	r, err := NewReader(context.Background(), bytes.NewReader(data), row, project, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]types.Value
	batches := 0
	for {
		b, err := r.NextColumns()
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		batches++
		if len(b.Cols) != len(row.Fields) {
			t.Fatalf("%d columns, want %d", len(b.Cols), len(row.Fields))
		}
		for k := 0; k < b.Len(); k++ {
			vals := make([]types.Value, len(b.Cols))
			for j, c := range b.Cols {
				vals[j] = c.Value(b.Row(k))
			}
			out = append(out, vals)
		}
	}
	if batches < 2 {
		t.Fatalf("%d record batches: the test needs several", batches)
	}
	return out
}

func sameRows(t *testing.T, what string, row types.Type, got, want [][]types.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if g, w := show(row, got[i]), show(row, want[i]); g != w {
			t.Fatalf("%s: row %d:\n got %s\nwant %s", what, i, g, w)
		}
	}
}

// TestColumnsRoundTrip writes every type through WriteColumns (with a selection vector, across several
// record batches) and reads it through NextColumns (all columns and a projection): the values are the ones
// Write and Next give for the same rows, NULLs included.
func TestColumnsRoundTrip(t *testing.T) {
	row := allTypes()
	rng := rand.New(rand.NewSource(5))
	rows := append(sampleRows(), randomRows(rng, 200)...)
	b := colsOf(rows, row)
	typed := 0
	for _, c := range b.Cols {
		if c.Kind != vec.Values {
			typed++
		}
	}
	if typed < 14 {
		t.Fatalf("only %d typed columns: the column paths are not exercised", typed)
	}
	for i := range rows {
		if i%3 != 1 {
			b.Sel = append(b.Sel, int32(i))
		}
	}
	var selected [][]types.Value
	for _, i := range b.Sel {
		selected = append(selected, rows[i])
	}
	for _, utc := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.UTC, cfg.BatchRows = utc, 16
		var buf bytes.Buffer
		w, err := NewWriter(&buf, row, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteColumns(b); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteColumns(&vec.Batch{N: 0, Cols: b.Cols}); err != nil {
			t.Fatal(err)
		}
		if w.Rows() != int64(len(selected)) {
			t.Fatalf("Rows() = %d, want %d", w.Rows(), len(selected))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		byCols := buf.Bytes()
		byRows := write(t, row, selected, cfg)
		want := readAll(t, byRows, row, nil, cfg)
		sameRows(t, "WriteColumns file read by Next", row, readAll(t, byCols, row, nil, cfg), want)
		sameRows(t, "NextColumns", row, readColumns(t, byRows, row, nil, cfg), want)
		project := []int{4, 10, 14, 17}
		sameRows(t, "NextColumns projected", row, readColumns(t, byRows, row, project, cfg), readAll(t, byRows, row, project, cfg))
		if len(want) != len(selected) || show(row, want[0]) != show(row, selected[0]) {
			t.Fatalf("the row path does not round-trip the first row")
		}
	}
}

// TestWriteColumnsTimestampRange reports a TIMESTAMP INT96 cannot hold, as Write does.
func TestWriteColumnsTimestampRange(t *testing.T) {
	row := types.RowType(types.Field{Name: "ts", Type: types.TimestampType(3)})
	cfg := DefaultConfig()
	cfg.UTC = true
	var buf bytes.Buffer
	w, err := NewWriter(&buf, row, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]types.Value{{types.TimestampValue(1<<62, 0)}}
	err = w.WriteColumns(colsOf(rows, row))
	var buf2 bytes.Buffer
	w2, _ := NewWriter(&buf2, row, cfg)
	want := w2.Write(rows[0])
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("error %v, Write gives %v", err, want)
	}
}
