package exec

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// xLateStall is xLate whose Push of a batch starting with row stall waits for a token on gate (telling
// entered first).
type xLateStall struct {
	xLate
	stall   int64
	gate    chan struct{}
	entered chan struct{}
}

func (o *xLateStall) Push(b *changelog.Batch) error {
	if o.gate != nil && len(b.Rows) > 0 && b.Rows[0].Vals[0].I == o.stall {
		o.entered <- struct{}{}
		<-o.gate
	}
	return o.xLate.Push(b)
}

// lateHoldExchange is two subtasks counting late rows (xLateStall) fed by two keyed channels, feeding another
// exchange (forward).
func lateHoldExchange(t *testing.T) (*Exchange, []*xLateStall) {
	t.Helper()
	ops := make([]*xLateStall, 2)
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{types.BigIntType()}, Senders: 2}}
	x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
		ops[k] = &xLateStall{}
		return []changelog.Output{ops[k]}, ops[k], nil
	}, []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	x.AlignSide(0)
	x.SetBarrierForward(func(int, int64) error { return nil })
	return x, ops
}

// ownedBy returns n values (negative ones when neg: late rows) whose rows the exchange routes to subtask k.
func ownedBy(x *Exchange, k, n int, neg bool, from int64) []int64 {
	snd := x.Sender(0, 0)
	var vs []int64
	for v := from; len(vs) < n; v++ {
		val := v
		if neg {
			val = -v
		}
		if snd.owner([]types.Value{types.IntValue(val)}) == k {
			vs = append(vs, val)
		}
	}
	return vs
}

func holdRows(vs []int64) *changelog.Batch {
	var b changelog.Batch
	for _, v := range vs {
		b.Append(changelog.Insert, []types.Value{types.IntValue(v)})
	}
	return &b
}

// TestUnalignedKeyedHoldBounded: the first subtask of a late-counting exchange took both channels' barriers
// and holds what comes after its cut while its snapshot waits for the second subtask, which is stalled in a
// batch before its barrier (a long barrier wait). A fast sender then sends 400 batches for the first
// subtask's keys. The first subtask holds no more than about UnalignedHoldBytes of them: past the budget it
// leaves them in its queue and the sender waits (before, it took every one: about 200 KB held). Once the
// second subtask took its barrier the checkpoint completes; the job processes every row once and a restore
// counts exactly the late rows sent before the barriers.
func TestUnalignedKeyedHoldBounded(t *testing.T) {
	defer func(b int64) { UnalignedHoldBytes = b }(UnalignedHoldBytes)
	UnalignedHoldBytes = 16 << 10
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	x, ops := lateHoldExchange(t)
	stall := ownedBy(x, 1, 1, false, 1)[0]
	ops[1].stall, ops[1].gate, ops[1].entered = stall, make(chan struct{}), make(chan struct{}, 1)
	ran := make(chan error, 1)
	go func() { ran <- x.Run(context.Background()) }()
	s0, s1 := x.Sender(0, 0), x.Sender(0, 1)
	var want []int64 // every non-negative row, each once
	late, before := int64(0), int64(0)
	pre := append(ownedBy(x, 0, 6, false, 1000), ownedBy(x, 0, 4, true, 1000)...)
	must(s0.Push(holdRows(pre)))
	must(s0.Flush())
	must(s1.Push(holdRows([]int64{stall})))
	must(s1.Flush())
	want = append(want, pre[:6]...)
	want = append(want, stall)
	late, before = 4, 4
	<-ops[1].entered // the second subtask is stalled before its barrier
	must(x.StartBarrier(1, false, true))
	must(x.QueueBarrier())
	must(s0.Barrier(1))
	must(s1.Barrier(1))
	batches := make([]*changelog.Batch, 400)
	for i := range batches {
		vs := append(ownedBy(x, 0, 6, false, int64(10000+i*100)), ownedBy(x, 0, 4, true, int64(10000+i*100))...)
		batches[i] = holdRows(vs)
		want = append(want, vs[:6]...)
	}
	sent := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := s0.Push(b); err != nil {
				sent <- err
				return
			}
			if err := s0.Flush(); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	late += 400 * 4
	select {
	case err := <-sent:
		must(err)
		t.Log("the sender was not held back") // the old behaviour: the first subtask took every batch
		sent <- nil
	case <-time.After(500 * time.Millisecond):
	}
	ops[1].gate <- struct{}{}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(x.WaitBarrier(wctx))
	wcancel()
	mem := state.NewMemory()
	must(x.State().(state.Snapshotter).SnapshotState(mem))
	x.ReleaseBarrier()
	select {
	case err := <-sent:
		must(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the sender is still blocked after the checkpoint")
	}
	must(s0.End())
	must(s1.End())
	must(<-ran)
	s := x.subs[0]
	t.Logf("held at most %d bytes (budget %d), left the queue alone %d times", s.heldPeak, UnalignedHoldBytes, s.stops)
	if s.heldPeak > 2*UnalignedHoldBytes {
		t.Errorf("the first subtask held %d bytes while its snapshot waited, over twice the budget %d", s.heldPeak, UnalignedHoldBytes)
	}
	if s.stops == 0 {
		t.Errorf("the first subtask never left its queue alone")
	}
	if got := LateRows(x.State()); got != late {
		t.Errorf("the job counted %d late rows, want %d", got, late)
	}
	got := slices.Concat(ops[0].rows, ops[1].rows)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the job kept %d rows, want %d (each once)", len(got), len(want))
	}

	x2, _ := lateHoldExchange(t)
	must(x2.State().(state.Snapshotter).RestoreState(mem.Reader()))
	go func() { ran <- x2.Run(context.Background()) }()
	must(x2.Sender(0, 0).End())
	must(x2.Sender(0, 1).End())
	must(<-ran)
	if got := LateRows(x2.State()); got != before {
		t.Errorf("restored: %d late rows, want the %d sent before the barriers", got, before)
	}
}

// TestUnalignedKeyedHoldPreBarrier: past the budget the first subtask still takes items for a sender that
// has not forwarded its barrier (it waits for room in the queue): TestUnalignedKeyedLateCounts with a budget
// of one byte completes its checkpoint (a subtask that stopped taking items there would leave sender 1
// blocked before its barrier for ever).
func TestUnalignedKeyedHoldPreBarrier(t *testing.T) {
	defer func(b int64) { UnalignedHoldBytes = b }(UnalignedHoldBytes)
	for _, budget := range []int64{1, 4 << 10} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			UnalignedHoldBytes = budget
			TestUnalignedKeyedLateCounts(t)
		})
	}
}
