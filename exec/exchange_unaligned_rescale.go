package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
)

// A restore of an unaligned checkpoint's channel state at another parallelism (Flink 1.13+ redistributes
// in-flight data the same way): the exchange's keyed subtasks or its senders (the source subtasks feeding a
// side) changed in number. Every row of the old subtasks' in-flight items is routed to the new subtask that
// owns it, by the exchange's own routing (ExchangeSender.route: the key group of the row's key, or round robin
// for a side that deals rows), in the order of the old items: all rows of a key were in one old subtask, in
// channel order, and stay in that order. A row goes to the new union input of its old sender modulo the new
// number of senders (rows only count there; the channels' watermarks and ends come from the restored sources).
// When the channel state holds watermarks, the subtasks took their barriers after different watermarks (the
// one behind had the newer one in flight), so their operator-wide entries (fired watermark,
// exchange_unaligned_meta.go) differ, and a new subtask owning key groups of several old ones has no single
// watermark that neither drops their in-flight rows as late nor re-opens windows another one fired: it
// resumes from the lowest and keeps every key group's own as a floor (exchange_unaligned_rescale_floor.go),
// and the watermarks in flight are queued behind the rows (replayWatermarks). Operators that cannot take
// floors refuse such a restore (rescaledWatermarkRefused).

// redistribute hands the new subtasks the rows of old's items (per old subtask, in queue order) taken at
// subs subtasks.
func (x *Exchange) redistribute(old [][]xItem, subs int) {
	x.rescaledFrom = subs
	for _, s := range x.subs {
		if j, ok := StateOf(s.op).(*joinOp); ok {
			j.forgetWatermarks()
		}
	}
	senders := make([]*ExchangeSender, len(x.sides))
	for _, items := range old {
		for _, it := range items {
			if it.kind != xRows || len(it.b.batch.Rows) == 0 {
				continue
			}
			s := senders[it.side]
			if s == nil {
				s = x.Sender(int(it.side), 0)
				senders[it.side] = s
			}
			s.route(&it.b.batch) // exchange_route.go
			from := it.from % int32(x.sides[it.side].Senders)
			per := make([]*xBatch, len(x.subs))
			for i, r := range it.b.batch.Rows {
				k := s.owners[i]
				if per[k] == nil {
					per[k] = &xBatch{}
				}
				per[k].batch.Rows = append(per[k].batch.Rows, r)
			}
			if redistributeFault != "" {
				faultRedistributed(per) // a test hook (exchange_test_hook.go)
			}
			for k, b := range per {
				if b != nil {
					x.subs[k].restored = append(x.subs[k].restored, xItem{kind: xRows, side: it.side, from: from, b: b})
				}
			}
		}
	}
}

// RestoredInFlight returns the number of rows of restored channel state (an unaligned checkpoint's in-flight
// rows) that the subtasks replay before any new input (0 once the job ran them, or without such state), and
// the number of subtasks it was taken at.
func (x *Exchange) RestoredInFlight() (rows, takenAt int) {
	takenAt = len(x.subs)
	if x.rescaledFrom > 0 {
		takenAt = x.rescaledFrom
	}
	for _, s := range x.subs {
		for _, it := range s.restored {
			if it.kind == xRows {
				rows += len(it.b.batch.Rows)
			}
		}
	}
	return rows, takenAt
}

// wmForwarder is an operator that only forwards watermarks (a GROUP BY, a regular join, a
// SinkUpsertMaterializer: no event-time state,
// no row late): whatever watermark it resumes from, its output is the same, so channel state with watermarks
// restores into it at another parallelism without floors. The watermark it forwards comes from its union,
// which starts empty there: it passes on only the watermarks replayed behind the rows of the channel state
// (replayWatermarks: per channel the one every old subtask would have reached, which the uninterrupted job
// forwarded once its subtasks processed their channel state) or, with other senders, the restored sources'
// ones, so it is never ahead of the uninterrupted job's, and no row of the channel state comes after it. A
// regular join keeps its inputs' watermarks in its operator-wide entry (the first old subtask's): every old
// subtask's union had reached them at the cut, so every new one's does once its channel state is processed,
// and the lower of the two it forwards is behind the rows of the channel state as well.
type wmForwarder interface {
	forwardsWatermarks() bool
}

func (g *groupAgg) forwardsWatermarks() bool           { return true }
func (m *miniBatchGroupAgg) forwardsWatermarks() bool  { return true }
func (c *combiningMiniBatch) forwardsWatermarks() bool { return true }

// forwardsWatermarks: a SinkUpsertMaterializer keeps no event-time state either (its TTL is processing time).
func (m *sinkMaterializer) forwardsWatermarks() bool { return true }

// forwardsWatermarks: a regular join (no interval) keeps no event-time state (its TTL is processing time).
func (j *joinOp) forwardsWatermarks() bool { return j.cfg.Interval == nil && !j.cfg.Batch }

