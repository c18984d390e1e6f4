package engine

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// collectCols is a columnar output keeping copies of the rows of the batches pushed to it, and the kinds
// of the columns it saw.
type collectCols struct {
	collectRows
	conv  vec.RowConv
	kinds map[int]vec.Kind
}

func (c *collectCols) PushColumns(b *vec.Batch) error {
	if c.kinds == nil {
		c.kinds = map[int]vec.Kind{}
	}
	for j, col := range b.Cols {
		c.kinds[j] = col.Kind
	}
	return c.Push(c.conv.Rows(b))
}
func (c *collectCols) AcceptsColumns() bool { return true }

// vecBatchOf builds a columnar batch of rows: typed columns where every value fits, else Values columns.
func vecBatchOf(t *testing.T, ts []types.Type, rows []changelog.Row) *vec.Batch {
	b := &vec.Batch{N: len(rows), Kinds: make([]changelog.Kind, len(rows))}
	for i, r := range rows {
		b.Kinds[i] = r.Kind
	}
	for j, typ := range ts {
		c := vec.ColFor(typ)
		c.Reset(len(rows))
		for i, r := range rows {
			if !c.Append(i, r.Vals[j]) {
				c = &vec.Col{Kind: vec.Values}
				for k, r := range rows {
					c.Append(k, r.Vals[j])
				}
				break
			}
		}
		if c.Len() != len(rows) {
			t.Fatalf("column %d: %d values for %d rows", j, c.Len(), len(rows))
		}
		b.Cols = append(b.Cols, c)
	}
	return b
}

// Every type round-trips exactly through an intermediate result file written from columns and read into
// columns (and each written one way and read the other): the same values as the rows wrote, bit for bit,
// every row kind, selections honored, across record batch boundaries.
func TestIPCColumnsRoundTripAllTypes(t *testing.T) {
	ts, in := ipcAllTypesRows()
	cols := vecBatchOf(t, ts, in.Rows)
	typed := 0
	for _, c := range cols.Cols {
		if c.Kind != vec.Values {
			typed++
		}
	}
	if cols.Cols[8].Kind != vec.Dec128 {
		t.Fatalf("DECIMAL(38, 10) written from a %v column", cols.Cols[8].Kind)
	}
	if typed < 15 {
		t.Fatalf("only %d typed columns: the column paths are not exercised", typed)
	}
	// Rows 0, 2, 3 of the batch, then the batch whole: a selection and all kinds.
	sel := *cols
	sel.Sel = []int32{0, 2, 3}
	var want []changelog.Row
	for _, i := range sel.Sel {
		want = append(want, in.Rows[i])
	}
	want = append(want, in.Rows...)
	// Enough rows to span record batches (ipcBatchRows a batch).
	var many []changelog.Row
	for i := range ipcBatchRows + 5 {
		many = append(many, in.Rows[i%len(in.Rows)])
	}
	want = append(want, many...)
	manyCols := vecBatchOf(t, ts, many)

	for _, write := range []string{"rows", "columns"} {
		for _, read := range []string{"rows", "columns"} {
			t.Run(write+"→"+read, func(t *testing.T) {
				st := &batchStage{path: filepath.Join(t.TempDir(), "stage-1.arrow"), types: ts}
				w, err := newIPCWriter(st.path, ts)
				if err != nil {
					t.Fatal(err)
				}
				if write == "rows" {
					var b changelog.Batch
					for _, r := range want {
						b.Append(r.Kind, r.Vals)
					}
					err = w.Push(&b)
				} else {
					for _, b := range []*vec.Batch{&sel, cols, manyCols} {
						if err = w.PushColumns(b); err != nil {
							break
						}
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := w.End(); err != nil {
					t.Fatal(err)
				}
				var got *collectRows
				var cc collectCols
				if read == "rows" {
					got = &collectRows{}
					err = (&ipcSource{st: st}).Run(context.Background(), got)
				} else {
					err = (&ipcSource{st: st}).Run(context.Background(), &cc)
					got = &cc.collectRows
					if cc.kinds[4] != vec.Int64 || cc.kinds[10] != vec.Bytes || cc.kinds[14] != vec.Int64 || cc.kinds[8] != vec.Dec128 {
						t.Fatalf("columns read as %v: BIGINT, STRING, TIMESTAMP, DECIMAL(38, 10) should be typed", cc.kinds)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(got.rows) != len(want) {
					t.Fatalf("read %d rows, want %d", len(got.rows), len(want))
				}
				for i, r := range got.rows {
					if r.Kind != want[i].Kind {
						t.Fatalf("row %d: kind %s, want %s", i, r.Kind, want[i].Kind)
					}
					for c, typ := range ts {
						a, b := types.AppendValueBinary(nil, want[i].Vals[c], typ), types.AppendValueBinary(nil, r.Vals[c], typ)
						if !bytes.Equal(a, b) {
							t.Fatalf("row %d column %d (%s): got %+v, want %+v", i, c, typ, r.Vals[c], want[i].Vals[c])
						}
					}
				}
			})
		}
	}
}

// BenchmarkIPCExchangeColumns is BenchmarkIPCExchange for a producer and a consumer of columns: b.N rows of
// (BIGINT, DECIMAL(10, 2)) written from columnar batches of 1024 rows and read back as columns.
func BenchmarkIPCExchangeColumns(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.DecimalType(10, 2)}
	st := &batchStage{path: filepath.Join(b.TempDir(), "stage-1.arrow"), types: ts}
	var rows []changelog.Row
	for i := range 1024 {
		rows = append(rows, changelog.Row{Vals: []types.Value{types.IntValue(int64(i % 1000)), types.DecimalValue(int64(i*37%100000), 2)}})
	}
	var full vec.Batch
	if !vec.FromRows(&full, rows, ts, nil) {
		b.Fatal("rows do not convert")
	}
	b.ReportAllocs()
	b.ResetTimer()
	w, err := newIPCWriter(st.path, ts)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i += 1024 {
		part := full
		if n := b.N - i; n < 1024 {
			part.N = n
		}
		if err := w.PushColumns(&part); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.End(); err != nil {
		b.Fatal(err)
	}
	var n countCols
	if err := (&ipcSource{st: st}).Run(context.Background(), &n); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if int(n.countRows) != b.N {
		b.Fatalf("read %d rows, wrote %d", n.countRows, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

type countCols struct{ countRows }

func (c *countCols) PushColumns(b *vec.Batch) error {
	if b.Cols[0].Kind != vec.Int64 {
		return fmt.Errorf("column 1 read as %v", b.Cols[0].Kind)
	}
	c.countRows += countRows(b.Len())
	return nil
}
func (c *countCols) AcceptsColumns() bool { return true }
