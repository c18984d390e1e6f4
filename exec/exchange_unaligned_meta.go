package exec

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/state"
)

// Per-subtask operator-wide entries of unaligned checkpoints. A keyed operator's state holds one operator-wide
// entry (namespace nsMeta, empty key: the watermark up to which windows fired or timers ran, the late-row
// count, ...): the first subtask's is written (parWriter) and a restore hands it to every subtask. With aligned
// barriers every subtask took its barrier after the same watermarks (broadcast on every channel), so their
// entries agree. An unaligned barrier goes to the head of each subtask's queue wherever that subtask is: one
// subtask may have processed a watermark that is still queued (overtaken, channel state) for another. Handed
// the first subtask's entry, that other subtask restored a watermark past the rows in its channel state and
// dropped them as late when they were replayed (windows lost), or one behind windows it had already fired.
//
// So a checkpoint with channel state also writes every other subtask's operator-wide entries as it had them
// at its barrier (key {2, subtask} in namespace nsChannel: the version, then per entry its length and value),
// and a restore at the same parallelism hands each subtask its own. A checkpoint without channel state writes
// none (the aligned format); a restore at another parallelism hands every subtask the first one's (as before).

// NoSubtaskMetas leaves the per-subtask operator-wide entries and union watermarks out of checkpoints (a
// test hook: restored, every subtask gets the first one's entry and an empty union, as before).
var NoSubtaskMetas = false

// metaTee writes a subtask's entries to w but keeps its operator-wide entries in metas instead.
type metaTee struct {
	w     state.Writer
	metas []stateEntry
}

func (t *metaTee) Put(ns uint8, key, value []byte) error {
	if ns == nsMeta && len(key) == 0 {
		t.metas = append(t.metas, stateEntry{ns: ns, value: append([]byte(nil), value...)})
		return nil
	}
	return t.w.Put(ns, key, value)
}

// splitMetas separates the entries of subtask snapshot es (written unfiltered) into the others and its
// operator-wide ones.
func splitMetas(es []stateEntry) (rest, metas []stateEntry) {
	for _, e := range es {
		if e.ns == nsMeta && len(e.key) == 0 {
			metas = append(metas, e)
		} else {
			rest = append(rest, e)
		}
	}
	return rest, metas
}

// writeMetas writes the operator-wide entries of the subtasks after the first (metas, per subtask).
func writeMetas(metas [][]stateEntry, w state.Writer) error {
	if NoSubtaskMetas {
		return nil
	}
	for k, ms := range metas {
		if k == 0 || ms == nil {
			continue
		}
		v := []byte{stateVersion}
		v = binary.AppendUvarint(v, uint64(len(ms)))
		for _, m := range ms {
			v = binary.AppendUvarint(v, uint64(len(m.value)))
			v = append(v, m.value...)
		}
		if err := w.Put(nsChannel, binary.AppendUvarint([]byte{2}, uint64(k)), v); err != nil {
			return err
		}
	}
	return nil
}

// readMetas takes the per-subtask operator-wide entries and union watermarks out of an exchange's channel
// state: per subtask of n (nil: none written, or the checkpoint was taken at another parallelism). Taken at
// another parallelism, the operator-wide entries are in old instead, per subtask it was taken at (the first
// one's is not there: it is the operator's own), and the union watermarks per subtask it was taken at
// (exchange_unaligned_rescale_floor.go).
func readMetas(chans []stateEntry, n int) (rest []stateEntry, metas [][]stateEntry, unions [][][]int64, old [][]stateEntry, err error) {
	subs := -1
	if len(chans) > 0 && len(chans[0].key) == 1 && chans[0].key[0] == 0 && len(chans[0].value) > 1 {
		if v, k := binary.Uvarint(chans[0].value[1:]); k > 0 {
			subs = int(v)
		}
	}
	for _, e := range chans {
		if len(e.key) == 0 || e.key[0] != 2 && e.key[0] != 3 {
			rest = append(rest, e)
			continue
		}
		k, kn := binary.Uvarint(e.key[1:])
		if e.key[0] == 3 {
			sides, err := decodeUnions(e.value)
			if err != nil || kn <= 0 || subs < 0 || k >= uint64(subs) {
				return nil, nil, nil, nil, errChannelState
			}
			if unions == nil {
				unions = make([][][]int64, subs) // at another parallelism: the old subtasks'
			}
			unions[k] = sides
			continue
		}
		if kn <= 0 || len(e.value) == 0 || e.value[0] != stateVersion || subs < 0 || k >= uint64(subs) {
			return nil, nil, nil, nil, errChannelState
		}
		src := e.value[1:]
		cnt, cn := binary.Uvarint(src)
		if cn <= 0 || cnt > uint64(len(src)) {
			return nil, nil, nil, nil, errChannelState
		}
		src = src[cn:]
		var ms []stateEntry
		for range cnt {
			l, ln := binary.Uvarint(src)
			if ln <= 0 || l > uint64(len(src)-ln) {
				return nil, nil, nil, nil, errChannelState
			}
			ms = append(ms, stateEntry{ns: nsMeta, value: src[ln : ln+int(l)]})
			src = src[ln+int(l):]
		}
		if len(src) != 0 {
			return nil, nil, nil, nil, errChannelState
		}
		if subs != n {
			// restored at another parallelism: every subtask gets the first one's (and floors,
			// exchange_unaligned_rescale_floor.go)
			if old == nil {
				old = make([][]stateEntry, subs)
			}
			old[k] = ms
			continue
		}
		if metas == nil {
			metas = make([][]stateEntry, n)
		}
		metas[k] = ms
	}
	return rest, metas, unions, old, nil
}

