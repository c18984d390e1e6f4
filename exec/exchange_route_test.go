package exec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

func routeTestTypes() []types.Type {
	return []types.Type{types.BigIntType(), types.StringType(), types.IntType(), types.DateType(), types.BytesType(), types.DoubleType()}
}

func randRouteRow(r *rand.Rand) []types.Value {
	str := func() string {
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = byte("a\x00\xff1"[r.IntN(4)])
		}
		return string(b)
	}
	row := []types.Value{types.IntValue(r.Int64() - r.Int64()), types.StringValue(str()), types.IntValue(int64(r.Int32())),
		{T: types.TagDate, I: r.Int64N(40000) - 20000}, types.BytesValue([]byte(str())), types.FloatValue(r.Float64())}
	for i := range row {
		if r.IntN(8) == 0 {
			row[i] = types.NullValue
		}
	}
	return row
}

// TestRouteHashMatchesState: the hash computed from the key values without their encoding is state.Hash of
// the encoding, for every key kind that has one, NULLs included; a key column without it (DOUBLE) makes
// the sender encode the key.
func TestRouteHashMatchesState(t *testing.T) {
	ts := routeTestTypes()
	r := rand.New(rand.NewPCG(1, 2))
	for _, keys := range [][]int{{0}, {1}, {2}, {3}, {4}, {1, 0, 3}, {4, 2}} {
		kts := make([]types.Type, len(keys))
		for i, k := range keys {
			kts[i] = ts[k]
		}
		x := &Exchange{maxPar: 128, subs: make([]*xSub, 3), sides: []ExchangeSide{{Keys: keys, KeyTypes: kts}}}
		s := x.Sender(0, 0)
		if s.kinds == nil {
			t.Fatalf("keys %v: no fast route", keys)
		}
		var key []byte
		for range 2000 {
			row := randRouteRow(r)
			h, ok := s.fastHash(row)
			if !ok {
				t.Fatalf("keys %v, row %v: no fast hash", keys, row)
			}
			key = appendGroupKey(key[:0], row, keys, kts)
			if want := state.Hash(key); h != want {
				t.Fatalf("keys %v, row %v: hash %x, state.Hash of the key %x", keys, row, h, want)
			}
		}
	}
	x := &Exchange{maxPar: 128, subs: make([]*xSub, 3), sides: []ExchangeSide{{Keys: []int{0, 5}, KeyTypes: []types.Type{ts[0], ts[5]}}}}
	if s := x.Sender(0, 0); s.kinds != nil {
		t.Fatalf("a DOUBLE key column has a fast route")
	}
	// a join side: a NULL key goes where the join keeps NULL keys, through the encoded path
	x = &Exchange{maxPar: 128, subs: make([]*xSub, 3), sides: []ExchangeSide{{Keys: []int{0}, KeyTypes: ts[:1], NullKey: true}}}
	s := x.Sender(0, 0)
	if _, ok := s.fastHash([]types.Value{types.NullValue}); ok {
		t.Fatalf("a NULL join key took the fast route")
	}
	s.route(&changelog.Batch{Rows: []changelog.Row{{Vals: []types.Value{types.NullValue}}}})
	if want := Subtask(state.KeyGroup([]byte(nullJoinKey), 128), 128, 3); int(s.owners[0]) != want {
		t.Fatalf("a NULL join key went to subtask %d, want %d", s.owners[0], want)
	}
}

// xRowRecorder records the rows a subtask receives, as text.
type xRowRecorder struct{ rows []string }

func (r *xRowRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		r.rows = append(r.rows, fmt.Sprint(row.Kind, row.Vals))
	}
	return nil
}
func (r *xRowRecorder) Watermark(int64) error { return nil }
func (r *xRowRecorder) End() error            { return nil }

// TestExchangePushColumns: a columnar batch (with a selection vector and changelog kinds) is routed as its
// rows would be: every selected row reaches the subtask owning its key, in order, with its kind and values.
func TestExchangePushColumns(t *testing.T) {
	ts := routeTestTypes()[:5]
	const n = 3
	run := func(push func(s *ExchangeSender) error) [][]string {
		recs := make([]*xRowRecorder, n)
		outs := make([]changelog.Output, n)
		for i := range outs {
			outs[i] = NewCollect(func(changelog.Row) error { return nil })
		}
		sides := []ExchangeSide{{Keys: []int{1, 0}, KeyTypes: []types.Type{ts[1], ts[0]}, Senders: 1}}
		x, err := NewExchange(128, n, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
			recs[k] = &xRowRecorder{}
			return []changelog.Output{recs[k]}, recs[k], nil
		}, outs, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- x.Run(context.Background()) }()
		s := x.Sender(0, 0)
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
		for k, r := range recs {
			got[k] = r.rows
		}
		return got
	}
	r := rand.New(rand.NewPCG(3, 4))
	var rows []changelog.Row
	var sel []int32
	kinds := []changelog.Kind{changelog.Insert, changelog.UpdateBefore, changelog.UpdateAfter, changelog.Delete}
	for i := range 3000 {
		rows = append(rows, changelog.Row{Kind: kinds[r.IntN(4)], Vals: randRouteRow(r)[:5]})
		if i%3 != 1 {
			sel = append(sel, int32(i))
		}
	}
	var b vec.Batch
	if !vec.FromRows(&b, rows, ts, nil) {
		t.Fatal("the rows have no columnar form")
	}
	b.Sel = sel
	var selected changelog.Batch
	for _, i := range sel {
		selected.Append(rows[i].Kind, rows[i].Vals)
	}
	want := run(func(s *ExchangeSender) error { return s.Push(&selected) })
	got := run(func(s *ExchangeSender) error { return s.PushColumns(&b) })
	total := 0
	for k := range n {
		total += len(got[k])
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Fatalf("subtask %d got %d rows from the columns, %d from the rows (or in another order)", k, len(got[k]), len(want[k]))
		}
	}
	if total != len(sel) || len(got[0]) == 0 || len(got[1]) == 0 || len(got[2]) == 0 {
		t.Fatalf("%d rows arrived (per subtask %d %d %d), want %d over all subtasks", total, len(got[0]), len(got[1]), len(got[2]), len(sel))
	}
}

