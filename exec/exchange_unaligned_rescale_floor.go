package exec

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Channel state holding watermarks restored at another number of keyed subtasks. The old subtasks took their
// barriers after different watermarks (one processed a watermark another still had in flight), so each had
// fired its windows up to its own watermark: their operator-wide entries (the first subtask's in the
// operator's state, the others' in the channel state, exchange_unaligned_meta.go) differ. A new subtask owns
// key groups of several old ones. It resumes from the lowest of their fired watermarks (setFired: the rows of
// the channel state of a key group behind are not late) and holds, per key group, the watermark its old
// subtask had fired up to: a row of a key group ahead whose windows all end at or before that floor is late
// (its window fired before the cut; the new subtask does not open it again). Restored state holds no window
// a key group fired (a window's state goes when it fires), so firing is the same. The floors go once every
// subtask's watermark passed the highest of them and no checkpoint is under way; until then a checkpoint
// records every key group's fired watermark (key {4} in namespace nsChannel: the version, the number of key
// groups, then per key group a varint), so a restore at any parallelism gets the floors again.
//
// The operators that take floors (floorable) drop late rows by the end of their window alone and keep no
// state of a window that fired: the window aggregates (per window, per slice of a TUMBLE window, per
// session), the session window assigner, window joins (both sides: every row's key group by its side's
// keys), window Top-N / ranks, interval joins (join_floor.go: a row probes and is stored as behind its key
// group's floor; their state holds no row the old subtask had expired) and event-time OVER aggregates
// (over_floor.go: their state holds no row at or behind the old subtask's watermark) and event-time
// MATCH_RECOGNIZE (match_floor.go: the same, its rows fed to the matcher living only in partial matches).
// HOP and CUMULATE slices keep slices of windows that fired with windows that did not, so a new subtask resumed from a lower watermark would fire a key group's window again: while
// floors are on, their output drops the rows of a window at or behind its key group's floor (outFloorer;
// the exchange's key must be in their group key; with another number of senders they also emit the windows
// up to the after floor at once, exchange_unaligned_rescale_late.go). Others (event-time temporal
// joins...; exchanges with a side that deals rows) keep the refusal (rescaledWatermarkRefused); a GROUP BY or
// a regular join needs no floors (wmForwarder, exchange_unaligned_rescale.go).

// floorable is an operator that resumes from per-key-group fired watermarks.
type floorable interface {
	canFloor() bool
	firedWM() int64             // the watermark up to which it fired
	setFired(wm int64)          // resume from wm
	setFloor(wm int64, on bool) // the rows pushed next are late at or behind wm as well (on)
}

// wmFloor is the floor of the rows pushed next, embedded in floorable operators.
type wmFloor struct {
	floorOn bool
	floorWM int64
}

func (f *wmFloor) setFloor(wm int64, on bool) { f.floorOn, f.floorWM = on, wm }

// belowFloor reports whether a row whose windows all end by t+1 is late by the floor.
func (f *wmFloor) belowFloor(t int64) bool { return f.floorOn && t <= f.floorWM }

func (w *windowAgg) canFloor() bool           { return true }
func (w *windowAgg) firedWM() int64           { return w.fired }
func (w *windowAgg) setFired(wm int64)        { w.fired = wm }
func (w *sessionAssigner) canFloor() bool     { return true }
func (w *sessionAssigner) firedWM() int64     { return w.wm }
func (w *sessionAssigner) setFired(wm int64)  { w.wm = wm }
func (w *sessionWindowAgg) canFloor() bool    { return true }
func (w *sessionWindowAgg) firedWM() int64    { return w.fired }
func (w *sessionWindowAgg) setFired(wm int64) { w.fired = wm }
func (w *sliceWindowAgg) canFloor() bool      { return true }
func (w *sliceWindowAgg) firedWM() int64      { return w.fired }
func (w *sliceWindowAgg) setFired(wm int64)   { w.fired = wm }
func (w *windowRank) canFloor() bool          { return true }
func (w *windowRank) firedWM() int64          { return w.fired }
func (w *windowRank) setFired(wm int64)       { w.fired = wm }
func (j *windowJoin) canFloor() bool          { return true }
func (j *windowJoin) firedWM() int64          { return j.fired }