// withMetas returns subtask i's entries per with its operator-wide entries replaced by ms (in place of the
// first of them).
func withMetas(per []stateEntry, ms []stateEntry) []stateEntry {
	out := make([]stateEntry, 0, len(per)+len(ms))
	done := false
	for _, e := range per {
		if e.ns == nsMeta && len(e.key) == 0 {
			if !done {
				out, done = append(out, ms...), true
			}
			continue
		}
		out = append(out, e)
	}
	if !done {
		out = append(ms, out...)
	}
	return out
}

// The keyed subtasks' unions (one per side: the minimum watermark over its channels) are not part of the
// operator's state: restored after an aligned cut they start empty, the operator's own entry holding the
// watermark it had. After an unaligned cut a subtask may be behind another (its channel state holds the
// watermarks it had not processed): an empty union would hold its windows back until every channel sent a
// newer watermark. So a checkpoint with channel state writes every subtask's union watermarks at its barrier
// (key {3, subtask}: the version, then per side the channels' watermarks and the one sent on), and a restore at
// the same parallelism gives them back.

// unionWatermarks returns subtask s's union watermarks per side: the channels', then the one sent on.
func unionWatermarks(s *xSub) [][]int64 {
	out := make([][]int64, len(s.ins))
	for side, ins := range s.ins {
		if len(ins) == 0 {
			continue
		}
		if u, ok := ins[0].(*unionInput); ok {
			out[side] = append(append([]int64(nil), u.u.wms...), u.u.emitted)
		}
	}
	return out
}

// writeUnions writes the subtasks' union watermarks recorded at barrier b.
func writeUnions(wms [][][]int64, w state.Writer) error {
	if NoSubtaskMetas {
		return nil
	}
	for k, sides := range wms {
		if sides == nil {
			continue
		}
		v := []byte{stateVersion}
		v = binary.AppendUvarint(v, uint64(len(sides)))
		for _, ws := range sides {
			v = binary.AppendUvarint(v, uint64(len(ws)))
			for _, x := range ws {
				v = binary.AppendVarint(v, x)
			}
		}
		if err := w.Put(nsChannel, binary.AppendUvarint([]byte{3}, uint64(k)), v); err != nil {
			return err
		}
	}
	return nil
}

// decodeUnions decodes one subtask's union watermarks (writeUnions).
func decodeUnions(v []byte) ([][]int64, error) {
	if len(v) == 0 || v[0] != stateVersion {
		return nil, errChannelState
	}
	src := v[1:]
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, errChannelState
	}
	src = src[k:]
	sides := make([][]int64, n)
	for i := range sides {
		c, k := binary.Uvarint(src)
		if k <= 0 || c > uint64(len(src)) {
			return nil, errChannelState
		}
		src = src[k:]
		for range c {
			x, k := binary.Varint(src)
			if k <= 0 {
				return nil, errChannelState
			}
			sides[i], src = append(sides[i], x), src[k:]
		}
	}
	if len(src) != 0 {
		return nil, errChannelState
	}
	return sides, nil
}

// restoreUnions gives the subtasks' unions the watermarks they had at the barrier (per subtask; nil: none).
// A channel ended then is not marked ended: the restored source ends it again.
func (x *Exchange) restoreUnions(wms [][][]int64) error {
	for k, sides := range wms {
		if sides == nil {
			continue
		}
		s := x.subs[k]
		if len(sides) != len(s.ins) {
			return errChannelState
		}
		for side, ws := range sides {
			ins := s.ins[side]
			if len(ins) == 0 {
				continue
			}
			u, ok := ins[0].(*unionInput)
			if !ok || len(ws) != len(u.u.wms)+1 {
				return errChannelState
			}
			copy(u.u.wms, ws)
			u.u.emitted = ws[len(ws)-1]
		}
	}
	return nil
}
