package exec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Slice-shared window aggregation (Flink's SliceAssigner and SliceSharedWindowAggProcessor). A HOP or
// CUMULATE row belongs to several windows; instead of updating one accumulator per window, every row is
// aggregated once into its slice: HOP windows are cut into slices of gcd(size, slide), CUMULATE windows into
// slices of the step. When the watermark passes a window's end, the window's result per key is the merge of
// the accumulators of its slices (HOP: size/gcd slices; CUMULATE: the slices from the window's start), and
// slices that no open window needs any more are dropped.
//
// CUMULATE slices merge incrementally into the first slice of their period (fireCumulate). A TUMBLE window
// is its only slice (Flink's TumblingSliceAssigner): it fires as a CUMULATE window of one step.
//
// The planner picks this operator per query (SliceWindowSupported): the window must be a TUMBLE, a HOP or a
// CUMULATE whose size is a multiple of its step, and every aggregate call must merge (SliceMergeable). Other
// queries (DISTINCT, FIRST_VALUE, LAST_VALUE, LISTAGG, COLLECT) keep the per-window aggregation of
// NewWindowAgg. The rows it takes come from NewSliceAssigner: window_start and window_end hold the row's
// slice. A savepoint of a TUMBLE window's per-window aggregate restores into this operator
// (window_slice_migrate.go).

// SliceWindowSupported reports whether a window aggregate over spec with the calls aggs can aggregate per
// slice (NewSliceAssigner and NewSliceWindowAgg).
func SliceWindowSupported(spec WindowSpec, aggs []AggCall) bool {
	switch spec.Kind {
	case Tumble:
		if spec.Size <= 0 {
			return false
		}
	case Hop:
		if spec.Size <= 0 || spec.Slide <= 0 {
			return false
		}
	case Cumulate:
		if spec.Size <= 0 || spec.Slide <= 0 || spec.Size%spec.Slide != 0 {
			return false
		}
	default:
		return false
	}
	for _, c := range aggs {
		if !SliceMergeable(c) {
			return false
		}
	}
	return true
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// sliceSize is the length of the slices of spec's windows.
func (s WindowSpec) sliceSize() int64 {
	switch s.Kind {
	case Tumble:
		return s.Size
	case Hop:
		return gcd(s.Size, s.Slide)
	case Session:
		return 0 // each row is assigned its own window [t, t+gap) (WindowSpec.windows)
	}
	return s.Slide
}

// lastWindowEnd is the end of the last window that contains the slice ending at end.
func (s WindowSpec) lastWindowEnd(end int64) int64 {
	start := end - s.sliceSize()
	if s.Kind == Hop { // the last window starts at the latest window start <= start
		return start - floorMod(start-s.Offset, s.Slide) + s.Size
	}
	return start - floorMod(start-s.Offset, s.Size) + s.Size
}

// windowEnds calls fn with the end of every window containing the slice ending at end, in order.
func (s WindowSpec) windowEnds(end int64, fn func(e int64)) {
	last := s.lastWindowEnd(end)
	e := end // CUMULATE: every slice end is a window end
	if s.Kind == Hop {
		e = end + floorMod(s.Offset+s.Size-end, s.Slide) // HOP windows end at offset + size + n*slide
	}
	for step := s.Slide; e <= last; e += step {
		fn(e)
	}
}

// windowStart is the start of the window ending at end.
func (s WindowSpec) windowStart(end int64) int64 {
	if s.Kind == Hop {
		return end - s.Size
	}
	return end - 1 - floorMod(end-1-s.Offset, s.Size)
}

// NewSliceAssigner is NewWindowAssigner for a slice-shared window aggregate: it appends window_start,
// window_end and window_time to every row once, with the bounds of the row's slice (see
// SliceWindowSupported). window_time is the slice's end - 1 ms. For SESSION (NewSessionWindowAgg) the
// bounds are the row's own window [t, t+gap).
func NewSliceAssigner(spec WindowSpec, timeCol int, ltz bool, loc *time.Location, out changelog.Output) changelog.Output {
	w := NewWindowAssigner(spec, timeCol, ltz, loc, out).(*windowAssigner)
	w.slice = spec.sliceSize()
	return w
}

// NewSliceWindowAgg returns the slice-shared window aggregation of windows spec: cfg.Keys[startKey] and
// cfg.Keys[endKey] are window_start and window_end, which hold each row's slice (NewSliceAssigner). It
// emits what NewWindowAgg over the rows of NewWindowAssigner emits: each window's results as +I rows, in
// window order, each window's groups in key order, once the watermark passes the window's end. Rows whose
// windows have all fired are late and dropped (counted in Late).
func NewSliceWindowAgg(cfg GroupAggConfig, spec WindowSpec, startKey, endKey int, out changelog.Output) (changelog.Output, error) {
	if !SliceWindowSupported(spec, cfg.Aggs) {
		return nil, fmt.Errorf("window aggregate: %s windows with these aggregate calls cannot be aggregated per slice", spec.Kind)
	}
	cfg.Batch = false
	cfg.InsertOnly = true
	cfg.EmitUpdateBefore = true
	if spec.Kind == Tumble {
		// a TUMBLE window is one slice: it runs as a CUMULATE whose step is its size (windowEnds, fire)
		spec.Slide = spec.Size
	}
	w := &sliceWindowAgg{cfg: cfg, spec: spec, startKey: startKey, endKey: endKey, out: out,
		slices: map[int64]*windowState{}, merged: map[string]*group{}, fired: minWatermark, next: changelog.MaxWatermark}
	proto, err := NewGroupAgg(cfg, NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		return nil, err
	}
	w.proto = proto.(*groupAgg)
	if sliceCompactEligible(w) {
		w.c = newSliceCompact(w)
	}
	return w, nil
}

func errSliceRetract(k changelog.Kind) error {
	return fmt.Errorf("window aggregate: input carries a %s row; window aggregation takes insert-only input", k)
}

type sliceWindowAgg struct {
	cfg              GroupAggConfig
	spec             WindowSpec
	startKey, endKey int
	out              changelog.Output
	proto            *groupAgg
	slices           map[int64]*windowState // open slices by end: their groups by group key (with the slice)
	next             int64                  // no window ends before next (fire skips watermarks below it)
	fired            int64                  // the watermark up to which windows have fired
	Late             int64
	wmFloor          // exchange_unaligned_rescale_floor.go
	keyBuf           []byte
	ends             []int64
	openEnds         []int64
	merged           map[string]*group // one window's groups while it fires, by key in the emitted order
	order            []windowGroup
	ob               changelog.Batch
	arena            []types.Value

	final   state.Writer // see window_final.go
	finalWM func() int64

	c *sliceCompact // the slices instead of slices, when they fit (window_slice_compact.go)

	conv *vec.RowConv // columnar batches the columns cannot take (window_slice_vec.go)
}

func (w *sliceWindowAgg) slice(end int64) *windowState {
	if st := w.slices[end]; st != nil {
		return st
	}
	st := &windowState{groups: map[string]*group{}}
	w.slices[end] = st
	w.next = min(w.next, end+w.firstEndOffset(end))
	return st
}

// firstEndOffset is the distance from a slice's end to the end of the first window containing it.
func (w *sliceWindowAgg) firstEndOffset(end int64) int64 {
	if w.spec.Kind == Hop {
		return floorMod(w.spec.Offset+w.spec.Size-end, w.spec.Slide)
	}
	return 0
}

func (w *sliceWindowAgg) Push(b *changelog.Batch) error {
	if w.c != nil {
		return w.pushCompact(b)
	}
	col := w.cfg.Keys[w.endKey]
	p := w.proto
	var cur *windowState
	curEnd := int64(0)
	moved := false // the rows of the current slice go to an earlier slice (mergeTarget)
	var sv, ev types.Value
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return errSliceRetract(r.Kind)
		}
		end := r.Vals[col]
		if end.IsNull() {
			continue
		}
		if cur == nil || end.I != curEnd {
			if le := w.spec.lastWindowEnd(end.I) - 1; le <= w.fired || w.belowFloor(le) {
				w.Late++
				continue
			}
			target := w.mergeTarget(end.I)
			cur, curEnd, moved = w.slice(target), end.I, target != end.I
			sv, ev = types.TimestampValue(target-w.spec.sliceSize(), 0), types.TimestampValue(target, 0)
		}
		if moved {
			w.keyBuf = w.keyBuf[:0]
			for i, k := range w.cfg.Keys {
				v := r.Vals[k]
				switch i {
				case w.startKey:
					v = sv
				case w.endKey:
					v = ev
				}
				w.keyBuf = types.AppendKey(w.keyBuf, v, p.keyTypes[i])
			}
		} else {
			w.keyBuf = appendGroupKey(w.keyBuf[:0], r.Vals, w.cfg.Keys, p.keyTypes)
		}
		st := cur.groups[string(w.keyBuf)]
		if st == nil {
			st = p.newGroup()
			for i, k := range w.cfg.Keys {
				st.prev[i] = r.Vals[k]
			}
			if moved {
				st.prev[w.startKey], st.prev[w.endKey] = sv, ev
			}
			cur.groups[string(w.keyBuf)] = st
		}
		st.count++
		p.accumulate(st, r.Vals, true)
	}
	return nil
}

