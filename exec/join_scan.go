package exec

import (
	"bytes"
	"cmp"
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// Operations of a join over all of a side's keys: interval pruning, padding at the end, the batch join.

// slotList returns the occupied slots of side s (j.slotBuf), in key order when sorted (the order of the
// snapshot keys, so that output that follows it is the same in a restored run).
func (j *joinOp) slotList(s int, sorted bool) []int {
	st := &j.sides[s].st
	out := j.slotBuf[:0]
	for i, v := range st.slots {
		if v != 0 {
			out = append(out, i)
		}
	}
	j.slotBuf = out
	if sorted {
		sort.Slice(out, func(a, b int) bool { return j.keyLess(st.record(out[a]).key, st.record(out[b]).key) })
	}
	return out
}

// keyLess orders stored keys as their snapshot keys sort (the NULL key last).
func (j *joinOp) keyLess(a, b []byte) bool {
	if j.kcats == nil {
		return bytes.Compare(a, b) < 0
	}
	an, bn := string(a) == nullCompactKey, string(b) == nullCompactKey
	if an || bn {
		return !an && bn
	}
	for i := range j.kcats {
		x, ra, ok1 := j.nextKeyVal(a, i)
		y, rb, ok2 := j.nextKeyVal(b, i)
		if !ok1 || !ok2 {
			return ok2 && !ok1
		}
		if c := compareKeyVals(x, y); c != 0 {
			return c < 0
		}
		a, b = ra, rb
	}
	return false
}

// compareKeyVals orders two values of one compact key category as their key encodings sort.
func compareKeyVals(x, y types.Value) int {
	if x.T == types.TagString {
		return strings.Compare(x.S, y.S)
	}
	if x.I != y.I {
		return cmp.Compare(x.I, y.I)
	}
	return cmp.Compare(uint32(x.N), uint32(y.N))
}

func (j *joinOp) isNullKey(key []byte) bool {
	if j.kcats != nil {
		return string(key) == nullCompactKey
	}
	return string(key) == nullJoinKey
}

// deleteKeys removes keys (collected during a scan) from side s.
func (j *joinOp) deleteKeys(s int, keys [][]byte) {
	st := &j.sides[s].st
	for _, k := range keys {
		if slot, ok := st.find(k, st.hash(k)); ok {
			st.deleteSlot(slot)
		}
	}
	st.tidy()
}

// prune drops the rows no future row can join: rows of the other side still to come have times after w, so
// a left row l is done when l.t - Lower < w, and a right row r when r.t + Upper < w. A row of an outer side
// that goes without ever having matched is emitted NULL-padded now (Flink's interval outer join: padded rows
// come when the interval closes, so the output is insert-only).
func (j *joinOp) prune(w int64) error {
	if !j.fullPrune {
		return j.pruneIndexed(w) // the same, visiting only the keys with rows to drop (join_expiry.go)
	}
	return j.pruneAll(w)
}

// pruneAll is prune by a scan of every key of both sides (the reference for pruneIndexed; tests).
func (j *joinOp) pruneAll(w int64) error {
	iv := j.cfg.Interval
	j.ob.Reset()
	j.arena = j.arena[:0]
	for s := 0; s < 2; s++ {
		sd := &j.sides[s]
		var dead [][]byte
		for _, i := range j.slotList(s, sd.outer) {
			r := sd.st.record(i)
			kv := j.keyVals(r.key)
			empty := j.filterBucket(s, i, kv, func(it *jsIter) bool {
				j.pruneVisits++
				vals := j.rowVals(s, it.row(), kv, 0)
				var done bool
				if s == 0 {
					t := vals[iv.LeftTime]
					done = !t.IsNull() && t.I-iv.Lower < w
				} else {
					t := vals[iv.RightTime]
					done = !t.IsNull() && t.I+iv.Upper < w
				}
				if done && j.changed != nil { // join_keyed.go
					j.noteRow(s, r.key, vals[[2]int{iv.LeftTime, iv.RightTime}[s]])
				}
				if done && sd.outer && it.assoc() == 0 {
					for range it.count() {
						j.pair(s, vals, nil, changelog.Insert)
					}
				}
				return !done
			})
			if empty {
				dead = append(dead, r.key)
			}
		}
		j.deleteKeys(s, dead)
	}
	return j.flushPadded()
}

// flushPadded pushes the NULL-padded rows prune or end collected.
func (j *joinOp) flushPadded() error {
	if len(j.ob.Rows) == 0 {
		return nil
	}
	return j.out.Push(&j.ob)
}

// padUnmatched emits, NULL-padded, every row of an outer side that never matched (an interval outer join at
// the end of its input: no interval is open any more).
func (j *joinOp) padUnmatched() error {
	j.ob.Reset()
	j.arena = j.arena[:0]
	for s := 0; s < 2; s++ {
		sd := &j.sides[s]
		if !sd.outer {
			continue
		}
		for _, i := range j.slotList(s, true) { // a deterministic order
			r := sd.st.record(i)
			kv := j.keyVals(r.key)
			for it := sd.st.iter(&r); it.next(); {
				if it.assoc() == 0 {
					vals := j.rowVals(s, it.row(), kv, 0)
					for range it.count() {
						j.pair(s, vals, nil, changelog.Insert)
					}
				}
			}
		}
	}
	return j.flushPadded()
}

// StateRows returns the number of distinct rows held in state on each side (for tests and metrics).
func (j *joinOp) StateRows() (left, right int) {
	var n [2]int
	for s := range 2 {
		st := &j.sides[s].st
		for i, v := range st.slots {
			if v == 0 {
				continue
			}
			r := st.record(i)
			if bb := r.big(st); bb != nil {
				n[s] += bb.rows
				continue
			}
			for it := st.iter(&r); it.next(); {
				n[s]++
			}
		}
	}
	return n[0], n[1]
}

func (j *joinOp) end(s int) error {
	if j.sides[s].ended {
		return nil
	}
	j.sides[s].ended = true
	if !j.sides[1-s].ended {
		return nil
	}
	if j.cfg.Batch {
		if err := j.batchJoin(); err != nil {
			return err
		}
		if j.cfg.FinalState != nil {
			if err := j.writeFinalState(j.cfg.FinalState); err != nil {
				return fmt.Errorf("join: final state: %w", err)
			}
		}
		if err := j.out.Watermark(changelog.MaxWatermark); err != nil {
			return err
		}
	} else if j.cfg.Interval != nil {
		if err := j.padUnmatched(); err != nil {
			return err
		}
	}
	return j.out.End()
}

// batchJoin emits the final join of the buffered inputs as +I rows, in key order.
func (j *joinOp) batchJoin() error {
	left, right := &j.sides[0], &j.sides[1]
	flush := func() error {
		if len(j.ob.Rows) >= 1024 {
			if err := j.out.Push(&j.ob); err != nil {
				return err
			}
			j.ob.Reset()
			j.arena = j.arena[:0]
		}
		return nil
	}
	j.ob.Reset()
	j.arena = j.arena[:0]
	for _, i := range append([]int(nil), j.slotList(0, true)...) {
		lr := left.st.record(i)
		kv := j.keyVals(lr.key)
		var rr jsRecord
		found := false
		if !j.isNullKey(lr.key) {
			if ri, ok := right.st.find(lr.key, right.st.hash(lr.key)); ok {
				rr, found = right.st.record(ri), true
			}
		}
		for lit := left.st.iter(&lr); lit.next(); {
			n := 0
			lvals := j.rowVals(0, lit.row(), kv, 0)
			if found {
				for rit := right.st.iter(&rr); rit.next(); {
					rvals := j.rowVals(1, rit.row(), kv, 1)
					ok, err := j.matches(0, lvals, rvals)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					rit.setAssoc(rit.assoc() + 1)
					for range lit.count() * rit.count() {
						j.emit(changelog.Insert, lvals, rvals)
						n++
						if err := flush(); err != nil {
							return err
						}
					}
				}
			}
			if n == 0 && left.outer {
				for range lit.count() {
					j.emit(changelog.Insert, lvals, nil)
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	if right.outer {
		for _, i := range j.slotList(1, true) {
			rr := right.st.record(i)
			kv := j.keyVals(rr.key)
			for it := right.st.iter(&rr); it.next(); {
				if it.assoc() > 0 {
					continue
				}
				rvals := j.rowVals(1, it.row(), kv, 1)
				for range it.count() {
					j.emit(changelog.Insert, nil, rvals)
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	if len(j.ob.Rows) > 0 {
		return j.out.Push(&j.ob)
	}
	return nil
}
