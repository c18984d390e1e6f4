package exec

import (
	"fmt"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Channel state with watermarks restored at another number of senders (the source subtasks feeding the
// exchange changed in number): a channel before is not one after, so the watermarks in flight are not
// replayed (replayWatermarks), and the restored sources' watermarks come first. An old subtask would have
// reached, once it processed its channel state, per channel the highest of its union watermark at the cut
// and the channel's watermarks in flight, and the lowest of those over its channels; a row the restored
// sources send for one of its key groups at or behind that watermark is late in the uninterrupted job. So
// every new subtask keeps, for the rows after its channel state (replayRestored), per key group the higher of
// its fired watermark (the floor, exchange_unaligned_rescale_floor.go) and the one its old subtask would
// have reached. The windows between them fire once the restored sources' watermarks pass (as new input
// would have them fire). HOP and CUMULATE slices (a row of theirs belongs to windows at or behind that
// watermark, which the old subtask had fired without it, and to windows after it, which count it): once the
// channel state is processed, fireAhead (window_slice_floor.go) emits from the state as it is every key
// group's windows after its fired floor and at or behind that watermark, and their output floor is that
// watermark from then on; a row behind it for all its windows is late, one behind it for some counts in the
// others only (the windows behind fire again when the subtask's watermark passes, their output dropped), as
// Flink's slicing rule in the uninterrupted job. A checkpoint taken while these floors are on records them:
// for HOP/CUMULATE as fired watermarks (key {4}: those windows were emitted), for the other operators as
// late floors of every row (key {5}, writeLateFloors; restoreLate), so a second restore at any parallelism
// keeps them. A CUMULATE window fired merges every slice of its period before it the first slice does not
// hold yet (a restore resumed from a key group's floor may not have fired the window of such a slice).

// lateFloors installs those per-key-group watermarks (all: the old subtasks' items, allK: their old
// subtask; senders: the old number per side; unions: per old subtask its union watermarks at the cut). It
// leaves the subtasks as they are when an operator does not take floors or a union is missing.
func (x *Exchange) lateFloors(all [][]xItem, allK []int, olds int, senders []uint64, unions [][][]int64) {
	if len(unions) != olds || !x.keyedSides() {
		return
	}
	reach := make([]int64, olds)
	for k := range olds {
		w := int64(changelog.MaxWatermark)
		for side := range x.sides {
			if side >= len(unions[k]) || len(unions[k][side]) != int(senders[side])+1 {
				return
			}
			for c, cw := range unions[k][side][:senders[side]] {
				for i, items := range all {
					if allK[i] != k {
						continue
					}
					for _, it := range items {
						if it.kind == xWatermark && int(it.side) == side && int(it.from) == c && it.wm > IdleWatermark {
							cw = max(cw, it.wm)
						}
					}
				}
				w = min(w, cw)
			}
		}
		reach[k] = w
	}
	ops := make([]floorable, len(x.subs))
	for j, s := range x.subs {
		op, ok := StateOf(s.op).(floorable)
		if !ok || !op.canFloor() {
			return
		}
		if !x.outFloorOK(op) {
			return
		}
		ops[j] = op
	}
	n := len(x.subs)
	for j, s := range x.subs {
		f := s.floors
		if f == nil {
			f = &xFloors{op: ops[j], kg: make([]int64, x.maxPar), max: minWatermark}
			for g := range f.kg {
				f.kg[g] = minWatermark
			}
		}
		base := ops[j].firedWM()
		f.after, f.hasAfter = make([]int64, x.maxPar), f.hasKG
		for g := range f.after {
			f.after[g] = f.kg[g]
			if Subtask(g, x.maxPar, n) != j {
				continue
			}
			if l := reach[Subtask(g, x.maxPar, olds)]; l > base && l > f.after[g] {
				f.after[g], f.hasAfter = l, true
			}
			f.max = max(f.max, f.after[g])
		}
		if s.floors == nil && !f.hasAfter {
			continue
		}
		if of, ok := ops[j].(outFloorer); ok && s.floors == nil {
			drop, _ := x.outFloorDrop(of, of.outEndCol(), f)
			of.floorOutput(drop)
		}
		x.mu.Lock()
		if s.floors == nil {
			s.floorBase = base // writeFloors
		}
		s.floors = f
		x.mu.Unlock()
	}
}

// aheadFirer is an outFloorer that emits the windows its key groups' old subtasks would have fired before
// the rows after the channel state (HOP and CUMULATE slices, window_slice_floor.go).
type aheadFirer interface {
	outFloorer
	fireAhead(wm int64, drop func([]types.Value) bool) error
}

// fireAfter is called once subtask s processed its channel state (f: its floors): an aheadFirer emits the
// windows of every key group ending after its fired floor and at or behind its after floor.
func (x *Exchange) fireAfter(f *xFloors) error {
	op, ok := f.op.(aheadFirer)
	if !ok || f.after == nil || !f.hasAfter {
		return nil
	}
	group, ok := x.outKeyGroup(op)
	if !ok {
		return nil
	}
	end := op.outEndCol()
	return op.fireAhead(slices.Max(f.after), func(row []types.Value) bool {
		g, e := group(row), row[end].I-1
		return e <= f.kg[g] || e > f.after[g]
	})
}

// floorOf returns the floor of key group g: its fired watermark for the rows of the channel state, and the
// higher of that and the one its old subtask would have reached for the rows after (lateFloors).
// A checkpoint's after floors (late, restoreLate) apply to every row.
func (f *xFloors) floorOf(g int) int64 {
	fl := f.kg[g]
	if f.replayed && f.after != nil {
		fl = f.after[g]
	}
	if f.late != nil {
		fl = max(fl, f.late[g])
	}
	return fl
}

// floored reports whether some key group of the subtask has a floor for the rows pushed next.
func (f *xFloors) floored() bool {
	if f.hasLate {
		return true
	}
	if f.replayed && f.after != nil {
		return f.hasAfter
	}
	return f.hasKG
}

// Channel state with watermarks restored at the same number of keyed subtasks but another number of senders:
// every subtask owns the key groups it had and gets its own operator-wide entry (exchange_unaligned_meta.go),
// so it resumes from the watermark it had fired up to and needs no floors for the rows of its channel state;
// the union watermarks do not fit the new channels (they are not restored), and the watermarks in flight are
// not replayed, so the rows after the channel state keep the late floors above (lateFloors), as at another
// number of subtasks. Operators that cannot take those refuse, naming the senders to restore with.

// sendersChanged checks that operators can take such a restore (fs: the old subtasks' entries and unions).
func (x *Exchange) sendersChanged(nums []uint64, fs *floorSource) error {
	if fs == nil || !fs.own || len(fs.unions) != int(nums[0]) || !x.keyedSides() {
		return sendersWatermarkRefused(nums, x)
	}
	for _, s := range x.subs {
		if op, ok := StateOf(s.op).(floorable); !ok || !op.canFloor() || !x.outFloorOK(op) {
			return sendersWatermarkRefused(nums, x)
		}
	}
	return nil
}

// sendersWatermarkRefused is the error of a restore with other senders of channel state holding watermarks
// (nums: the checkpoint's header, keyed subtasks first, then the number of sides and every side's senders).
func sendersWatermarkRefused(nums []uint64, x *Exchange) error {
	old, now := "", ""
	for i, sd := range x.sides {
		if i > 0 {
			old, now = old+", ", now+", "
		}
		old += fmt.Sprint(nums[2+i])
		now += fmt.Sprint(sd.Senders)
	}
	return fmt.Errorf("this unaligned checkpoint ('execution.checkpointing.unaligned.enabled') holds watermarks in flight to its %d keyed subtasks from %s source subtasks, which took their barriers at different event times; this operator restores it only from as many source subtasks (here %s): restore it with its sources at the parallelism they had, take a savepoint there (savepoints are always aligned) and restore that one",
		nums[0], old, now)
}

// sameHeaderSenders reports whether the header of channel state chans names the sides' numbers of senders
// (true when it does not decode: restoreChannels reports it).
func (x *Exchange) sameHeaderSenders(chans []stateEntry) bool {
	if len(chans) == 0 {
		return true
	}
	nums, err := channelHeader(chans)
	if err != nil || nums[1] != uint64(len(x.sides)) {
		return true
	}
	return sameSenders(nums[2:], x.sides)
}
