package exec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// WindowKind is a windowing table function.
type WindowKind uint8

const (
	Tumble WindowKind = iota
	Hop
	Cumulate
	Session // Size is the gap; see NewSessionAssigner
)

func (k WindowKind) String() string { return [...]string{"TUMBLE", "HOP", "CUMULATE", "SESSION"}[k] }

// WindowSpec describes a windowing TVF: sizes in milliseconds. Hop: Slide is the hop; Cumulate: Slide is the
// step and Size the max size.
type WindowSpec struct {
	Kind        WindowKind
	Size, Slide int64
	Offset      int64
}

// NewWindowAssigner appends window_start, window_end (TIMESTAMP(3)) and window_time (the rowtime of the
// window's results: window_end - 1 ms) to every row, once per window the row's time column falls into (HOP
// and CUMULATE rows belong to several windows). Rows with a NULL time are dropped, as Flink does. For a
// TIMESTAMP_LTZ time column, windows are aligned on the wall clock of loc, and window_time stays an instant.
func NewWindowAssigner(spec WindowSpec, timeCol int, ltz bool, loc *time.Location, out changelog.Output) changelog.Output {
	if loc == nil {
		loc = time.UTC
	}
	return &windowAssigner{spec: spec, col: timeCol, ltz: ltz, loc: loc, out: out}
}

