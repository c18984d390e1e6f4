package exec

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// xColRecorder records the rows a subtask receives, as text, and counts how they came: as columns
// (PushColumns) or as rows (Push). It takes columns (vec.Output).
type xColRecorder struct {
	xRowRecorder
	conv       vec.RowConv
	colBatches int
	rowBatches int
}

func (r *xColRecorder) Push(b *changelog.Batch) error {
	r.rowBatches++
	return r.xRowRecorder.Push(b)
}

func (r *xColRecorder) PushColumns(b *vec.Batch) error {
	r.colBatches++
	if b.Sel != nil {
		return errors.New("a gathered batch has a selection vector")
	}
	return r.xRowRecorder.Push(r.conv.Rows(b))
}

func (r *xColRecorder) AcceptsColumns() bool { return true }

// gatherTestTypes: the route test's columns and columns of every other vector kind (TIMESTAMP with
// nanoseconds, DECIMAL in int64 and in 128 bits, BOOLEAN, a ROW with a string, an ARRAY as values).
func gatherTestTypes() []types.Type {
	return append(routeTestTypes(), types.TimestampType(9), types.DecimalType(10, 2), types.DecimalType(30, 3), types.BooleanType(),
		types.RowType(types.Field{Name: "a", Type: types.IntType()}, types.Field{Name: "s", Type: types.StringType()}),
		types.ArrayType(types.IntType()))
}

func randGatherRow(r *rand.Rand) []types.Value {
	row := randRouteRow(r)
	big30 := new(big.Int).Mul(big.NewInt(r.Int64()), big.NewInt(1e12))
	row = append(row, types.TimestampValue(r.Int64N(1<<40), int32(r.IntN(3))*1000), types.DecimalValue(r.Int64N(1e9), 2),
		types.BigDecimalValue(big30, 3), types.BoolValue(r.IntN(2) == 0),
		types.RowValue([]types.Value{types.IntValue(r.Int64N(100)), types.StringValue(fmt.Sprint("s", r.IntN(50)))}),
		types.ArrayValue([]types.Value{types.IntValue(r.Int64N(9))}))
	for i := 6; i < len(row); i++ {
		if r.IntN(8) == 0 {
			row[i] = types.NullValue
		}
	}
	return row
}

