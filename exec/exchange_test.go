package exec

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// xRecorder is a keyed subtask's operator in these tests: it records rows, watermarks and the end.
type xRecorder struct {
	rows  []int64
	wms   []int64
	ended bool
	fail  error // returned by Push
}

func (r *xRecorder) Push(b *changelog.Batch) error {
	if r.fail != nil {
		return r.fail
	}
	for _, row := range b.Rows {
		r.rows = append(r.rows, row.Vals[0].I)
	}
	return nil
}
func (r *xRecorder) Watermark(ts int64) error { r.wms = append(r.wms, ts); return nil }
func (r *xRecorder) End() error               { r.ended = true; return nil }

func newTestExchange(t *testing.T, n, senders int) (*Exchange, []*xRecorder) {
	t.Helper()
	recs := make([]*xRecorder, n)
	outs := make([]changelog.Output, n)
	for i := range outs {
		outs[i] = NewCollect(func(changelog.Row) error { return nil })
	}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{types.BigIntType()}, Senders: senders}}
	x, err := NewExchange(128, n, sides, func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		recs[k] = &xRecorder{}
		return []changelog.Output{recs[k]}, recs[k], nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	return x, recs
}

func keyBatch(from, to int64) *changelog.Batch {
	var b changelog.Batch
	for i := from; i < to; i++ {
		b.Append(changelog.Insert, []types.Value{types.IntValue(i)})
	}
	return &b
}

// TestExchangeRouting: every row reaches the subtask owning its key group, once; each subtask's watermark is
// the minimum over the senders; the operators end once every sender ended.
func TestExchangeRouting(t *testing.T) {
	x, recs := newTestExchange(t, 3, 2)
	done := make(chan error)
	go func() { done <- x.Run(context.Background()) }()
	s0, s1 := x.Sender(0, 0), x.Sender(0, 1)
	for _, step := range []error{s0.Push(keyBatch(0, 1000)), s1.Push(keyBatch(1000, 3000)), s0.Flush(), s1.Flush(),
		s0.Watermark(10), s1.Watermark(5), s1.Watermark(20), s0.End(), s1.End()} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	var key []byte
	for k, r := range recs {
		if !r.ended {
			t.Errorf("subtask %d did not end", k)
		}
		// watermarks: 5 (min of 10, 5), then 10 (min of 10, 20), then 20 once sender 0 ended
		if len(r.wms) != 3 || r.wms[0] != 5 || r.wms[1] != 10 || r.wms[2] != 20 {
			t.Errorf("subtask %d saw watermarks %v, want [5 10 20]", k, r.wms)
		}
		for _, id := range r.rows {
			seen[id]++
			key = appendGroupKey(key[:0], []types.Value{types.IntValue(id)}, []int{0}, []types.Type{types.BigIntType()})
			if o := Subtask(state.KeyGroup(key, 128), 128, 3); o != k {
				t.Fatalf("row %d went to subtask %d, its key group is owned by %d", id, k, o)
			}
		}
	}
	if len(seen) != 3000 {
		t.Fatalf("%d distinct rows arrived, want 3000", len(seen))
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("row %d arrived %d times", id, c)
		}
	}
}

// TestExchangeNoAllocPerRow: routing a batch allocates nothing per row once the batches are recycled.
func TestExchangeNoAllocPerRow(t *testing.T) {
	x, _ := newTestExchange(t, 2, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = x.Run(ctx) }()
	s := x.Sender(0, 0)
	b := keyBatch(0, 2048)
	push := func() {
		if err := s.Push(b); err != nil {
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
		push() // warm up: batches grow and enter the free list
	}
	// the recorders append what they receive; only the exchange's own allocations count here
	if a := testing.AllocsPerRun(50, push); a > 4 {
		t.Fatalf("%.1f allocations per 2048-row batch", a)
	}
	cancel()
	wg.Wait()
}

// TestExchangeFailure: an operator's error ends Run with it, and a sender blocked on a full queue returns.
func TestExchangeFailure(t *testing.T) {
	x, recs := newTestExchange(t, 2, 1)
	boom := errors.New("boom")
	for _, r := range recs {
		r.fail = boom
	}
	done := make(chan error)
	go func() { done <- x.Run(context.Background()) }()
	s := x.Sender(0, 0)
	var sendErr error
	for i := range 1000 { // more than the queues hold
		if sendErr = s.Push(keyBatch(int64(i)*600, int64(i+1)*600)); sendErr != nil {
			break
		}
	}
	err := <-done
	if !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want boom", err)
	}
	if !errors.Is(sendErr, context.Canceled) {
		t.Fatalf("the sender returned %v, want context.Canceled", sendErr)
	}
	_ = x.WaitIdle() // returns (an error when items were left in the queues) instead of waiting forever
}
