package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// xStall is a keyed subtask's operator that keeps the rows it took as its state; with gate set every batch
// waits for a token (or the gate closed) before it is taken, and tells entered.
type xStall struct {
	rows    []int64
	gate    chan struct{}
	entered chan struct{}
}

func (o *xStall) Push(b *changelog.Batch) error {
	if o.gate != nil {
		select {
		case o.entered <- struct{}{}:
		default:
		}
		<-o.gate
	}
	for _, r := range b.Rows {
		o.rows = append(o.rows, r.Vals[0].I)
	}
	return nil
}
func (o *xStall) Watermark(int64) error { return nil }
func (o *xStall) End() error            { return nil }

func (o *xStall) SnapshotState(w state.Writer) error {
	for i, v := range o.rows {
		if err := w.Put(1, binary.BigEndian.AppendUint64(nil, uint64(i)), binary.BigEndian.AppendUint64(nil, uint64(v))); err != nil {
			return err
		}
	}
	return nil
}

func (o *xStall) RestoreState(r state.Reader) error {
	es, err := readEntries(r)
	if err != nil {
		return err
	}
	slices.SortFunc(es, func(a, b stateEntry) int { return slices.Compare(a.key, b.key) })
	for _, e := range es {
		o.rows = append(o.rows, int64(binary.BigEndian.Uint64(e.value)))
	}
	return nil
}

// newStallExchange is one keyed subtask fed by two keyed upstream channels (AlignSide), its output to the
// graph (no forward).
func newStallExchange(t *testing.T) (*Exchange, *xStall) {
	t.Helper()
	op := &xStall{}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{types.BigIntType()}, Senders: 2}}
	x, err := NewExchange(128, 1, sides, func(int, changelog.Output) ([]changelog.Output, changelog.Output, error) {
		return []changelog.Output{op}, op, nil
	}, []changelog.Output{NewCollect(func(changelog.Row) error { return nil })}, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	x.AlignSide(0)
	return x, op
}

// TestUnalignedKeyedOvertake: a keyed subtask fed by two keyed channels is stalled in a batch (a slow
// operator: every batch waits for a token) with ten batches queued behind it and four rows collected by one
// sender and not sent. The checkpoint's unaligned barriers, forwarded by both senders, overtake all of them:
// once the stalled batch is done the subtask takes its barrier (its state: the first row) with the ten
// batches and the unsent rows as channel state, while they are still unprocessed. The job then processes
// every row once; a restore replays exactly those items, in each channel's order (the unsent rows behind
// their channel's last batch before the barrier). With the barriers queued behind the batches
// (NoKeyedOvertake, the old behaviour) the checkpoint waits for the queue.
func TestUnalignedKeyedOvertake(t *testing.T) {
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			NoKeyedOvertake = queued
			defer func() { NoKeyedOvertake = false }()
			unalignedKeyedOvertake(t, queued)
		})
	}
}

func unalignedKeyedOvertake(t *testing.T, queued bool) {
	x, op := newStallExchange(t)
	op.gate, op.entered = make(chan struct{}), make(chan struct{}, 1)
	gateOpen := false
	openGate := func() {
		if !gateOpen {
			gateOpen = true
			close(op.gate)
		}
	}
	defer openGate()
	ran := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { ran <- x.Run(ctx) }()
	s0, s1 := x.Sender(0, 0), x.Sender(0, 1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s0.Push(keyBatch(0, 1)))
	must(s0.Flush())
	select {
	case <-op.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the subtask never took the first batch")
	}
	const n = 10 // batches queued behind the stalled one, alternating channels
	for i := int64(1); i <= n; i++ {
		s := s1
		if i%2 == 1 {
			s = s0
		}
		must(s.Push(keyBatch(i, i+1)))
		must(s.Flush())
	}
	must(s0.Push(keyBatch(100, 104))) // collected by sender 0, not sent
	c0 := UnalignedTotals()
	must(x.StartBarrier(1, false, true))
	if !x.CanUnalign() {
		t.Fatal("the exchange cannot unalign its barriers")
	}
	must(x.QueueBarrier())
	must(s0.Barrier(1))
	must(s1.Barrier(1))
	op.gate <- struct{}{} // the stalled batch is done; every later one stalls again
	wctx, wcancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := x.WaitBarrier(wctx)
	wcancel()
	if queued {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("with the barriers queued behind the batches the barrier was taken (%v): the test does not see the overtaking", err)
		}
		x.ReleaseBarrier()
		openGate()
		must(s0.End())
		must(s1.End())
		must(<-ran)
		return
	}
	if err != nil {
		t.Fatalf("the barrier was not taken with %d batches queued behind a stalled subtask: %v", n, err)
	}
	if got := x.Pending(); got < n {
		t.Fatalf("%d items pending at the barrier, want the %d queued ones unprocessed", got, n)
	}
	mem := state.NewMemory()
	must(x.State().(state.Snapshotter).SnapshotState(mem))
	c1 := UnalignedTotals()
	if c1.Queued-c0.Queued < n+1 || c1.Written-c0.Written != n+1 {
		t.Fatalf("queued items overtaken %d, written %d; want %d and %d", c1.Queued-c0.Queued, c1.Written-c0.Written, n+1, n+1)
	}
	x.ReleaseBarrier()
	openGate()
	must(s0.End())
	must(s1.End())
	must(<-ran)
	all := slices.Clone(op.rows)
	slices.Sort(all)
	want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 101, 102, 103}
	if !slices.Equal(all, want) {
		t.Fatalf("the job took rows %v, want each of %v once", op.rows, want)
	}

	// restored: the state at the cut (row 0), then exactly the overtaken items in order
	x2, op2 := newStallExchange(t)
	must(x2.State().(state.Snapshotter).RestoreState(mem.Reader()))
	go func() { ran <- x2.Run(context.Background()) }()
	must(x2.Sender(0, 0).End())
	must(x2.Sender(0, 1).End())
	must(<-ran)
	if want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 10}; !slices.Equal(op2.rows, want) {
		t.Fatalf("restored rows %v, want %v (the state, then the channel state in queue order)", op2.rows, want)
	}
}