// fire emits the results of every window whose end-1 <= wm that has not fired yet, in window order, and
// drops the slices whose windows have all fired.
func (w *sliceWindowAgg) fire(wm int64) error {
	if wm <= w.fired || wm < w.next-1 {
		w.fired = max(w.fired, wm)
		return nil
	}
	w.ends = w.ends[:0]
	w.openEnds = w.sliceEnds(w.openEnds[:0])
	for _, e := range w.openEnds {
		w.spec.windowEnds(e, func(we int64) {
			if we-1 > w.fired && we-1 <= wm {
				w.ends = append(w.ends, we)
			}
		})
	}
	slices.Sort(w.ends)
	w.ends = slices.Compact(w.ends)
	for _, e := range w.ends {
		if err := w.fireWindow(w.spec.windowStart(e), e); err != nil {
			return err
		}
	}
	w.fired = wm
	w.next = changelog.MaxWatermark
	w.openEnds = w.sliceEnds(w.openEnds[:0])
	for _, e := range w.openEnds {
		if w.spec.lastWindowEnd(e)-1 <= wm {
			if w.c != nil {
				w.dropCslice(e)
				continue
			}
			for _, st := range w.slices[e].groups {
				w.proto.recycle(st)
			}
			delete(w.slices, e)
			continue
		}
		// the first window of the slice that has not fired
		first := e + w.firstEndOffset(e)
		for first-1 <= wm {
			first += w.spec.Slide
		}
		w.next = min(w.next, first)
	}
	return nil
}

