package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Unaligned barriers (Flink's unaligned checkpoints) for an exchange whose every side is fed by source
// subtasks. With the senders held back (the engine's checkpoint gate), queueUnaligned takes every item queued
// for a subtask out of its queue (they stay pending) and puts the barrier item at its head: the subtask takes
// the barrier at its next item boundary, with none of the overtaken items in its state. Those items are the
// channel state of the checkpoint: the subtask encodes them when it takes the barrier (recordChannels), then
// processes them (held, exchange_barrier.go's replay) before the rest of its queue. They are written after the
// subtasks' state, in namespace nsChannel (writeChannels). A restore hands each subtask its part
// (restoreChannels), which its loop processes before any new input (replayRestored).
//
// The barriers overtake watermarks too: the subtasks then take their barriers after different watermarks, so
// a checkpoint with channel state also holds every subtask's operator-wide entry and union watermarks at its
// barrier (exchange_unaligned_meta.go; handed the first subtask's entry, a subtask behind it dropped the rows
// of its channel state as late and lost windows).
//
// The cut stays exact: the sources' positions were recorded at the gate (after the overtaken rows), the state
// at the barrier (before them), and the overtaken rows are in the checkpoint between the two. What a subtask
// emits for them goes after its barrier (into the next exchange's channel behind the forwarded barrier, or,
// when its output goes to the graph, after the checkpoint released it): the sinks' pre-commit does not see
// it, and a restore emits it again.
//
// Format: an entry with key {0} (the header: the number of subtasks, of sides and every side's senders), then
// one entry per subtask with channel state, key {1, subtask}; its value the items in queue order: kind,
// side, sender, then rows (count, then per row its kind and appendRowBinary's values), a watermark (varint)
// or nothing (the end of a channel). Nothing is written when the barriers overtook nothing, so such a
// checkpoint is the aligned format. A restore at the parallelism it was taken at hands each subtask its items;
// at another one (subtasks or senders) the rows are routed to their new owners (exchange_unaligned_rescale.go).
// A channel's end is not replayed, since the restored source ends its channel again itself.

// nsChannel is the namespace of an exchange's channel state in its operator's state file.
const nsChannel uint8 = 254

// UnalignedCounts are process-wide totals of the unaligned barriers (tests check the path was taken).
type UnalignedCounts struct {
	Overtaken int64 // data items (rows, watermarks, ends) that barriers overtook
	Written   int64 // of those, items written into checkpoints
	Replayed  int64 // items of restored channel state processed
	Watermark int64 // of Overtaken, watermarks
	// of Overtaken, items recorded per channel behind a subtask's first barrier in exchanges fed by keyed
	// subtasks (exchange_unaligned_keyed.go)
	PerChannel int64
	Cuts       int64 // subtasks of such exchanges that cut their state at a first barrier
	// items taken out of such a subtask's queue (or a sender's unsent batches) ahead of their turn by a barrier
	// posted ahead of it (exchange_unaligned_keyed_overtake.go)
	Queued int64
	// items a send put in a subtask's spill during an unaligned checkpoint's overdraft instead of waiting
	// for room in its full queue (exchange_overdraft.go)
	Spilled int64
}

var unalignedOvertaken, unalignedWritten, unalignedReplayed, unalignedWatermarks, unalignedPerChannel, unalignedCuts, unalignedQueued, unalignedSpilled atomic.Int64

// UnalignedTotals returns the totals so far.
func UnalignedTotals() UnalignedCounts {
	return UnalignedCounts{Overtaken: unalignedOvertaken.Load(), Written: unalignedWritten.Load(), Replayed: unalignedReplayed.Load(), Watermark: unalignedWatermarks.Load(), PerChannel: unalignedPerChannel.Load(),
		Cuts: unalignedCuts.Load(), Queued: unalignedQueued.Load(), Spilled: unalignedSpilled.Load()}
}

// CanUnalign reports whether the exchange's barriers can be unaligned: the subtasks' state is written by
// State (with the channel state).
func (x *Exchange) CanUnalign() bool {
	return x.State() != nil
}

// queueUnaligned puts barrier b at the head of every running subtask's queue (the senders are held back).
func (x *Exchange) queueUnaligned(b *xBarrierRun) error {
	for k, s := range x.subs {
		it := xItem{kind: xBarrier, from: -1, wm: b.id}
		x.mu.Lock()
		if s.finished {
			b.take(k)
			x.mu.Unlock()
			continue
		}
		var drained []xItem
	drain:
		for {
			select {
			case q := <-s.q:
				drained = append(drained, q)
			default:
				break drain
			}
		}
		// still pending: the subtask processes them after the barrier; appended to what an earlier barrier
		// that was given up overtook (not processed yet either); then what the overdraft spilled behind the
		// queue (exchange_overdraft.go)
		s.overtaken = append(s.overtaken, drained...)
		s.overtaken = append(s.overtaken, s.takeSpill()...)
		// (when a tick came in meanwhile and the queue is full again, the barrier goes behind it)
		if err := x.queueItem(k, s, it); err != nil {
			return err
		}
	}
	return nil
}

// recordChannels encodes what subtask s's barrier overtook as its channel state at barrier b.
func (x *Exchange) recordChannels(b *xBarrierRun, s *xSub, over []xItem) {
	var enc []byte
	n := int64(0)
	for _, it := range over {
		var ok bool
		if enc, ok = appendChannelItem(enc, it); ok {
			n++
		}
	}
	unalignedOvertaken.Add(n)
	x.mu.Lock()
	b.chans[s.idx], b.chanN[s.idx] = enc, n
	x.mu.Unlock()
}

// appendChannelItem appends data item it to channel state enc (ok false: it is no data, nothing appended).
func appendChannelItem(enc []byte, it xItem) (_ []byte, ok bool) {
	switch it.kind {
	case xRows, xCols, xWatermark, xEnd:
	default:
		return enc, false // ticks and stale barriers: no data
	}
	enc = append(enc, byte(it.kind), it.side)
	enc = binary.AppendUvarint(enc, uint64(it.from))
	switch it.kind {
	case xRows:
		enc = binary.AppendUvarint(enc, uint64(len(it.b.batch.Rows)))
		for _, r := range it.b.batch.Rows {
			enc = append(enc, byte(r.Kind))
			enc = appendRowBinary(enc, r.Vals)
		}
	case xCols:
		cb := &it.b.cols.Batch
		enc = binary.AppendUvarint(enc, uint64(cb.Len()))
		vals := make([]types.Value, len(cb.Cols))
		for i := range cb.Len() {
			r := cb.Row(i)
			for j, c := range cb.Cols {
				vals[j] = c.Value(r)
			}
			enc = append(enc, byte(cb.Kind(r)))
			enc = appendRowBinary(enc, vals)
		}
	case xWatermark:
		enc = binary.AppendVarint(enc, it.wm)
		unalignedWatermarks.Add(1)
	}
	return enc, true
}

// writeChannels writes the channel state recorded at barrier b (nothing when the barriers overtook nothing).
func (x *Exchange) writeChannels(b *xBarrierRun, w state.Writer) error {
	x.mu.Lock()
	chans := slices.Clone(b.chans) // every subtask took the barrier: no more writes
	unions := slices.Clone(b.unions)
	x.mu.Unlock()
	if !slices.ContainsFunc(chans, func(c []byte) bool { return len(c) > 0 }) {
		return nil
	}
	hdr := []byte{stateVersion}
	hdr = binary.AppendUvarint(hdr, uint64(len(x.subs)))
	hdr = binary.AppendUvarint(hdr, uint64(len(x.sides)))
	for _, sd := range x.sides {
		hdr = binary.AppendUvarint(hdr, uint64(sd.Senders))
	}
	if err := w.Put(nsChannel, []byte{0}, hdr); err != nil {
		return err
	}
	for k, c := range chans {
		if len(c) == 0 {
			continue
		}
		if err := w.Put(nsChannel, binary.AppendUvarint([]byte{1}, uint64(k)), append([]byte{stateVersion}, c...)); err != nil {
			return err
		}
		unalignedWritten.Add(b.chanN[k])
	}
	if err := writeMetas(b.metas, w); err != nil { // exchange_unaligned_meta.go
		return err
	}
	return writeUnions(unions, w)
}

// splitChannelState reads an exchange's state entries and separates the channel state.
func splitChannelState(r state.Reader) (es, chans []stateEntry, err error) {
	all, err := readEntries(r)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range all {
		if e.ns == nsChannel {
			chans = append(chans, e)
		} else {
			es = append(es, e)
		}
	}
	return es, chans, nil
}

var errChannelState = fmt.Errorf("%w: the channel state of an unaligned checkpoint does not decode", state.ErrCorrupt)

// channelHeader decodes the header of channel state chans (not empty): the numbers of keyed subtasks and of
// sides, then every side's senders.
func channelHeader(chans []stateEntry) ([]uint64, error) {
	if len(chans[0].key) != 1 || chans[0].key[0] != 0 || len(chans[0].value) == 0 || chans[0].value[0] != stateVersion {
		return nil, errChannelState
	}
	var nums []uint64
	for hdr := chans[0].value[1:]; len(hdr) > 0; {
		v, k := binary.Uvarint(hdr)
		if k <= 0 {
			return nil, errChannelState
		}
		nums, hdr = append(nums, v), hdr[k:]
	}
	if len(nums) < 2 || uint64(len(nums)) != 2+nums[1] {
		return nil, errChannelState
	}
	return nums, nil
}

// restoreChannels hands each subtask its part of the restored channel state (replayed by its loop first);
// fs: the old subtasks' fired watermarks, for a restore at another parallelism
// (exchange_unaligned_rescale_floor.go).
func (x *Exchange) restoreChannels(chans []stateEntry, fs *floorSource) error {
	if len(chans) == 0 {
		return nil
	}
	nums, err := channelHeader(chans)
	if err != nil {
		return err
	}
	if nums[1] != uint64(len(x.sides)) {
		return errChannelState
	}
	old := nums[2:]
	rescaled := nums[0] != uint64(len(x.subs))
	for i, sd := range x.sides {
		rescaled = rescaled || old[i] != uint64(sd.Senders)
	}
	var all [][]xItem // with rescaled: per old subtask, its items (exchange_unaligned_rescale.go)
	var allK []int    // the old subtask of each of all
	wms := false      // with rescaled: a watermark is in flight
	for _, e := range chans[1:] {
		if len(e.key) < 2 || e.key[0] != 1 || len(e.value) == 0 || e.value[0] != stateVersion {
			return errChannelState
		}
		k, n := binary.Uvarint(e.key[1:])
		if n <= 0 || k >= nums[0] {
			return errChannelState
		}
		items, err := x.decodeItems(e.value[1:], old)
		if err != nil {
			return err
		}
		if rescaled {
			wms = wms || slices.ContainsFunc(items, func(it xItem) bool { return it.kind == xWatermark })
			all, allK = append(all, items), append(allK, int(k))
			continue
		}
		x.subs[k].restored = append(x.subs[k].restored, items...)
	}
	if rescaled && wms && nums[0] != 1 && !x.forwardsOnly() {
		// the old subtasks fired up to different watermarks (one old subtask: every new one has its entry;
		// an operator that only forwards watermarks fires nothing)
		if nums[0] == uint64(len(x.subs)) {
			// the senders changed only: every subtask has its key groups and operator-wide entry
			if err := x.sendersChanged(nums, fs); err != nil { // exchange_unaligned_rescale_late.go
				return err
			}
		} else if err := x.floorsAtRescale(nums, fs); err != nil {
			return err
		}
	}
	if rescaled {
		x.redistribute(all, int(nums[0]))
	}
	if rescaled && wms && fs != nil {
		x.replayWatermarks(all, old, fs.unions) // exchange_unaligned_rescale.go
		if !sameSenders(old, x.sides) {
			x.lateFloors(all, allK, int(nums[0]), old, fs.unions) // exchange_unaligned_rescale_late.go
		}
	}
	return nil
}

// decodeItems decodes one subtask's channel state into queue items (the ends of channels left out); senders
// are the numbers of senders per side when it was written.
func (x *Exchange) decodeItems(src []byte, senders []uint64) ([]xItem, error) {
	var items []xItem
	for len(src) > 0 {
		if len(src) < 3 {
			return nil, errChannelState
		}
		kind, side := xKind(src[0]), src[1]
		from, n := binary.Uvarint(src[2:])
		if n <= 0 || int(side) >= len(x.sides) || from >= senders[side] {
			return nil, errChannelState
		}
		src = src[2+n:]
		it := xItem{kind: kind, side: side, from: int32(from)}
		switch kind {
		case xRows, xCols:
			cnt, n := binary.Uvarint(src)
			if n <= 0 || cnt > uint64(len(src)) {
				return nil, errChannelState
			}
			src = src[n:]
			b := &xBatch{}
			for range cnt {
				if len(src) == 0 {
					return nil, errChannelState
				}
				rk := changelog.Kind(src[0])
				var vals []types.Value
				var err error
				if vals, src, err = decodeRowBinary(src[1:], nil); err != nil {
					return nil, errChannelState
				}
				b.batch.Rows = append(b.batch.Rows, changelog.Row{Kind: rk, Vals: vals})
			}
			it.kind, it.b = xRows, b
		case xWatermark:
			wm, n := binary.Varint(src)
			if n <= 0 {
				return nil, errChannelState
			}
			src = src[n:]
			it.wm = wm
		case xEnd:
			continue // the restored source ends its channel again itself
		default:
			return nil, errChannelState
		}
		items = append(items, it)
	}
	return items, nil
}

// DropChannelState forgets the channel state a restore handed the subtasks (a test hook: the restored job
// then loses the rows the barriers overtook).
func (x *Exchange) DropChannelState() {
	for _, s := range x.subs {
		s.restored = nil
	}
}

// replayRestored processes subtask s's restored channel state before any new input, and reports whether s is
// done.
func (x *Exchange) replayRestored(ctx context.Context, s *xSub) (bool, error) {
	items := s.restored
	s.restored = nil
	for _, it := range items {
		x.pending.Add(1)
		unalignedReplayed.Add(1)
		if done, err := x.process(ctx, s, it); err != nil || done {
			return done, err
		}
	}
	if f := s.floors; f != nil {
		f.replayed = true // exchange_unaligned_rescale_late.go
		if err := x.fireAfter(f); err != nil {
			return false, err
		}
	}
	return false, nil
}

// sameSenders reports whether every side has the number of senders it had (old).
func sameSenders(old []uint64, sides []ExchangeSide) bool {
	for i, sd := range sides {
		if old[i] != uint64(sd.Senders) {
			return false
		}
	}
	return true
}