// setFired resumes the join from wm: its inputs' watermarks and the one forwarded last go no higher (a
// restored first subtask's may be ahead), so the watermarks replayed behind the rows fire their windows.
func (j *windowJoin) setFired(wm int64) {
	j.fired, j.lastWM = wm, min(j.lastWM, wm)
	j.wm[0], j.wm[1] = min(j.wm[0], wm), min(j.wm[1], wm)
}

// metaFired reads the fired watermark of a window join's operator-wide entry (SnapshotState: the inputs'
// watermarks and the one forwarded last come first).
func (j *windowJoin) metaFired(meta []byte) (int64, bool) { return metaVarint(meta, 3) }

// metaVarint reads the varint that follows the name and skip varints of an operator-wide entry.
func metaVarint(meta []byte, skip int) (int64, bool) {
	d, err := newStateDec(meta)
	if err != nil {
		return 0, false
	}
	d.str()
	for range skip {
		d.varint()
	}
	v := d.varint()
	return v, d.err == nil
}

// metaFirer is a floorable operator whose operator-wide entry is not putWindowMeta's layout.
type metaFirer interface {
	metaFired(meta []byte) (int64, bool)
}

// outFloorer is a floorable operator whose state holds windows that fired with windows that did not (HOP and
// CUMULATE slices: a slice belongs to several windows): resumed from a lower watermark it would fire a key
// group's windows again, so while floors are on its output drops the rows of a window that ended at or
// behind its key group's floor.
type outFloorer interface {
	floorsOutput() bool                        // it is one (a TUMBLE slice is not: it keeps no fired window)
	groupKeyCols() []int                       // the input columns of the group key: the output's first columns
	outEndCol() int                            // the output's column of window_end
	floorOutput(drop func([]types.Value) bool) // drop the output rows drop reports (nil: none)
}

func (w *sliceWindowAgg) floorsOutput() bool  { return w.spec.Kind != Tumble }
func (w *sliceWindowAgg) groupKeyCols() []int { return w.cfg.Keys }
func (w *sliceWindowAgg) outEndCol() int      { return w.endKey }

func (w *sliceWindowAgg) floorOutput(drop func([]types.Value) bool) {
	if fo, ok := w.out.(*floorOut); ok {
		w.out = fo.next
	}
	if drop != nil && w.spec.Kind != Tumble {
		w.out = &floorOut{next: w.out, drop: drop}
	}
}

// floorOut passes on the rows drop does not report.
type floorOut struct {
	next changelog.Output
	drop func([]types.Value) bool
	b    changelog.Batch
}

func (o *floorOut) Push(b *changelog.Batch) error {
	o.b.Rows = o.b.Rows[:0]
	for _, r := range b.Rows {
		if !o.drop(r.Vals) {
			o.b.Rows = append(o.b.Rows, r)
		}
	}
	if len(o.b.Rows) == 0 {
		return nil
	}
	return o.next.Push(&o.b)
}
func (o *floorOut) Watermark(wm int64) error { return o.next.Watermark(wm) }
func (o *floorOut) End() error               { return o.next.End() }

// outFloorDrop returns the function that reports the output rows of op (window_end in column endCol) of a
// window at or behind its key group's floor in f (nil f: none), or false when the exchange's key is not in
// op's group key.
func (x *Exchange) outFloorDrop(op outFloorer, endCol int, f *xFloors) (func([]types.Value) bool, bool) {
	group, ok := x.outKeyGroup(op)
	if !ok || f == nil {
		return nil, ok
	}
	return func(row []types.Value) bool {
		fl := f.floorOf(group(row))
		return fl != minWatermark && row[endCol].I-1 <= fl
	}, true
}