// sliceEnds appends the ends of the open slices to dst.
func (w *sliceWindowAgg) sliceEnds(dst []int64) []int64 {
	if w.c != nil {
		for e := range w.c.slices {
			dst = append(dst, e)
		}
		return dst
	}
	for e := range w.slices {
		dst = append(dst, e)
	}
	return dst
}

// fireWindow merges the slices of the window [start, end) per key and emits the results in key order.
func (w *sliceWindowAgg) fireWindow(start, end int64) error {
	if w.c != nil {
		return w.fireWindowCompact(start, end)
	}
	switch w.spec.Kind {
	case Tumble:
		return w.fireTumble(end)
	case Cumulate:
		return w.fireCumulate(start, end)
	}
	return w.fireMerged(start, end)
}

// fireMerged merges the slices of the window [start, end) per key, leaving them as they are, and emits the
// results in key order (a CUMULATE window: its first slice holds the slices merged into it).
func (w *sliceWindowAgg) fireMerged(start, end int64) error {
	p := w.proto
	sv, ev := types.TimestampValue(start, 0), types.TimestampValue(end, 0)
	w.order = w.order[:0]
	step := w.spec.sliceSize()
	for se := start + step; se <= end; se += step {
		sl := w.slices[se]
		if sl == nil {
			continue
		}
		for _, st := range sl.groups {
			w.keyBuf = w.keyBuf[:0]
			for i, v := range st.prev[:p.nk] {
				switch i {
				case w.startKey:
					v = sv
				case w.endKey:
					v = ev
				}
				w.keyBuf = types.AppendKey(w.keyBuf, v, types.Type{})
			}
			m := w.merged[string(w.keyBuf)]
			if m == nil {
				m = p.newGroup()
				copy(m.prev[:p.nk], st.prev[:p.nk])
				m.prev[w.startKey], m.prev[w.endKey] = sv, ev
				k := string(w.keyBuf)
				w.merged[k] = m
				w.order = append(w.order, windowGroup{key: k, st: m})
			}
			m.count += st.count
			for i, a := range m.accs {
				a.(mergingAcc).mergeFrom(st.accs[i])
			}
		}
	}
	slices.SortFunc(w.order, func(a, b windowGroup) int { return strings.Compare(a.key, b.key) })
	w.ob.Reset()
	w.arena = w.arena[:0]
	for _, g := range w.order {
		p.results(g.st, g.st.prev)
		at := len(w.arena)
		w.arena = append(w.arena, g.st.prev...)
		w.ob.Append(changelog.Insert, w.arena[at:len(w.arena):len(w.arena)])
		p.recycle(g.st)
	}
	clear(w.order)
	clear(w.merged)
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}