type windowAssigner struct {
	spec  WindowSpec
	col   int
	ltz   bool
	loc   *time.Location
	out   changelog.Output
	ob    changelog.Batch
	arena []types.Value
	slice int64        // > 0: assign each row once, to its slice of this length (NewSliceAssigner)
	vx    *assignerVec // columnar batches' scratch (window_slice_vec.go)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// windows calls fn with the [start, end) of every window containing ts (wall-clock millis).
func (s WindowSpec) windows(ts int64, fn func(start, end int64)) {
	switch s.Kind {
	case Tumble:
		start := ts - floorMod(ts-s.Offset, s.Size)
		fn(start, start+s.Size)
	case Hop:
		last := ts - floorMod(ts-s.Offset, s.Slide)
		for start := last; start > ts-s.Size; start -= s.Slide {
			fn(start, start+s.Size)
		}
	case Cumulate:
		start := ts - floorMod(ts-s.Offset, s.Size)
		for end := start + s.Slide; end <= start+s.Size; end += s.Slide {
			if end > ts {
				fn(start, end)
			}
		}
	case Session:
		// the row's own window, which a session window aggregate merges into its sessions
		// (NewSessionWindowAgg); NewSessionAssigner assigns the final sessions instead
		fn(ts, ts+s.Size)
	}
}

func (w *windowAssigner) Push(b *changelog.Batch) error {
	w.ob.Reset()
	w.arena = w.arena[:0]
	for _, r := range b.Rows {
		v := r.Vals[w.col]
		if v.IsNull() {
			continue
		}
		ts := v.I
		if w.ltz {
			_, off := time.UnixMilli(ts).In(w.loc).Zone()
			ts += int64(off) * 1000
		}
		if w.slice > 0 {
			start := ts - floorMod(ts-w.spec.Offset, w.slice)
			w.assign(r.Kind, r.Vals, start, start+w.slice, v.I, ts)
			continue
		}
		w.spec.windows(ts, func(start, end int64) { w.assign(r.Kind, r.Vals, start, end, v.I, ts) })
	}
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}

// assign appends a row of vals in the window [start, end) to the output batch; t is the row's time, ts its
// wall-clock time.
func (w *windowAssigner) assign(k changelog.Kind, vals []types.Value, start, end, t, ts int64) {
	n := len(vals) + 3
	if len(w.arena)+n > cap(w.arena) {
		// the rows so far keep the full arena; the next one is twice as large, and later pushes reuse it
		w.arena = make([]types.Value, 0, max(1024, 4*n, 2*cap(w.arena)))
	}
	s := len(w.arena)
	w.arena = append(w.arena, vals...)
	wt := types.TimestampValue(end-1, 0)
	if w.ltz {
		wt = types.TimestampValue(t+(end-1-ts), 0)
	}
	w.arena = append(w.arena, types.TimestampValue(start, 0), types.TimestampValue(end, 0), wt)
	w.ob.Append(k, w.arena[s:len(w.arena):len(w.arena)])
}

func (w *windowAssigner) Watermark(ts int64) error { return w.out.Watermark(ts) }
func (w *windowAssigner) End() error               { return w.out.End() }

// NewWindowAgg returns Flink's window aggregation: a group aggregation whose keys include window_end (at
// cfg.Keys[windowEndKey]) and whose results are emitted once, as +I rows, when the watermark passes the
// window's end (watermark >= window_end - 1), or at the end of input. Rows of a window that has already
// fired are late and dropped (counted in Late). Input must be insert-only.
//
// Each open window holds, per group key, the group's accumulators, updated in place as rows arrive; nothing
// is emitted until the window fires, when each group's results are emitted once, in key order.
func NewWindowAgg(cfg GroupAggConfig, windowEndKey int, out changelog.Output) (changelog.Output, error) {
	cfg.Batch = false
	cfg.InsertOnly = true
	cfg.EmitUpdateBefore = true
	w := &windowAgg{cfg: cfg, endKey: windowEndKey, out: out, windows: map[int64]*windowState{}, fired: minWatermark, minEnd: changelog.MaxWatermark}
	// The prototype validates the aggregate calls and owns the accumulators: it creates, recycles, encodes
	// and decodes the groups of every window.
	proto, err := NewGroupAgg(cfg, NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		return nil, err
	}
	w.proto = proto.(*groupAgg)
	return w, nil
}

// windowState is one open window: its groups by group key (which includes window_end).
type windowState struct {
	groups map[string]*group
}

// window returns the state of the window ending at end, creating it.
func (w *windowAgg) window(end int64) *windowState {
	if st := w.windows[end]; st != nil {
		return st
	}
	st := &windowState{groups: map[string]*group{}}
	w.windows[end] = st
	return st
}

type windowAgg struct {
	cfg     GroupAggConfig
	endKey  int
	out     changelog.Output
	proto   *groupAgg
	windows map[int64]*windowState
	minEnd  int64 // no open window ends before this (fire has nothing to do below it)
	fired   int64 // the watermark up to which windows have fired
	Late    int64
	wmFloor // exchange_unaligned_rescale_floor.go
	keyBuf  []byte
	ob      changelog.Batch
	arena   []types.Value
	order   []windowGroup
	route   []int // the positions in cfg.Keys its subtasks are routed by; nil: all (NewRoutedWindowAgg)

	// final, with finalWM, makes End write the open windows as state instead of firing them (window_final.go).
	final   state.Writer
	finalWM func() int64
}

type windowGroup struct {
	key string // the key columns' encoding in the emitted order
	st  *group
}

func (w *windowAgg) Push(b *changelog.Batch) error {
	col := w.cfg.Keys[w.endKey]
	p := w.proto
	var cur *windowState
	curEnd := int64(0)
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("window aggregate: input carries a %s row; window aggregation takes insert-only input", r.Kind)
		}
		end := r.Vals[col]
		if end.IsNull() {
			continue
		}
		if end.I-1 <= w.fired || w.belowFloor(end.I-1) {
			w.Late++
			continue
		}
		if cur == nil || end.I != curEnd {
			cur, curEnd = w.window(end.I), end.I
			w.minEnd = min(w.minEnd, end.I)
		}
		w.keyBuf = appendGroupKey(w.keyBuf[:0], r.Vals, w.cfg.Keys, p.keyTypes)
		st := cur.groups[string(w.keyBuf)]
		if st == nil {
			st = p.newGroup()
			for i, k := range w.cfg.Keys {
				st.prev[i] = r.Vals[k]
			}
			cur.groups[string(w.keyBuf)] = st
		}
		st.count++
		p.accumulate(st, r.Vals, true)
	}
	return nil
}