// outKeyGroup returns the function that reports the key group of an output row of op, or false when the
// exchange's key is not in op's group key.
func (x *Exchange) outKeyGroup(op outFloorer) (func([]types.Value) int, bool) {
	cols := op.groupKeyCols()
	sd := x.sides[0]
	at := make([]int, len(sd.Keys)) // per exchange key column its index in the group key
	width := 0
	for k, c := range sd.Keys {
		at[k] = slices.Index(cols, c)
		if at[k] < 0 {
			return nil, false
		}
		width = max(width, c+1)
	}
	snd, vals := x.Sender(0, 0), make([]types.Value, width)
	return func(row []types.Value) int {
		for k, c := range sd.Keys {
			vals[c] = row[at[k]]
		}
		return snd.keyGroup(vals)
	}, true
}

// outFloored reports whether op floors its output (outFloorer).
func outFloored(op floorable) bool {
	of, ok := op.(outFloorer)
	return ok && of.floorsOutput()
}

// outFloorOK reports whether op, when it is an outFloorer, can have its output floored.
func (x *Exchange) outFloorOK(op floorable) bool {
	of, ok := op.(outFloorer)
	if !ok || !of.floorsOutput() {
		return true
	}
	_, ok = x.outKeyGroup(of)
	return ok && len(x.sides) == 1
}

// xFloors is a new subtask's floors: per key group the watermark its old subtask had fired up to.
type xFloors struct {
	op    floorable
	kg    []int64 // per key group (the subtask's own above its base; minWatermark elsewhere)
	hasKG bool    // some key group of the subtask has a floor above its base
	max   int64   // the highest fired watermark of all key groups: the floors go once the subtask passed it
	// for the rows after the channel state, restored at another number of senders: per key group the
	// higher of kg and the watermark its old subtask would have reached (exchange_unaligned_rescale_late.go)
	after    []int64
	hasAfter bool // some key group of the subtask has an after floor above its base
	replayed bool // the channel state is processed: after applies
	// per key group the after floors a checkpoint taken under floors recorded (key {5}; nil: none): late
	// floors of every row, channel state included (those rows came after the first restore's)
	late    []int64
	hasLate bool
	snd     []*ExchangeSender
	b       changelog.Batch
	conv    *vec.RowConv
}

// floorSource is what a restore knows of the old subtasks' fired watermarks.
type floorSource struct {
	meta0 []byte         // the operator-wide entry in the operator's state (the first old subtask's)
	old   [][]stateEntry // per old subtask its operator-wide entries (readMetas; nil: none)
	saved []int64        // per key group, recorded by a checkpoint taken under floors (nil: none)
	late  []int64        // per key group the after floors it recorded (key {5}; nil: none)
	// per old subtask its union watermarks (readMetas; nil: none), when taken at another parallelism
	unions [][][]int64
	own    bool // taken at this number of subtasks: each subtask has its own operator-wide entry
}

// firedOfMeta reads the fired watermark of a floorable operator's operator-wide entry (appendMeta, then the
// watermark: putWindowMeta's layout, which every floorable operator writes).
func firedOfMeta(meta []byte) (int64, bool) {
	d, err := newStateDec(meta)
	if err != nil {
		return 0, false
	}
	d.str()
	wm := d.varint()
	return wm, d.err == nil
}

