package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// xKeyed is a keyed subtask's operator that keeps, per key (column 0), the sequence numbers (column 1) of its
// rows in arrival order, as state under the exchange's routing key (so a restore hands each key to its
// owner). With gate set, the batch whose first row has key stall waits for a token (telling entered).
type xKeyed struct {
	seqs    map[int64][]int64
	stall   int64
	gate    chan struct{}
	entered chan struct{}
}

var xKeyTypes = []types.Type{types.BigIntType()}

func (o *xKeyed) Push(b *changelog.Batch) error {
	if o.gate != nil && len(b.Rows) > 0 && b.Rows[0].Vals[0].I == o.stall {
		o.entered <- struct{}{}
		<-o.gate
		o.gate = nil
	}
	for _, r := range b.Rows {
		o.seqs[r.Vals[0].I] = append(o.seqs[r.Vals[0].I], r.Vals[1].I)
	}
	return nil
}
func (o *xKeyed) Watermark(int64) error { return nil }
func (o *xKeyed) End() error            { return nil }

func (o *xKeyed) SnapshotState(w state.Writer) error {
	for k, seqs := range o.seqs {
		v := binary.AppendVarint(nil, k)
		for _, s := range seqs {
			v = binary.AppendVarint(v, s)
		}
		if err := w.Put(1, appendGroupKey(nil, []types.Value{types.IntValue(k)}, []int{0}, xKeyTypes), v); err != nil {
			return err
		}
	}
	return nil
}

func (o *xKeyed) RestoreState(r state.Reader) error {
	es, err := readEntries(r)
	if err != nil {
		return err
	}
	for _, e := range es {
		k, n := binary.Varint(e.value)
		var seqs []int64
		for v := e.value[n:]; len(v) > 0; {
			s, m := binary.Varint(v)
			seqs, v = append(seqs, s), v[m:]
		}
		o.seqs[k] = seqs
	}
	return nil
}

// keyedExchange is n subtasks keeping their keys' rows (xKeyed), fed by senders keyed channels, their output
// to the graph.
func keyedExchange(t *testing.T, n, senders int) (*Exchange, []*xKeyed) {
	t.Helper()
	ops := make([]*xKeyed, n)
	outs := make([]changelog.Output, n)
	for k := range outs {
		outs[k] = NewCollect(func(changelog.Row) error { return nil })
	}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: xKeyTypes, Senders: senders}}
	x, err := NewExchange(128, n, sides, func(k int, _ changelog.Output) ([]changelog.Output, changelog.Output, error) {
		ops[k] = &xKeyed{seqs: map[int64][]int64{}}
		return []changelog.Output{ops[k]}, ops[k], nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	x.AlignSide(0)
	return x, ops
}

// keyedRows merges the subtasks' rows per key, failing when a key is kept by a subtask that does not own it.
func keyedRows(t *testing.T, x *Exchange, ops []*xKeyed) map[int64][]int64 {
	t.Helper()
	all := map[int64][]int64{}
	snd := x.Sender(0, 0)
	for k, op := range ops {
		for key, seqs := range op.seqs {
			if o := snd.owner([]types.Value{types.IntValue(key)}); o != k {
				t.Errorf("subtask %d of %d keeps key %d, owned by subtask %d", k, len(ops), key, o)
			}
			all[key] = seqs
		}
	}
	return all
}

// TestUnalignedKeyedRescale: an exchange fed by two keyed channels at parallelism 2 takes an unaligned
// barrier while its first subtask is stalled in a batch with batches of both channels queued behind it for
// both subtasks (rows only, no watermark in flight): they are channel state. Restored at parallelism 3 and 1
// (and from 3 senders, the upstream's parallelism changed too), the state and the in-flight rows go to the
// subtasks that own their keys, and every key's rows are those of the uninterrupted run, in its order.
func TestUnalignedKeyedRescale(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	x, ops := keyedExchange(t, 2, 2)
	const keys = 16
	var stall int64 = -1
	for k := range int64(keys) {
		if x.Sender(0, 0).owner([]types.Value{types.IntValue(k)}) == 0 {
			stall = k
			break
		}
	}
	ops[0].stall, ops[0].gate, ops[0].entered = stall, make(chan struct{}), make(chan struct{}, 1)
	ran := make(chan error, 1)
	go func() { ran <- x.Run(context.Background()) }()
	snd := []*ExchangeSender{x.Sender(0, 0), x.Sender(0, 1)}
	seq := []int64{0, 1000}
	send := func(from int, ks ...int64) {
		t.Helper()
		var b changelog.Batch
		for _, k := range ks {
			b.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(seq[from])})
			seq[from]++
		}
		must(snd[from].Push(&b))
		must(snd[from].Flush())
	}
	send(0, stall)
	select {
	case <-ops[0].entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first subtask never took the stalled batch")
	}
	for i := range int64(12) {
		ks := []int64{}
		for k := range int64(keys) {
			if (k+i)%3 != 0 {
				ks = append(ks, k)
			}
		}
		send(int(i%2), ks...)
	}
	c0 := UnalignedTotals()
	must(x.StartBarrier(1, false, true))
	must(x.QueueBarrier())
	must(snd[0].Barrier(1))
	must(snd[1].Barrier(1))
	close(ops[0].gate)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(x.WaitBarrier(wctx))
	wcancel()
	mem := state.NewMemory()
	must(x.State().(state.Snapshotter).SnapshotState(mem))
	if c1 := UnalignedTotals(); c1.Written-c0.Written < 6 {
		t.Fatalf("the checkpoint wrote %d in-flight items, want the batches queued behind the stalled one", c1.Written-c0.Written)
	}
	x.ReleaseBarrier()
	must(snd[0].End())
	must(snd[1].End())
	must(<-ran)
	want := keyedRows(t, x, ops)

	for _, tc := range []struct{ n, senders int }{{3, 2}, {1, 2}, {3, 3}, {2, 2}} {
		t.Run(fmt.Sprintf("P%d-from%d", tc.n, tc.senders), func(t *testing.T) {
			x2, ops2 := keyedExchange(t, tc.n, tc.senders)
			must(x2.State().(state.Snapshotter).RestoreState(mem.Reader()))
			go func() { ran <- x2.Run(context.Background()) }()
			for from := range tc.senders {
				must(x2.Sender(0, from).End())
			}
			must(<-ran)
			got := keyedRows(t, x2, ops2)
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if !slices.Equal(got[k], want[k]) {
					t.Errorf("key %d: rows %v, want %v", k, got[k], want[k])
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d keys, want %d", len(got), len(want))
			}
		})
	}
}