// forgetWatermarks makes a regular join resume, at a restore at another parallelism, from no watermark, as
// its union does: the operator-wide entry it restored is the first old subtask's, and a watermark of the
// replayed ones at or behind it would not be forwarded (the job's downstream operators would wait for the
// next one).
func (j *joinOp) forgetWatermarks() {
	if j.forwardsWatermarks() {
		j.wm[0], j.wm[1], j.lastWM = minWatermark, minWatermark, minWatermark
	}
}

// forwardsOnly reports whether every subtask's operator only forwards watermarks (wmForwarder).
func (x *Exchange) forwardsOnly() bool {
	for _, s := range x.subs {
		if f, ok := StateOf(s.op).(wmForwarder); !ok || !f.forwardsWatermarks() {
			return false
		}
	}
	return len(x.subs) > 0
}

// rescaledWatermarkRefused is the error of a restore at another parallelism of channel state holding
// watermarks (nums: the checkpoint's header, keyed subtasks first).
func rescaledWatermarkRefused(nums []uint64, x *Exchange) error {
	return fmt.Errorf("this unaligned checkpoint ('execution.checkpointing.unaligned.enabled') holds watermarks in flight to its %d keyed subtasks, which took their barriers at different event times; it restores only at that parallelism (here %d): restore it at %d, take a savepoint there (savepoints are always aligned) and restore that one at the new parallelism",
		nums[0], len(x.subs), nums[0])
}

// replayWatermarks queues for every new subtask, behind the rows of the old channel state (redistribute),
// the watermark each channel had reached once every old subtask processed its channel state: per channel the
// highest of the old subtasks' union watermarks at the cut (unions, per old subtask) and of the channel's
// watermarks in flight (all). A subtask then fires the windows the old ones had fired by then before any
// new input, as the job would have without the restore (rows the restored sources send for a key group that
// was behind are late as they would have been). Only when no side's senders changed (a channel is the same
// one before and after; otherwise the restored sources' watermarks come first).
func (x *Exchange) replayWatermarks(all [][]xItem, senders []uint64, unions [][][]int64) {
	for side, sd := range x.sides {
		if senders[side] != uint64(sd.Senders) {
			return
		}
	}
	wms := make([][]int64, len(x.sides))
	for side, sd := range x.sides {
		wms[side] = make([]int64, sd.Senders)
		for c := range wms[side] {
			wms[side][c] = minWatermark
		}
	}
	for _, sides := range unions {
		for side, ws := range sides {
			if side >= len(wms) || len(ws) != len(wms[side])+1 {
				continue
			}
			for c, wm := range ws[:len(ws)-1] {
				wms[side][c] = max(wms[side][c], wm)
			}
		}
	}
	for _, items := range all {
		for _, it := range items {
			if it.kind == xWatermark && it.wm > IdleWatermark && int(it.from) < len(wms[it.side]) {
				wms[it.side][it.from] = max(wms[it.side][it.from], it.wm)
			}
		}
	}
	for _, s := range x.subs {
		for side, ws := range wms {
			for c, wm := range ws {
				if wm > IdleWatermark {
					s.restored = append(s.restored, xItem{kind: xWatermark, side: uint8(side), from: int32(c), wm: wm})
				}
			}
		}
	}
}

// GuardChannelState returns the reader to restore op from: r itself for an exchange's operator, and for any
// other (a keyed operator without an exchange: the job runs at parallelism 1) r refusing the channel state of
// an unaligned checkpoint taken behind an exchange, which it has no queues to replay into.
func GuardChannelState(op state.Snapshotter, r state.Reader) state.Reader {
	if _, ok := op.(*exchangeState); ok {
		return r
	}
	return &channelGuard{r: r}
}

// channelGuard is GuardChannelState's reader.
type channelGuard struct{ r state.Reader }

func (g *channelGuard) Next() (ns uint8, key, value []byte, ok bool, err error) {
	ns, key, value, ok, err = g.r.Next()
	if err != nil || !ok || ns != nsChannel {
		return ns, key, value, ok, err
	}
	subs, at := "its keyed subtasks", "the parallelism it was taken at"
	if len(key) == 1 && key[0] == 0 && len(value) > 1 && value[0] == stateVersion {
		if n, k := binary.Uvarint(value[1:]); k > 0 {
			subs, at = fmt.Sprintf("its %d keyed subtasks", n), fmt.Sprint(n)
		}
	}
	return 0, nil, nil, false, fmt.Errorf("this unaligned checkpoint ('execution.checkpointing.unaligned.enabled') holds rows in flight to %s behind an exchange, and at parallelism 1 this job runs the operator without an exchange to replay them into: restore it at a parallelism of 2 or more, or restore it at %s, take a savepoint there (savepoints are always aligned) and restore that one at parallelism 1", subs, at)
}