// floorsAtRescale installs the floors of channel state with watermarks taken at nums[0] subtasks, or returns
// the refusal when the operators cannot take them.
func (x *Exchange) floorsAtRescale(nums []uint64, fs *floorSource) error {
	if fs == nil {
		return rescaledWatermarkRefused(nums, x)
	}
	fired := fs.saved
	if fired == nil {
		if !x.keyedSides() {
			return rescaledWatermarkRefused(nums, x)
		}
		read := firedOfMeta
		if op, ok := StateOf(x.subs[0].op).(metaFirer); ok {
			read = op.metaFired
		}
		olds := int(nums[0])
		per := make([]int64, olds)
		for k := range per {
			var meta []byte
			switch {
			case k == 0:
				meta = fs.meta0
			case k < len(fs.old) && len(fs.old[k]) == 1:
				meta = fs.old[k][0].value
			}
			wm, ok := read(meta)
			if !ok {
				return rescaledWatermarkRefused(nums, x)
			}
			per[k] = wm
		}
		fired = make([]int64, x.maxPar)
		for g := range fired {
			fired[g] = per[Subtask(g, x.maxPar, olds)]
		}
	}
	if !x.installFloors(fired) {
		return rescaledWatermarkRefused(nums, x)
	}
	return nil
}

// keyedSides reports whether every side routes its rows by key (floors are per key group).
func (x *Exchange) keyedSides() bool {
	return len(x.sides) > 0 && !slices.ContainsFunc(x.sides, func(sd ExchangeSide) bool { return sd.Rebalance })
}

// installFloors gives every subtask the lowest fired watermark of its key groups and the floors of the
// others (fired: per key group); false when an operator cannot take them (nothing changed then).
func (x *Exchange) installFloors(fired []int64) bool {
	if len(fired) != x.maxPar || !x.keyedSides() {
		return false
	}
	ops := make([]floorable, len(x.subs))
	for i, s := range x.subs {
		op, ok := StateOf(s.op).(floorable)
		if !ok || !op.canFloor() {
			return false
		}
		if !x.outFloorOK(op) {
			return false
		}
		ops[i] = op
	}
	top := slices.Max(fired)
	n := len(x.subs)
	for j, s := range x.subs {
		base := int64(changelog.MaxWatermark)
		for g, wm := range fired {
			if Subtask(g, x.maxPar, n) == j {
				base = min(base, wm)
			}
		}
		ops[j].setFired(base)
		s.floorBase = base
		if top <= base {
			continue
		}
		f := &xFloors{op: ops[j], kg: make([]int64, x.maxPar), max: top}
		for g, wm := range fired {
			f.kg[g] = minWatermark
			if Subtask(g, x.maxPar, n) == j && wm > base {
				f.kg[g], f.hasKG = wm, true
			}
		}
		if of, ok := ops[j].(outFloorer); ok {
			drop, _ := x.outFloorDrop(of, of.outEndCol(), f)
			of.floorOutput(drop)
		}
		x.mu.Lock()
		s.floors = f
		x.mu.Unlock()
	}
	return true
}

// handleFloored processes item it of subtask s under floors (done: it is processed).
func (x *Exchange) handleFloored(s *xSub, it xItem) (done bool, err error) {
	f := s.floors
	switch it.kind {
	case xRows:
		if !f.floored() {
			return false, nil
		}
		return true, x.pushFloored(s, f, int(it.side), int(it.from), it.b.batch.Rows)
	case xCols:
		if !f.floored() {
			return false, nil
		}
		if f.conv == nil {
			f.conv = &vec.RowConv{}
		}
		return true, x.pushFloored(s, f, int(it.side), int(it.from), f.conv.Rows(&it.b.cols.Batch).Rows)
	case xWatermark:
		err = s.ins[it.side][it.from].Watermark(it.wm)
		if err == nil && f.op.firedWM() >= f.max {
			x.mu.Lock()
			if x.bar == nil { // a checkpoint under way writes the floors (writeFloors)
				s.floors = nil
				if of, ok := f.op.(outFloorer); ok {
					of.floorOutput(nil)
				}
			}
			x.mu.Unlock()
		}
		return true, err
	}
	return false, nil
}

