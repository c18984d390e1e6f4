package exec

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// overdraftRun is a GROUP BY user (COUNT(*), SUM(amount)) behind n keyed subtasks fed by one sender; its
// output rows ("user/count/sum") collected. With slow >= 0 that subtask waits in its first push until
// unblocked. Run it with run. Every row's amount is its own, so a row processed out of its channel's order changes the sums.
type overdraftRun struct {
	x      *Exchange
	snd    *ExchangeSender
	gate   *xGate
	mu     sync.Mutex
	out    []string
	done   chan error
	cancel context.CancelFunc
}

func newOverdraftRun(t *testing.T, n, slow int) *overdraftRun {
	t.Helper()
	bigint := types.Type{Kind: types.BigInt}
	in := []types.Type{bigint, bigint}
	r := &overdraftRun{done: make(chan error, 1), gate: &xGate{at: 1, wait: make(chan struct{}), blocked: make(chan struct{})}}
	outs := make([]changelog.Output, n)
	for i := range outs {
		outs[i] = NewCollect(func(row changelog.Row) error {
			r.mu.Lock()
			r.out = append(r.out, fmt.Sprintf("%d/%d/%d", row.Vals[0].I, row.Vals[1].I, row.Vals[2].I))
			r.mu.Unlock()
			return nil
		})
	}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{bigint}, Senders: 1}}
	x, err := NewExchange(128, n, sides, func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, KeyTypes: []types.Type{bigint}, InTypes: in,
			Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)")}, out)
		if err != nil {
			return nil, nil, err
		}
		if k == slow {
			return []changelog.Output{&xBlocker{in: op, g: r.gate}}, op, nil
		}
		return []changelog.Output{op}, op, nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	r.x, r.snd = x, x.Sender(0, 0)
	return r
}

// run runs the subtasks (after a restore).
func (r *overdraftRun) run() *overdraftRun {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.x.Run(ctx) }()
	return r
}

// send pushes one row (user, amount) per user and flushes: an item for each user's subtask.
func (r *overdraftRun) send(users []int64, amount int64) error {
	var b changelog.Batch
	for _, u := range users {
		b.Append(changelog.Insert, []types.Value{types.IntValue(u), types.IntValue(amount)})
	}
	if err := r.snd.Push(&b); err != nil {
		return err
	}
	return r.snd.Flush()
}

func (r *overdraftRun) rows() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.out))
}

