package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// unionRecorder records what reaches a union's output: batches as columns or rows, watermarks, the end.
type unionRecorder struct {
	columns bool // takes columns
	log     []string
}

func (r *unionRecorder) Push(b *changelog.Batch) error {
	var vs []string
	for _, row := range b.Rows {
		vs = append(vs, fmt.Sprintf("%s%d", row.Kind, row.Vals[0].I))
	}
	r.log = append(r.log, "rows "+strings.Join(vs, ","))
	return nil
}

func (r *unionRecorder) PushColumns(b *vec.Batch) error {
	var vs []string
	for k := range b.Len() {
		i := b.Row(k)
		vs = append(vs, fmt.Sprintf("%s%d", b.Kind(i), b.Cols[0].I64[i]))
	}
	r.log = append(r.log, "cols "+strings.Join(vs, ","))
	return nil
}

func (r *unionRecorder) AcceptsColumns() bool { return r.columns }
func (r *unionRecorder) Watermark(ts int64) error {
	r.log = append(r.log, fmt.Sprintf("wm %d", ts))
	return nil
}
func (r *unionRecorder) End() error {
	r.log = append(r.log, "end")
	return nil
}

// rowsOnly hides a recorder's columnar methods.
type rowsOnly struct{ r *unionRecorder }

func (o rowsOnly) Push(b *changelog.Batch) error { return o.r.Push(b) }
func (o rowsOnly) Watermark(ts int64) error      { return o.r.Watermark(ts) }
func (o rowsOnly) End() error                    { return o.r.End() }

func unionColumns(t *testing.T, vals ...int64) *vec.Batch {
	t.Helper()
	var rows []changelog.Row
	for _, v := range vals {
		kind := changelog.Insert
		if v < 0 {
			kind, v = changelog.Delete, -v
		}
		rows = append(rows, changelog.Row{Kind: kind, Vals: []types.Value{types.IntValue(v)}})
	}
	var b vec.Batch
	if !vec.FromRows(&b, rows, []types.Type{types.BigIntType()}, nil) {
		t.Fatal("no columnar form")
	}
	return &b
}

// TestUnionColumns: a union passes columns on when its output takes them, converts them to rows when it
// does not (or when the output says it prefers rows), and keeps the minimum watermark, idleness and the end
// across inputs pushing columns and rows.
func TestUnionColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  func(*unionRecorder) changelog.Output
		kind string
	}{
		{"columnar output", func(r *unionRecorder) changelog.Output { r.columns = true; return r }, "cols"},
		{"output preferring rows", func(r *unionRecorder) changelog.Output { return r }, "rows"},
		{"rows-only output", func(r *unionRecorder) changelog.Output { return rowsOnly{r} }, "rows"},
	} {
		rec := &unionRecorder{}
		out := tc.out(rec)
		ins := NewUnion(3, out)
		want := []string{}
		step := func(err error, w ...string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want = append(want, w...)
		}
		if got := vec.Accepts(ins[0]); got != (tc.kind == "cols") {
			t.Fatalf("%s: the union's input accepts columns: %v", tc.name, got)
		}
		step(ins[0].(vec.Output).PushColumns(unionColumns(t, 1, 2, -3)), tc.kind+" +I1,+I2,-D3")
		sel := unionColumns(t, 4, 5, 6, 7)
		sel.Sel = []int32{1, 3}
		step(ins[1].(vec.Output).PushColumns(sel), tc.kind+" +I5,+I7")
		step(ins[2].Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(8)}}}}), "rows +I8")
		step(ins[0].Watermark(100))
		step(ins[1].Watermark(50))
		step(ins[2].Watermark(IdleWatermark), "wm 50")
		step(ins[1].Watermark(120), "wm 100")
		step(ins[0].End(), "wm 120")
		step(ins[2].Watermark(110)) // active again below the forwarded watermark: not counted until caught up
		step(ins[1].(vec.Output).PushColumns(unionColumns(t, 9)), tc.kind+" +I9")
		step(ins[1].End()) // the only running input (110) has not caught up with 120: nothing forwarded
		step(ins[2].End(), "end")
		if got := strings.Join(rec.log, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.name, got, strings.Join(want, "\n"))
		}
	}
}

// TestUnionColumnsNoAllocation: passing columns through a union allocates nothing per batch.
func TestUnionColumnsNoAllocation(t *testing.T) {
	in := NewUnion(2, nopColumns{})[0].(vec.Output)
	b := unionColumns(t, 1, 2, 3)
	if n := testing.AllocsPerRun(100, func() { _ = in.PushColumns(b) }); n != 0 {
		t.Fatalf("%v allocations per columnar batch through the union", n)
	}
}

type nopColumns struct{}

func (nopColumns) Push(*changelog.Batch) error  { return nil }
func (nopColumns) PushColumns(*vec.Batch) error { return nil }
func (nopColumns) AcceptsColumns() bool         { return true }
func (nopColumns) Watermark(int64) error        { return nil }
func (nopColumns) End() error                   { return nil }