// pushFloored pushes rows into channel from of side, each run of rows of the same floor with that floor set.
func (x *Exchange) pushFloored(s *xSub, f *xFloors, side, from int, rows []changelog.Row) error {
	if len(f.snd) == 0 {
		f.snd = make([]*ExchangeSender, len(x.sides))
	}
	if f.snd[side] == nil {
		f.snd[side] = x.Sender(side, 0)
	}
	snd, in := f.snd[side], s.ins[side][from]
	push := func(rs []changelog.Row, floor int64) error {
		f.b.Rows = rs
		f.op.setFloor(floor, floor != minWatermark)
		err := in.Push(&f.b)
		f.op.setFloor(0, false)
		f.b.Rows = nil
		return err
	}
	start, cur := 0, int64(minWatermark)
	for i := range rows {
		fl := f.floorOf(snd.keyGroup(rows[i].Vals))
		if i > start && fl != cur {
			if err := push(rows[start:i], cur); err != nil {
				return err
			}
			start = i
		}
		cur = fl
	}
	if start < len(rows) {
		return push(rows[start:], cur)
	}
	return nil
}

// writeFloors writes every key group's fired watermark while a subtask holds floors (b: the checkpoint's
// barrier, nil: none; the subtasks are idle, wait at it, or wrote their state at it).
func (x *Exchange) writeFloors(b *xBarrierRun, w state.Writer) error {
	x.mu.Lock()
	held := slices.ContainsFunc(x.subs, func(s *xSub) bool { return s.floors != nil })
	floors := make([]*xFloors, len(x.subs))
	for i, s := range x.subs {
		floors[i] = s.floors
	}
	var wms [][]int64
	if b != nil && b.snaps != nil {
		wms = slices.Clone(b.wms)
	}
	x.mu.Unlock()
	if !held {
		return nil
	}
	n := len(x.subs)
	v := []byte{stateVersion}
	v = binary.AppendUvarint(v, uint64(x.maxPar))
	for g := range x.maxPar {
		j := Subtask(g, x.maxPar, n)
		s := x.subs[j]
		var fired int64
		if wms != nil && len(wms[j]) > 0 {
			// state written at the barrier: fired up to its base or the watermark sent on then
			fired = max(s.floorBase, wms[j][0])
		} else if op, ok := StateOf(s.op).(floorable); ok {
			fired = op.firedWM()
		} else {
			return nil
		}
		if f := floors[j]; f != nil {
			fired = max(fired, f.kg[g])
			if outFloored(f.op) && f.replayed && f.after != nil {
				// fireAhead emitted the windows up to the after floor (exchange_unaligned_rescale_late.go)
				fired = max(fired, f.after[g])
			}
		}
		v = binary.AppendVarint(v, fired)
	}
	if err := w.Put(nsChannel, []byte{4}, v); err != nil {
		return err
	}
	return writeLateFloors(x.maxPar, n, floors, w)
}

// writeLateFloors writes, when a subtask's operator keeps after floors (exchange_unaligned_rescale_late.go)
// that are not in the fired watermarks written (not an outFloorer), per key group its after floor (key {5}:
// the version, the number of key groups, then per key group a varint; minWatermark: none), so a restore
// keeps the rows behind them late.
func writeLateFloors(maxPar, n int, floors []*xFloors, w state.Writer) error {
	some := slices.ContainsFunc(floors, func(f *xFloors) bool {
		if f == nil {
			return false
		}
		return !outFloored(f.op) && (f.replayed && f.hasAfter || f.hasLate)
	})
	if !some {
		return nil
	}
	v := []byte{stateVersion}
	v = binary.AppendUvarint(v, uint64(maxPar))
	for g := range maxPar {
		late := int64(minWatermark)
		if f := floors[Subtask(g, maxPar, n)]; f != nil {
			if !outFloored(f.op) {
				if f.replayed && f.after != nil {
					late = f.after[g]
				}
				if f.late != nil {
					late = max(late, f.late[g])
				}
			}
		}
		v = binary.AppendVarint(v, late)
	}
	return w.Put(nsChannel, []byte{5}, v)
}