// BenchmarkExchangeSender: the sending side of a hash exchange per row (key BIGINT, STRING; 5 columns), for
// a row batch with the key encoded to be hashed (the route before the fast hash) or hashed from the values,
// and for a columnar batch converted to rows first (vec.RowConv, the path before PushColumns) or routed from
// its columns. The subtasks discard what they receive. cpu-ns/row is the process's CPU time per row (the
// subtasks and GC included), steadier than wall time on a shared machine.
//
//	go test ./exec -run '^$' -bench ExchangeSender
func BenchmarkExchangeSender(b *testing.B) {
	ts := routeTestTypes()[:5]
	r := rand.New(rand.NewPCG(5, 6))
	var rows changelog.Batch
	for range 1024 {
		row := randRouteRow(r)[:5]
		row[0] = types.IntValue(r.Int64N(100000))
		row[1] = types.StringValue(fmt.Sprintf("user-%d", r.IntN(1000)))
		rows.Append(changelog.Insert, row)
	}
	var cols vec.Batch
	if !vec.FromRows(&cols, rows.Rows, ts, nil) {
		b.Fatal("no columnar form")
	}
	for _, mode := range []string{"rows/encoded", "rows/fast", "columns/rowconv-encoded", "columns/direct"} {
		b.Run(mode, func(b *testing.B) {
			outs := []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}
			sides := []ExchangeSide{{Keys: []int{1, 0}, KeyTypes: []types.Type{ts[1], ts[0]}, Senders: 1}}
			x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
				d := &xDiscard{}
				return []changelog.Output{d}, d, nil
			}, outs, func(int) {})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- x.Run(context.Background()) }()
			s := x.Sender(0, 0)
			if mode != "rows/fast" && mode != "columns/direct" {
				s.kinds = nil
			}
			var conv vec.RowConv
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				switch mode {
				case "rows/encoded", "rows/fast":
					err = s.Push(&rows)
				case "columns/rowconv-encoded":
					err = s.Push(conv.Rows(&cols))
					conv = vec.RowConv{} // as exec.pushCols: a converter per batch
				default:
					err = s.PushColumns(&cols)
				}
				if err != nil {
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
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows.Rows)), "ns/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(rows.Rows)), "cpu-ns/row")
		})
	}
}

type xDiscard struct{ n int }

func (d *xDiscard) Push(b *changelog.Batch) error { d.n += len(b.Rows); return nil }
func (d *xDiscard) Watermark(int64) error         { return nil }
func (d *xDiscard) End() error                    { return nil }

// TestExchangePushColumnsNoAlloc: routing a columnar batch (strings included) allocates nothing per row or
// per batch once the queue items are recycled.
func TestExchangePushColumnsNoAlloc(t *testing.T) {
	ts := routeTestTypes()[:5]
	outs := []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}
	sides := []ExchangeSide{{Keys: []int{1, 0}, KeyTypes: []types.Type{ts[1], ts[0]}, Senders: 1}}
	x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
		d := &xDiscard{}
		return []changelog.Output{d}, d, nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- x.Run(ctx) }()
	r := rand.New(rand.NewPCG(7, 8))
	var rows []changelog.Row
	for range 2048 {
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: randRouteRow(r)[:5]})
	}
	var b vec.Batch
	if !vec.FromRows(&b, rows, ts, nil) {
		t.Fatal("the rows have no columnar form")
	}
	s := x.Sender(0, 0)
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
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// ownerOf's table (and mask, for a power-of-two maximum parallelism) gives every hash the subtask Subtask
// gives its key group, for maximum parallelisms that are and are not powers of two, and above 256 subtasks.
func TestOwnerOfMatchesSubtask(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range [][2]int{{128, 1}, {128, 2}, {128, 3}, {100, 2}, {100, 7}, {1, 1}, {32768, 5}, {4096, 300}} {
		maxPar, n := c[0], c[1]
		s := &ExchangeSender{x: &Exchange{maxPar: maxPar, subs: make([]*xSub, n)}}
		for range 10000 {
			h := r.Uint64()
			if got, want := s.ownerOf(h), Subtask(int(h%uint64(maxPar)), maxPar, n); got != want {
				t.Fatalf("maxPar %d, %d subtasks: hash %#x goes to subtask %d, want %d", maxPar, n, h, got, want)
			}
		}
	}
}