// fire emits the results of every window whose end-1 <= wm, in window order, each window's groups in key
// order.
func (w *windowAgg) fire(wm int64) error {
	if wm > w.fired {
		w.fired = wm
	}
	if wm < w.minEnd-1 {
		return nil
	}
	var ends []int64
	w.minEnd = changelog.MaxWatermark
	for e := range w.windows {
		if e-1 <= wm {
			ends = append(ends, e)
		} else {
			w.minEnd = min(w.minEnd, e)
		}
	}
	slices.Sort(ends)
	p := w.proto
	for _, e := range ends {
		ws := w.windows[e]
		delete(w.windows, e)
		w.order, w.keyBuf = orderGroups(w.order, ws.groups, p.nk, w.keyBuf)
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
		if len(w.ob.Rows) > 0 {
			if err := w.out.Push(&w.ob); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *windowAgg) Watermark(ts int64) error {
	if err := w.fire(ts); err != nil {
		return err
	}
	return w.out.Watermark(ts)
}

func (w *windowAgg) End() error {
	if w.final != nil {
		return w.endFinal()
	}
	if err := w.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return w.out.End()
}

// NewSessionAssigner assigns session windows: per key (the partition columns), rows whose times are less
// than gap apart form one session [first time, last time + gap). As sessions can grow and merge until the
// watermark passes their end, rows are held until then and emitted with their final window_start,
// window_end and window_time (= window_end - 1 ms) appended; a window aggregate downstream then fires each
// session. Rows that could only extend a session that has already closed are late and dropped. At the end of
// input every session closes. A session window aggregate whose calls all merge does not hold rows: it keeps
// running accumulators per session instead (NewSessionWindowAgg, window_session.go).
func NewSessionAssigner(gap int64, timeCol int, partition []int, partTypes []types.Type, ltz bool, loc *time.Location, out changelog.Output) changelog.Output {
	if loc == nil {
		loc = time.UTC
	}
	return &sessionAssigner{gap: gap, col: timeCol, part: partition, partTypes: partTypes, ltz: ltz, loc: loc, out: out,
		keys: map[string][]*session{}, wm: minWatermark, minEnd: changelog.MaxWatermark}
}

type session struct {
	start, end int64 // wall-clock millis, end exclusive
	rows       [][]types.Value
	wall       []int64 // each row's wall-clock time (for window_time of TIMESTAMP_LTZ)
}

type sessionAssigner struct {
	gap       int64
	col       int
	part      []int
	partTypes []types.Type
	ltz       bool
	loc       *time.Location
	out       changelog.Output
	keys      map[string][]*session
	minEnd    int64 // no open session ends before this (fire skips watermarks below it)
	wm        int64
	Late      int64
	wmFloor   // exchange_unaligned_rescale_floor.go
	kbuf      []byte
	ob        changelog.Batch
	arena     []types.Value
}

func (w *sessionAssigner) wall(v types.Value) int64 {
	if !w.ltz {
		return v.I
	}
	_, off := time.UnixMilli(v.I).In(w.loc).Zone()
	return v.I + int64(off)*1000
}

func (w *sessionAssigner) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("session window: input carries a %s row; windows take insert-only input", r.Kind)
		}
		v := r.Vals[w.col]
		if v.IsNull() {
			continue
		}
		t := w.wall(v)
		if t+w.gap-1 <= w.wm || w.belowFloor(t+w.gap-1) {
			w.Late++
			continue
		}
		w.kbuf = appendGroupKey(w.kbuf[:0], r.Vals, w.part, w.partTypes)
		w.add(string(w.kbuf), t, r.Vals)
	}
	return nil
}