func (w *sliceWindowAgg) Watermark(ts int64) error {
	if err := w.fire(ts); err != nil {
		return err
	}
	return w.out.Watermark(ts)
}

func (w *sliceWindowAgg) End() error {
	if w.final != nil {
		if err := w.fire(w.finalWM()); err != nil {
			return err
		}
		if err := w.SnapshotState(w.final); err != nil {
			return fmt.Errorf("window aggregate: final state: %w", err)
		}
		return w.out.End()
	}
	if err := w.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return w.out.End()
}

// CUMULATE windows share their slices incrementally, as Flink's CumulativeSliceAssigner does: the first
// slice of a window period holds the running accumulators of the period. Firing the window [start, end)
// merges the slice ending at end into the first slice, drops it, and emits the first slice's results; a row
// whose slice's window has already fired (but not the period's last window) goes to the first slice.

// mergeTarget is the slice that takes the rows of the slice ending at end.
func (w *sliceWindowAgg) mergeTarget(end int64) int64 {
	if w.spec.Kind != Cumulate || end-1 > w.fired {
		return end
	}
	return w.spec.windowStart(end) + w.spec.Slide
}

// fireCumulate merges the slice ending at end into the first slice of the window [start, end) and emits the
// first slice's results in key order, with the window's bounds.
func (w *sliceWindowAgg) fireCumulate(start, end int64) error {
	p := w.proto
	first := start + w.spec.Slide
	fs := w.slices[first]
	// the slice ending at end, and any earlier one of the window a restore left unmerged (its window fired
	// for the key groups of another subtask, exchange_unaligned_rescale_late.go)
	for se := first + w.spec.Slide; se <= end; se += w.spec.Slide {
		sl := w.slices[se]
		if sl == nil {
			continue
		}
		if fs == nil {
			fs = w.slice(first)
		}
		fsv, fev := types.TimestampValue(start, 0), types.TimestampValue(first, 0)
		for _, st := range sl.groups {
			w.keyBuf = w.keyBuf[:0]
			for i, v := range st.prev[:p.nk] {
				switch i {
				case w.startKey:
					v = fsv
				case w.endKey:
					v = fev
				}
				w.keyBuf = types.AppendKey(w.keyBuf, v, p.keyTypes[i])
			}
			m := fs.groups[string(w.keyBuf)]
			if m == nil {
				// the slice's group becomes the first slice's
				st.prev[w.startKey], st.prev[w.endKey] = fsv, fev
				fs.groups[string(w.keyBuf)] = st
				continue
			}
			m.count += st.count
			for i, a := range m.accs {
				a.(mergingAcc).mergeFrom(st.accs[i])
			}
			p.recycle(st)
		}
		delete(w.slices, se)
	}
	if fs == nil {
		return nil
	}
	sv, ev := types.TimestampValue(start, 0), types.TimestampValue(end, 0)
	w.order = w.order[:0]
	w.ob.Reset()
	w.arena = w.arena[:0]
	for _, st := range fs.groups {
		at := len(w.arena)
		w.arena = append(w.arena, st.prev...)
		row := w.arena[at:len(w.arena):len(w.arena)]
		row[w.startKey], row[w.endKey] = sv, ev
		p.results(st, row)
		n := len(w.keyBuf)
		for _, v := range row[:p.nk] {
			w.keyBuf = types.AppendKey(w.keyBuf, v, types.Type{})
		}
		w.order = append(w.order, windowGroup{key: string(w.keyBuf[n:]), st: &group{prev: row}})
		w.keyBuf = w.keyBuf[:n]
	}
	slices.SortFunc(w.order, func(a, b windowGroup) int { return strings.Compare(a.key, b.key) })
	for _, g := range w.order {
		w.ob.Append(changelog.Insert, g.st.prev)
	}
	clear(w.order)
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}

// fireTumble emits the results of the TUMBLE window ending at end, its only slice, in key order (the slice's
// groups hold the window's bounds; fire drops them after).
func (w *sliceWindowAgg) fireTumble(end int64) error {
	sl := w.slices[end]
	if sl == nil {
		return nil
	}
	p := w.proto
	w.order, w.keyBuf = orderGroups(w.order, sl.groups, p.nk, w.keyBuf) // window.go
	w.ob.Reset()
	w.arena = w.arena[:0]
	for _, g := range w.order {
		p.results(g.st, g.st.prev)
		at := len(w.arena)
		w.arena = append(w.arena, g.st.prev...)
		w.ob.Append(changelog.Insert, w.arena[at:len(w.arena):len(w.arena)])
	}
	clear(w.order)
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}