// takeFloors takes the key groups' fired watermarks (writeFloors) out of an exchange's channel state.
func takeFloors(chans []stateEntry, maxPar int) (rest []stateEntry, fired []int64, err error) {
	rest, fired, _, err = takeFloorsLate(chans, maxPar)
	return rest, fired, err
}

// takeFloorsLate is takeFloors that takes the after floors (writeLateFloors) out as well.
func takeFloorsLate(chans []stateEntry, maxPar int) (rest []stateEntry, fired, late []int64, err error) {
	for _, e := range chans {
		if len(e.key) != 1 || e.key[0] != 4 && e.key[0] != 5 {
			rest = append(rest, e)
			continue
		}
		wms, err := decodeFloors(e.value, maxPar)
		if err != nil {
			return nil, nil, nil, err
		}
		if e.key[0] == 4 {
			fired = wms
		} else {
			late = wms
		}
	}
	return rest, fired, late, nil
}

// decodeFloors decodes a value of writeFloors or writeLateFloors.
func decodeFloors(v []byte, maxPar int) ([]int64, error) {
	if len(v) == 0 || v[0] != stateVersion {
		return nil, errChannelState
	}
	src := v[1:]
	n, k := binary.Uvarint(src)
	if k <= 0 || n != uint64(maxPar) {
		return nil, errChannelState
	}
	src = src[k:]
	wms := make([]int64, maxPar)
	for g := range wms {
		wm, k := binary.Varint(src)
		if k <= 0 {
			return nil, errChannelState
		}
		wms[g], src = wm, src[k:]
	}
	if len(src) != 0 {
		return nil, errChannelState
	}
	return wms, nil
}

// restoreFloors installs the floors a checkpoint taken under floors recorded, unless restoreChannels did.
func (x *Exchange) restoreFloors(fs *floorSource) error {
	if fs.saved == nil || slices.ContainsFunc(x.subs, func(s *xSub) bool { return s.floors != nil }) {
		return x.restoreLate(fs.late)
	}
	if !x.installFloors(fs.saved) {
		return fmt.Errorf("%w: the checkpoint holds per-key-group watermarks of an unaligned checkpoint restored at another parallelism, which these operators do not take", state.ErrCorrupt)
	}
	return x.restoreLate(fs.late)
}

// restoreLate gives every subtask the after floors a checkpoint taken under floors recorded (late: per key
// group, nil: none) above the watermark it resumes from: a row of the key group at or behind is late.
func (x *Exchange) restoreLate(late []int64) error {
	if late == nil {
		return nil
	}
	if len(late) != x.maxPar || !x.keyedSides() {
		return fmt.Errorf("%w: the checkpoint holds per-key-group late watermarks of an unaligned checkpoint restored at another parallelism, which these operators do not take", state.ErrCorrupt)
	}
	n := len(x.subs)
	for j, s := range x.subs {
		op, ok := StateOf(s.op).(floorable)
		if !ok || !op.canFloor() {
			return fmt.Errorf("%w: the checkpoint holds per-key-group late watermarks of an unaligned checkpoint restored at another parallelism, which these operators do not take", state.ErrCorrupt)
		}
		if outFloored(op) {
			continue // its fired watermarks hold them (writeFloors)
		}
		base := op.firedWM()
		x.mu.Lock()
		f := s.floors
		x.mu.Unlock()
		fresh := f == nil
		if fresh {
			f = &xFloors{op: op, kg: make([]int64, x.maxPar), max: minWatermark}
			for g := range f.kg {
				f.kg[g] = minWatermark
			}
		}
		f.late = make([]int64, x.maxPar)
		for g, wm := range late {
			f.late[g] = minWatermark
			if Subtask(g, x.maxPar, n) == j && wm > base {
				f.late[g], f.hasLate = wm, true
				f.max = max(f.max, wm)
			}
		}
		if !f.hasLate {
			f.late = nil
			continue
		}
		x.mu.Lock()
		if fresh {
			s.floorBase = base // writeFloors
		}
		s.floors = f
		x.mu.Unlock()
	}
	return nil
}