// runGatherExchange runs an exchange of n subtasks behind one side keyed by keys, whose operators are
// xColRecorders (columns: true) or xRowRecorders, pushes with push and ends; it returns the recorders' rows
// per subtask and the recorders (nil for rows).
func runGatherExchange(t testing.TB, n int, sd ExchangeSide, columns bool, push func(s *ExchangeSender) error) ([][]string, []*xColRecorder) {
	t.Helper()
	outs := make([]changelog.Output, n)
	for i := range outs {
		outs[i] = NewCollect(func(changelog.Row) error { return nil })
	}
	crecs := make([]*xColRecorder, n)
	rrecs := make([]*xRowRecorder, n)
	sd.Senders = 1
	x, err := NewExchange(128, n, []ExchangeSide{sd}, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
		if columns {
			crecs[k] = &xColRecorder{}
			return []changelog.Output{crecs[k]}, crecs[k], nil
		}
		rrecs[k] = &xRowRecorder{}
		return []changelog.Output{rrecs[k]}, rrecs[k], nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- x.Run(context.Background()) }()
	s := x.Sender(0, 0)
	if s.cols != columns {
		t.Fatalf("sender takes columns: %v, want %v", s.cols, columns)
	}
	if err := push(s); err != nil {
		t.Fatal(err)
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := make([][]string, n)
	for k := range n {
		if columns {
			got[k] = crecs[k].rows
		} else {
			got[k] = rrecs[k].rows
		}
	}
	if !columns {
		crecs = nil
	}
	return got, crecs
}

// TestExchangeGatherColumns: into operators that take columns, a columnar batch (selection vector,
// changelog kinds, NULLs, every vector kind) reaches every subtask as columnar batches (PushColumns, no
// Push) holding exactly the rows, kinds and values, in the order, that the row path gives each subtask. Keys
// of every route: integer and string keys hashed from the columns, a DOUBLE key encoded, a join side's NULL
// keys. Interleaved row and column pushes keep their order per subtask.
func TestExchangeGatherColumns(t *testing.T) {
	ts := gatherTestTypes()
	r := rand.New(rand.NewPCG(9, 10))
	var rows []changelog.Row
	var sel []int32
	kinds := []changelog.Kind{changelog.Insert, changelog.UpdateBefore, changelog.UpdateAfter, changelog.Delete}
	for i := range 3000 {
		k := changelog.Insert
		if i >= 1000 { // the first batch's rows are all inserts (Kinds nil)
			k = kinds[r.IntN(4)]
		}
		rows = append(rows, changelog.Row{Kind: k, Vals: randGatherRow(r)})
		if i%3 != 1 {
			sel = append(sel, int32(i))
		}
	}
	batches := make([]*vec.Batch, 3)
	var selected []changelog.Batch
	for j := range batches {
		part := rows[j*1000 : (j+1)*1000]
		b := &vec.Batch{}
		if !vec.FromRows(b, part, ts, nil) {
			t.Fatal("the rows have no columnar form")
		}
		if j != 1 { // the middle batch has no selection vector
			for _, i := range sel {
				if int(i) >= j*1000 && int(i) < (j+1)*1000 {
					b.Sel = append(b.Sel, i-int32(j*1000))
				}
			}
		}
		batches[j] = b
		var sb changelog.Batch
		for i, row := range part {
			if b.Sel == nil || i%3 != (1+2*j)%3 {
				sb.Append(row.Kind, row.Vals)
			}
		}
		selected = append(selected, sb)
	}
	if batches[0].Kinds != nil || batches[1].Kinds == nil {
		t.Fatal("the test's batches lack an insert-only batch or one with changelog kinds")
	}
	const n = 3
	for _, keys := range [][]int{{1, 0}, {2}, {3, 4}, {0, 5}, {7}} {
		for _, nullKey := range []bool{false, true} {
			sd := ExchangeSide{Keys: keys, NullKey: nullKey}
			for _, k := range keys {
				sd.KeyTypes = append(sd.KeyTypes, ts[k])
			}
			name := fmt.Sprintf("keys %v null-key %v", keys, nullKey)
			want, _ := runGatherExchange(t, n, sd, false, func(s *ExchangeSender) error {
				for j := range selected {
					if err := s.Push(&selected[j]); err != nil {
						return err
					}
				}
				return nil
			})
			got, recs := runGatherExchange(t, n, sd, true, func(s *ExchangeSender) error {
				for _, b := range batches {
					if err := s.PushColumns(b); err != nil {
						return err
					}
				}
				return nil
			})
			total := 0
			for k := range n {
				total += len(got[k])
				if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
					t.Fatalf("%s: subtask %d got %d rows from gathered columns, %d from rows (or others, or in another order)", name, k, len(got[k]), len(want[k]))
				}
				if recs[k].colBatches == 0 || recs[k].rowBatches != 0 {
					t.Fatalf("%s: subtask %d got %d columnar and %d row batches, want only columnar ones", name, k, recs[k].colBatches, recs[k].rowBatches)
				}
			}
			wantTotal := 0
			for j := range selected {
				wantTotal += len(selected[j].Rows)
			}
			if total != wantTotal || len(got[0]) == 0 || len(got[1]) == 0 || len(got[2]) == 0 {
				t.Fatalf("%s: %d rows arrived (per subtask %d %d %d)", name, total, len(got[0]), len(got[1]), len(got[2]))
			}
			// rows and columns interleaved: the same rows in the same order per subtask
			mixed, recs := runGatherExchange(t, n, sd, true, func(s *ExchangeSender) error {
				if err := s.PushColumns(batches[0]); err != nil {
					return err
				}
				if err := s.Push(&selected[1]); err != nil {
					return err
				}
				return s.PushColumns(batches[2])
			})
			for k := range n {
				if fmt.Sprint(mixed[k]) != fmt.Sprint(want[k]) {
					t.Fatalf("%s: subtask %d: rows and columns interleaved arrive otherwise than rows", name, k)
				}
				if recs[k].colBatches == 0 || recs[k].rowBatches == 0 {
					t.Fatalf("%s: subtask %d got %d columnar and %d row batches, want both", name, k, recs[k].colBatches, recs[k].rowBatches)
				}
			}
		}
	}
}

