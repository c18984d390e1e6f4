package exec

import "fmt"

// A restore of an unaligned checkpoint's channel state at another parallelism (Flink 1.13+ redistributes
// in-flight data the same way): the exchange's keyed subtasks or its senders (the source subtasks feeding a
// side) changed in number. Every row of the old subtasks' in-flight items is routed to the new subtask that
// owns it, by the exchange's own routing (ExchangeSender.route: the key group of the row's key, or round robin
// for a side that deals rows), in the order of the old items: all rows of a key were in one old subtask, in
// channel order, and stay in that order. A row goes to the new union input of its old sender modulo the new
// number of senders (rows only count there; the channels' watermarks and ends come from the restored sources).
// A checkpoint whose channel state holds watermarks is refused at another parallelism: its subtasks took
// their barriers after different watermarks (the one behind had the newer one in flight), so their
// operator-wide entries (fired watermark, exchange_unaligned_meta.go) differ, and a new subtask owning key
// groups of several old ones has no single watermark that neither drops their in-flight rows as late nor
// re-opens windows another one fired.

// redistribute hands the new subtasks the rows of old's items (per old subtask, in queue order) taken at
// subs subtasks.
func (x *Exchange) redistribute(old [][]xItem, subs int) {
	x.rescaledFrom = subs
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

// rescaledWatermarkRefused is the error of a restore at another parallelism of channel state holding
// watermarks (nums: the checkpoint's header, keyed subtasks first).
func rescaledWatermarkRefused(nums []uint64, x *Exchange) error {
	return fmt.Errorf("this unaligned checkpoint ('execution.checkpointing.unaligned.enabled') holds watermarks in flight to its %d keyed subtasks, which took their barriers at different event times; it restores only at that parallelism (here %d): restore it at %d, take a savepoint there (savepoints are always aligned) and restore that one at the new parallelism",
		nums[0], len(x.subs), nums[0])
}
