package exec

import (
	"context"
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// TestExchangeRebalance: a Rebalance side deals every sender's rows round robin over the subtasks, starting
// after the sender's index, whatever the rows' values (every row carries the same key here): each subtask
// gets its exact share, in each sender's order.
func TestExchangeRebalance(t *testing.T) {
	const n = 3
	recs := make([]*xRecorder, n)
	outs := make([]changelog.Output, n)
	for i := range outs {
		outs[i] = NewCollect(func(changelog.Row) error { return nil })
	}
	x, err := NewExchange(128, n, []ExchangeSide{{Rebalance: true, Senders: 2}}, func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		recs[k] = &xRecorder{}
		return []changelog.Output{recs[k]}, recs[k], nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- x.Run(context.Background()) }()
	// sender 0 sends 0..9, sender 1 sends 100..104; the values only tell the rows apart
	s0, s1 := x.Sender(0, 0), x.Sender(0, 1)
	for _, step := range []error{s0.Push(keyBatch(0, 10)), s1.Push(keyBatch(100, 105)), s0.End(), s1.End()} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := [n][]int64{{0, 3, 6, 9, 102}, {1, 4, 7, 100, 103}, {2, 5, 8, 101, 104}}
	for k, r := range recs {
		var mine, theirs []int64
		for _, v := range r.rows {
			if v < 100 {
				mine = append(mine, v)
			} else {
				theirs = append(theirs, v)
			}
		}
		got := append(mine, theirs...)
		if len(got) != len(want[k]) {
			t.Fatalf("subtask %d got %v, want %v", k, got, want[k])
		}
		for i := range got {
			if got[i] != want[k][i] {
				t.Fatalf("subtask %d got %v, want %v", k, got, want[k])
			}
		}
		if !r.ended {
			t.Errorf("subtask %d did not end", k)
		}
	}
}
