package exec

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// lateExchange builds n keyed subtasks of an OVER aggregate (one side) or a window join (two sides) behind
// an exchange with one sender per side; rows are (k BIGINT, t BIGINT, v BIGINT), keyed by k.
func lateExchange(t *testing.T, join bool, n int) *Exchange {
	t.Helper()
	bt := types.BigIntType()
	ts := []types.Type{bt, bt, bt}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{bt}, Senders: 1}}
	if join {
		sides = []ExchangeSide{{Keys: []int{0, 1}, KeyTypes: []types.Type{bt, bt}, Senders: 1, NullKey: true},
			{Keys: []int{0, 1}, KeyTypes: []types.Type{bt, bt}, Senders: 1, NullKey: true}}
	}
	outs := make([]changelog.Output, n)
	for i := range outs {
		outs[i] = NewCollect(func(changelog.Row) error { return nil })
	}
	x, err := NewExchange(128, n, sides, func(_ int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		if join {
			// window end in column 1, keys (k, window end)
			l, r := NewWindowJoin(WindowJoinConfig{Type: InnerJoin, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1},
				LeftTypes: ts, RightTypes: ts, LeftEnd: 1, RightEnd: 1, Keyed: true}, out)
			return []changelog.Output{l, r}, l, nil
		}
		op, err := NewOverAgg(OverConfig{Partition: []int{0}, OrderCol: 1, Frame: OverFrame{Rows: true, Unbounded: true},
			Aggs: aggCalls(t, ts, "SUM($2)"), InTypes: ts}, out)
		return []changelog.Output{op}, op, err
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestLateRowsAcrossSubtasks: 3 keyed subtasks (OVER; window join) drop late rows of 60 keys, each counting
// its own; the snapshot keeps their sum, which restores at 2 and then at 1 subtask, and the restored
// operators count on from it.
func TestLateRowsAcrossSubtasks(t *testing.T) {
	for _, join := range []bool{false, true} {
		x := lateExchange(t, join, 3)
		done := make(chan error, 1)
		go func() { done <- x.Run(context.Background()) }()
		senders := []*ExchangeSender{x.Sender(0, 0)}
		if join {
			senders = append(senders, x.Sender(1, 0))
		}
		rows := func(t0 int64) *changelog.Batch {
			var b changelog.Batch
			for k := range int64(60) {
				b.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(t0), types.IntValue(k)})
			}
			return &b
		}
		for _, s := range senders {
			for _, err := range []error{s.Push(rows(1000)), s.Watermark(2000), s.Flush()} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, s := range senders { // behind the watermark of every side
			if err := errors.Join(s.Push(rows(500)), s.Flush()); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.WaitIdle(); err != nil {
			t.Fatal(err)
		}
		want := int64(60 * len(senders))
		counting := 0
		for _, st := range x.State().(*exchangeState).ops {
			if *StateOf(st).(lateCounter).lateCount() > 0 {
				counting++
			}
		}
		if got := LateRows(x.State()); got != want || counting < 2 {
			t.Fatalf("join %t: %d late rows counted by %d subtasks, want %d by at least 2", join, got, counting, want)
		}
		for _, s := range senders {
			if err := s.End(); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		snap := x.State()
		for _, n := range []int{2, 1} {
			mem := state.NewMemory()
			if err := StateOf(snap).SnapshotState(mem); err != nil {
				t.Fatal(err)
			}
			if got := LateRows(snap); got != want {
				t.Fatalf("join %t: the snapshot changed the count to %d", join, got)
			}
			y := lateExchange(t, join, n)
			if err := StateOf(y.State()).RestoreState(mem.Reader()); err != nil {
				t.Fatal(err)
			}
			if got := LateRows(y.State()); got != want {
				t.Fatalf("join %t: restored at %d subtasks: %d late rows, want %d", join, n, got, want)
			}
			// the restored subtasks count on (their watermark, 2000, was restored too)
			done := make(chan error, 1)
			go func() { done <- y.Run(context.Background()) }()
			ys := []*ExchangeSender{y.Sender(0, 0)}
			if join {
				ys = append(ys, y.Sender(1, 0))
			}
			if err := errors.Join(ys[0].Push(rows(100)), ys[0].Flush(), y.WaitIdle()); err != nil {
				t.Fatal(err)
			}
			want += 60
			if got := LateRows(y.State()); got != want {
				t.Fatalf("join %t: after the restore at %d subtasks: %d late rows, want %d", join, n, got, want)
			}
			for _, s := range ys {
				if err := s.End(); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			snap = y.State()
		}
	}
}