// TestExchangeGatherShapeChange: a sender whose columnar batches change shape (a column typed in one batch
// and values in the next) sends what it gathered before the other shape, in order.
func TestExchangeGatherShapeChange(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	mk := func(lo int) *vec.Batch {
		var rows []changelog.Row
		for i := lo; i < lo+300; i++ {
			rows = append(rows, changelog.Row{Vals: []types.Value{types.IntValue(int64(i)), types.StringValue(fmt.Sprint("v", i))}})
		}
		b := &vec.Batch{}
		if !vec.FromRows(b, rows, ts, nil) {
			t.Fatal("no columnar form")
		}
		return b
	}
	a, b, c := mk(0), mk(300), mk(600)
	// b's string column as row values (a Values column): another shape
	vals := &vec.Col{Kind: vec.Values}
	for i := range b.N {
		vals.Vals = append(vals.Vals, b.Cols[1].Value(i))
	}
	b.Cols[1] = vals
	sd := ExchangeSide{Keys: []int{0}, KeyTypes: ts[:1]}
	want, _ := runGatherExchange(t, 2, sd, false, func(s *ExchangeSender) error {
		var conv vec.RowConv
		for _, x := range []*vec.Batch{a, b, c} {
			if err := s.Push(conv.Rows(x)); err != nil {
				return err
			}
		}
		return nil
	})
	got, _ := runGatherExchange(t, 2, sd, true, func(s *ExchangeSender) error {
		for _, x := range []*vec.Batch{a, b, c} {
			if err := s.PushColumns(x); err != nil {
				return err
			}
		}
		return nil
	})
	for k := range 2 {
		if len(got[k]) == 0 || fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Fatalf("subtask %d: %d rows, want %d in the row path's order", k, len(got[k]), len(want[k]))
		}
	}
}

// xColDiscard takes columns and discards them.
type xColDiscard struct{ xDiscard }

func (d *xColDiscard) PushColumns(b *vec.Batch) error { d.n += b.Len(); return nil }
func (d *xColDiscard) AcceptsColumns() bool           { return true }

// TestExchangeGatherNoAlloc: gathering a columnar batch (strings, NULLs, changelog kinds) per subtask
// allocates nothing per row or per batch once the queue items are recycled.
func TestExchangeGatherNoAlloc(t *testing.T) {
	ts := routeTestTypes()[:5]
	outs := []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}
	sides := []ExchangeSide{{Keys: []int{1, 0}, KeyTypes: []types.Type{ts[1], ts[0]}, Senders: 1}}
	ds := make([]*xColDiscard, 2)
	x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
		ds[k] = &xColDiscard{}
		return []changelog.Output{ds[k]}, ds[k], nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- x.Run(ctx) }()
	r := rand.New(rand.NewPCG(7, 8))
	var rows []changelog.Row
	for i := range 2048 {
		rows = append(rows, changelog.Row{Kind: changelog.Kind(i % 4), Vals: randRouteRow(r)[:5]})
	}
	var b vec.Batch
	if !vec.FromRows(&b, rows, ts, nil) {
		t.Fatal("the rows have no columnar form")
	}
	s := x.Sender(0, 0)
	if !s.cols {
		t.Fatal("the sender does not gather columns for operators that take them")
	}
	push := func() {
		if err := s.PushColumns(&b); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := x.WaitIdle(); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		push() // warm up: queue items grow and enter the free list
	}
	if a := testing.AllocsPerRun(50, push); a > 4 {
		t.Fatalf("%.1f allocations per 2048-row columnar batch", a)
	}
	if got := ds[0].n + ds[1].n; got != 71*2048 {
		t.Fatalf("the subtasks received %d rows, want %d", got, 71*2048)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// BenchmarkExchangeGather: a hash exchange of a 1024-row columnar batch (key BIGINT, STRING; 5 columns) into
// two subtasks, per row: routed into row items for operators that take rows (the path before the gather), or
// gathered into columnar batches for operators that take columns. The subtasks discard what they receive.
// cpu-ns/row is the process's CPU time per row (subtasks and GC included).
//
//	go test ./exec -run '^$' -bench ExchangeGather
func BenchmarkExchangeGather(b *testing.B) {
	ts := routeTestTypes()[:5]
	r := rand.New(rand.NewPCG(5, 6))
	var rows []changelog.Row
	for range 1024 {
		row := randRouteRow(r)[:5]
		row[0] = types.IntValue(r.Int64N(100000))
		row[1] = types.StringValue(fmt.Sprintf("user-%d", r.IntN(1000)))
		rows = append(rows, changelog.Row{Vals: row})
	}
	var cols vec.Batch
	if !vec.FromRows(&cols, rows, ts, nil) {
		b.Fatal("no columnar form")
	}
	for _, mode := range []string{"rows", "columns"} {
		b.Run(mode, func(b *testing.B) {
			outs := []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}
			sides := []ExchangeSide{{Keys: []int{1, 0}, KeyTypes: []types.Type{ts[1], ts[0]}, Senders: 1}}
			x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
				if mode == "columns" {
					d := &xColDiscard{}
					return []changelog.Output{d}, d, nil
				}
				d := &xDiscard{}
				return []changelog.Output{d}, d, nil
			}, outs, func(int) {})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- x.Run(context.Background()) }()
			s := x.Sender(0, 0)
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				if err := s.PushColumns(&cols); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.End(); err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			cpu := processCPU() - c0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(rows)), "cpu-ns/row")
		})
	}
}