// sendAsync sends amounts [from, to) for users on a goroutine; the channel gets its error once it is done.
func (r *overdraftRun) sendAsync(users []int64, from, to int64) chan error {
	done := make(chan error, 1)
	go func() {
		for a := from; a < to; a++ {
			if err := r.send(users, a); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// waitFull waits until subtask k's queue is full and the sender of sent still waits.
func (r *overdraftRun) waitFull(t *testing.T, k int, sent chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(r.x.subs[k].q) < xQueue; {
		if time.Now().After(deadline) {
			t.Fatalf("subtask %d's queue holds %d items; want it full", k, len(r.x.subs[k].q))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-sent:
		t.Fatalf("the sender finished (%v) with the slow subtask's queue full", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// overdraftUsers returns a user of subtask 0 and one of subtask 1 (of 2).
func overdraftUsers(r *overdraftRun) []int64 {
	var us []int64
	for k := 0; k < 2; k++ {
		for u := int64(0); ; u++ {
			if r.snd.owner([]types.Value{types.IntValue(u)}) == k {
				us = append(us, u)
				break
			}
		}
	}
	return us
}

// overdraftRef runs the uninterrupted job over amounts 1 to last-1 for a user of each of 2 subtasks: the
// users and the output.
func overdraftRef(t *testing.T, last int64) ([]int64, []string) {
	t.Helper()
	ref := newOverdraftRun(t, 2, -1).run()
	users := overdraftUsers(ref)
	if err := <-ref.sendAsync(users, 1, last); err != nil {
		t.Fatal(err)
	}
	ref.end(t)
	return users, ref.rows()
}

// end ends the input and waits for the subtasks.
func (r *overdraftRun) end(t *testing.T) {
	t.Helper()
	if err := r.snd.End(); err != nil {
		t.Fatal(err)
	}
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
}

// spilling runs the job with subtask 0 slow, sends amounts 1 to overdraftSends-1 until the sender waits for
// room in its full queue, and starts the overdraft: the sender must finish (its items spilled).
func spilling(t *testing.T, users []int64) *overdraftRun {
	t.Helper()
	r := newOverdraftRun(t, 2, 0).run()
	t.Cleanup(r.cancel)
	if err := r.send(users, 1); err != nil {
		t.Fatal(err)
	}
	<-r.gate.blocked
	sent := r.sendAsync(users, 2, overdraftSends)
	r.waitFull(t, 0, sent)
	r.x.StartOverdraft()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sender still waits for room in the slow subtask's queue after the overdraft started")
	}
	return r
}

const overdraftSends = 60 // items for the slow subtask: more than its queue takes

// TestUnalignedOverdraft: a sender waiting for room in a slow subtask's full queue (a source subtask holding
// the engine's checkpoint gate) spills once an unaligned checkpoint starts the overdraft, so the checkpoint
// can start; the barrier overtakes the queue and the spill, both written as channel state, and the job
// restored from it at another parallelism (2 → 3) emits, after what the old job emitted before the cut,
// exactly the uninterrupted job's rows (every row once, each channel in order: the sums would differ).
// Without the overdraft the sender waits until the slow subtask takes an item.
func TestUnalignedOverdraft(t *testing.T) {
	users, want := overdraftRef(t, overdraftSends+10)
	c0 := UnalignedTotals()
	cut := spilling(t, users)
	w, got := cutUnaligned(t, cut.x, func() { close(cut.gate.wait) }, cut.rows)
	c1 := UnalignedTotals()
	if spilled := c1.Spilled - c0.Spilled; spilled < overdraftSends-2-xQueue {
		t.Fatalf("%d items spilled; want the %d the slow subtask's queue did not take", spilled, overdraftSends-2-xQueue)
	}
	if written := c1.Written - c0.Written; written < overdraftSends-2 {
		t.Fatalf("%d items of channel state written; want the queue's and the spill's, %d", written, overdraftSends-2)
	}

	res := newOverdraftRun(t, 3, -1)
	if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatal(err)
	}
	if rows, at := res.x.RestoredInFlight(); rows < overdraftSends-2 || at != 2 {
		t.Fatalf("restored %d rows in flight taken at %d; want %d or more, at 2", rows, at, overdraftSends-2)
	}
	res.run()
	defer res.cancel()
	if err := <-res.sendAsync(users, overdraftSends, overdraftSends+10); err != nil {
		t.Fatal(err)
	}
	res.end(t)
	got = append(got, res.rows()...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("before the cut and restored:\n got %v\nwant %v", got, want)
	}
}

// TestUnalignedOverdraftGaveUp: a checkpoint that gives up after starting the overdraft (before its barrier
// was queued) sends the spill into the queue in order (EndOverdraft), while the sender keeps sending behind
// it; the output is the uninterrupted job's.
func TestUnalignedOverdraftGaveUp(t *testing.T) {
	users, want := overdraftRef(t, 2*overdraftSends)
	r := spilling(t, users)
	ended := make(chan struct{})
	go func() {
		r.x.EndOverdraft() // waits for room in the slow subtask's queue
		close(ended)
	}()
	// sent behind the spill while it is still being sent into the queue
	more := r.sendAsync(users, overdraftSends, 2*overdraftSends)
	time.Sleep(50 * time.Millisecond)
	select {
	case <-ended:
		t.Fatal("EndOverdraft returned with the spill not sent (the slow subtask takes nothing)")
	default:
	}
	close(r.gate.wait)
	<-ended
	if err := <-more; err != nil {
		t.Fatal(err)
	}
	r.end(t)
	if got := r.rows(); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// cutUnaligned takes unaligned barrier 1 through x (the senders hold back), calls unblock once it is queued,
// and returns the exchange's state written at it and, through emitted, what was emitted before the cut
// (read before the barrier is released).
func cutUnaligned(t *testing.T, x *Exchange, unblock func(), emitted func() []string) (entryWriter, []string) {
	t.Helper()
	if err := x.StartBarrier(1, false, true); err != nil {
		t.Fatal(err)
	}
	if err := x.QueueBarrier(); err != nil {
		t.Fatal(err)
	}
	unblock()
	if err := x.WaitBarrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	var w entryWriter
	if err := StateOf(x.State()).SnapshotState(&w); err != nil {
		t.Fatal(err)
	}
	got := emitted()
	x.ReleaseBarrier()
	return w, got
}