// xLate is a keyed subtask's operator that counts negative rows as late rows (lateCounter, its count in the
// operator-wide entry) and keeps the others.
type xLate struct {
	rows []int64
	Late int64
}

func (o *xLate) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Vals[0].I < 0 {
			o.Late++
		} else {
			o.rows = append(o.rows, r.Vals[0].I)
		}
	}
	return nil
}
func (o *xLate) Watermark(int64) error { return nil }
func (o *xLate) End() error            { return nil }
func (o *xLate) lateCount() *int64     { return &o.Late }

func (o *xLate) SnapshotState(w state.Writer) error {
	for _, v := range o.rows {
		if err := w.Put(1, binary.BigEndian.AppendUint64(nil, uint64(v)), nil); err != nil {
			return err
		}
	}
	return w.Put(nsMeta, nil, binary.AppendVarint(nil, o.Late))
}

func (o *xLate) RestoreState(r state.Reader) error {
	es, err := readEntries(r)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.ns == nsMeta {
			o.Late, _ = binary.Varint(e.value)
		} else {
			o.rows = append(o.rows, int64(binary.BigEndian.Uint64(e.key)))
		}
	}
	return nil
}

// mixedBatch is batch i of rows: four negative (late) and six others.
func mixedBatch(i int64) *changelog.Batch {
	var b changelog.Batch
	for v := range int64(10) {
		if v < 4 {
			b.Append(changelog.Insert, []types.Value{types.IntValue(-(i*4 + v + 1))})
		} else {
			b.Append(changelog.Insert, []types.Value{types.IntValue(i*6 + v)})
		}
	}
	return &b
}

// TestUnalignedKeyedLateCounts: an exchange fed by two keyed channels whose operators count late rows and that
// feeds another takes unaligned barriers. Sender 0's barrier comes first: both subtasks cut there; the first
// one's snapshot (with the sum of the late-row counts at every subtask's cut) waits for the other to take
// the barrier, and meanwhile it holds and records what sender 1 sends it (40 batches, more than its queue
// holds: a first subtask that waited there would leave sender 1 blocked before its barrier, and the
// checkpoint would never complete). Restored, the late-row count is exactly that of the rows sent before the
// barriers (the count at the cut plus the late rows replayed). Before, such an exchange stayed aligned (no
// cut at a first barrier).
func TestUnalignedKeyedLateCounts(t *testing.T) {
	build := func() (*Exchange, []*xLate) {
		ops := make([]*xLate, 2)
		sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{types.BigIntType()}, Senders: 2}}
		x, err := NewExchange(128, 2, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
			ops[k] = &xLate{}
			return []changelog.Output{ops[k]}, ops[k], nil
		}, []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		x.AlignSide(0)
		return x, ops
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	x, _ := build()
	forwarded := make(chan int, 4)
	x.SetBarrierForward(func(k int, id int64) error { forwarded <- k; return nil })
	if !x.CountsLateRows() || !x.CanUnalign() {
		t.Fatalf("counts late rows %v, can unalign %v; want both", x.CountsLateRows(), x.CanUnalign())
	}
	ran := make(chan error, 1)
	go func() { ran <- x.Run(context.Background()) }()
	s0, s1 := x.Sender(0, 0), x.Sender(0, 1)
	late := int64(0)
	must(s0.Push(mixedBatch(0)))
	must(s0.Flush())
	must(s1.Push(mixedBatch(1)))
	must(s1.Flush())
	late += 8
	c0 := UnalignedTotals()
	must(x.StartBarrier(1, false, true))
	must(x.QueueBarrier())
	must(s0.Barrier(1))
	sent := make(chan error, 1)
	go func() {
		for i := int64(2); i < 42; i++ {
			if err := s1.Push(mixedBatch(i)); err != nil {
				sent <- err
				return
			}
			if err := s1.Flush(); err != nil {
				sent <- err
				return
			}
		}
		sent <- s1.Barrier(1)
	}()
	late += 40 * 4
	select {
	case err := <-sent:
		must(err)
	case <-time.After(10 * time.Second):
		t.Fatal("sender 1 is blocked before its barrier")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(x.WaitBarrier(wctx))
	wcancel()
	if c1 := UnalignedTotals(); c1.Cuts-c0.Cuts != 2 {
		t.Fatalf("%d subtasks cut their state at a first barrier, want 2", c1.Cuts-c0.Cuts)
	}
	if len(forwarded) != 2 {
		t.Fatalf("%d subtasks forwarded the barrier, want 2", len(forwarded))
	}
	mem := state.NewMemory()
	must(x.State().(state.Snapshotter).SnapshotState(mem))
	x.ReleaseBarrier()
	must(s0.Push(mixedBatch(50))) // after the cut
	must(s0.End())
	must(s1.End())
	must(<-ran)
	if got := LateRows(x.State()); got != late+4 {
		t.Fatalf("the job counted %d late rows, want %d", got, late+4)
	}

	x2, _ := build()
	x2.SetBarrierForward(func(int, int64) error { return nil })
	must(x2.State().(state.Snapshotter).RestoreState(mem.Reader()))
	go func() { ran <- x2.Run(context.Background()) }()
	must(x2.Sender(0, 0).End())
	must(x2.Sender(0, 1).End())
	must(<-ran)
	if got := LateRows(x2.State()); got != late {
		t.Fatalf("restored: %d late rows, want the %d sent before the barriers", got, late)
	}
}