// add puts a row at wall time t into the sessions of key k. The row's window [t, t+gap) merges with every
// session it intersects, touching ones included (Flink's TimeWindow.intersects: start <= other.end and
// end >= other.start); the rows of the smaller sessions move into the largest, so each row is copied a
// logarithmic number of times at most, not once per later row of its session.
func (w *sessionAssigner) add(k string, t int64, vals []types.Value) {
	ss := w.keys[k]
	start, end := t, t+w.gap
	target := -1
	for i, s := range ss {
		if s.start <= end && start <= s.end && (target < 0 || len(s.rows) > len(ss[target].rows)) {
			target = i
		}
	}
	if target < 0 {
		w.keys[k] = append(ss, &session{start: start, end: end, rows: [][]types.Value{changelog.CopyVals(vals)}, wall: []int64{t}})
		w.minEnd = min(w.minEnd, end)
		return
	}
	into := ss[target]
	into.rows = append(into.rows, changelog.CopyVals(vals))
	into.wall = append(into.wall, t)
	keep := ss[:0]
	for i, s := range ss {
		if i != target && s.start <= end && start <= s.end {
			into.rows = append(into.rows, s.rows...)
			into.wall = append(into.wall, s.wall...)
			into.start, into.end = min(into.start, s.start), max(into.end, s.end)
			continue
		}
		keep = append(keep, s)
	}
	clear(ss[len(keep):])
	into.start, into.end = min(into.start, start), max(into.end, end)
	w.keys[k] = keep
}

// fire emits the rows of every session whose end - 1 <= wm.
func (w *sessionAssigner) fire(wm int64) error {
	if wm < w.minEnd-1 {
		w.wm = max(w.wm, wm)
		return nil
	}
	w.minEnd = changelog.MaxWatermark
	keys := make([]string, 0, len(w.keys))
	for k := range w.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.ob.Reset()
	w.arena = w.arena[:0]
	for _, k := range keys {
		var keep []*session
		for _, s := range w.keys[k] {
			if s.end-1 > wm {
				keep = append(keep, s)
				w.minEnd = min(w.minEnd, s.end)
				continue
			}
			for i, row := range s.rows {
				n := len(row) + 3
				if len(w.arena)+n > cap(w.arena) {
					w.arena = make([]types.Value, 0, max(1024, 4*n))
				}
				st := len(w.arena)
				w.arena = append(w.arena, row...)
				wt := types.TimestampValue(s.end-1, 0)
				if w.ltz {
					wt = types.TimestampValue(row[w.col].I+(s.end-1-s.wall[i]), 0)
				}
				w.arena = append(w.arena, types.TimestampValue(s.start, 0), types.TimestampValue(s.end, 0), wt)
				w.ob.Append(changelog.Insert, w.arena[st:len(w.arena):len(w.arena)])
			}
		}
		if len(keep) == 0 {
			delete(w.keys, k)
		} else {
			w.keys[k] = keep
		}
	}
	if wm > w.wm {
		w.wm = wm
	}
	if len(w.ob.Rows) == 0 {
		return nil
	}
	return w.out.Push(&w.ob)
}

func (w *sessionAssigner) Watermark(ts int64) error {
	if err := w.fire(ts); err != nil {
		return err
	}
	return w.out.Watermark(ts)
}

func (w *sessionAssigner) End() error {
	if err := w.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return w.out.End()
}

// orderGroups returns order refilled with groups sorted by their key columns (the first nk values of each
// group's prev row, encoded after kb's length, which is kept; kb is returned for its grown capacity).
func orderGroups(order []windowGroup, groups map[string]*group, nk int, kb []byte) ([]windowGroup, []byte) {
	order = order[:0]
	for _, st := range groups {
		n := len(kb)
		for _, v := range st.prev[:nk] {
			kb = types.AppendKey(kb, v, types.Type{})
		}
		order = append(order, windowGroup{key: string(kb[n:]), st: st})
		kb = kb[:n]
	}
	slices.SortFunc(order, func(a, b windowGroup) int { return strings.Compare(a.key, b.key) })
	return order, kb
}
