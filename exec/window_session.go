package exec

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Session window aggregation with running accumulators (Flink's MergingWindowSet with merging
// accumulators). Each row comes in with its own window [t, t+gap) in window_start and window_end (the
// window TVF's rows as NewSliceAssigner writes them for SESSION: WindowSpec.windows gives a row its own
// window). The operator keeps, per partition key (the group keys other than window_start and window_end),
// its open sessions: the bounds and ONE group of accumulators each. A row's window merges with every open
// session of its key that it intersects, touching ones included (Flink's TimeWindow.intersects: start <=
// other.end and end >= other.start): the row is added to one of them and the others' accumulators are merged
// into it (mergingAcc). A session fires, as a +I row, when the watermark passes its end - 1, or at the end of
// input; rows whose own window ends before the watermark are late and dropped (counted in Late).
//
// The planner picks this operator (planner.SessionWindow) when every aggregate call merges (SliceMergeable)
// and the group keys other than the window's are exactly the session's partition columns; other session
// aggregates keep the row-holding path (NewSessionAssigner, then NewWindowAgg).

// SessionWindowSupported reports whether a session window aggregate with the calls aggs can keep running
// accumulators (NewSessionWindowAgg): every call must merge (SliceMergeable).
func SessionWindowSupported(spec WindowSpec, aggs []AggCall) bool {
	if spec.Kind != Session || spec.Size <= 0 {
		return false
	}
	for _, c := range aggs {
		if !SliceMergeable(c) {
			return false
		}
	}
	return true
}

// NewSessionWindowAgg returns the session window aggregation of sessions with gap spec.Size:
// cfg.Keys[startKey] and cfg.Keys[endKey] are window_start and window_end, which hold each row's own window
// [t, t+gap); the other keys partition the sessions. It emits what NewSessionAssigner followed by
// NewWindowAgg emits: each session's results as one +I row, in window_end order, rows with the same end in
// key order, once the watermark passes the session's end - 1.
func NewSessionWindowAgg(cfg GroupAggConfig, spec WindowSpec, startKey, endKey int, out changelog.Output) (changelog.Output, error) {
	if !SessionWindowSupported(spec, cfg.Aggs) {
		return nil, fmt.Errorf("session window aggregate: these aggregate calls cannot merge their accumulators")
	}
	if startKey < 0 || endKey < 0 || startKey >= len(cfg.Keys) || endKey >= len(cfg.Keys) || startKey == endKey {
		return nil, fmt.Errorf("session window aggregate: window_start (key %d) and window_end (key %d) must be two of the %d group keys", startKey, endKey, len(cfg.Keys))
	}
	cfg.Batch = false
	cfg.InsertOnly = true
	cfg.EmitUpdateBefore = true
	w := &sessionWindowAgg{cfg: cfg, gap: spec.Size, startKey: startKey, endKey: endKey, out: out,
		parts: map[string][]*sessionAcc{}, fired: minWatermark}
	proto, err := NewGroupAgg(cfg, NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		return nil, err
	}
	w.proto = proto.(*groupAgg)
	for i, k := range cfg.Keys {
		if i != startKey && i != endKey {
			w.pkeys, w.ptypes = append(w.pkeys, k), append(w.ptypes, w.proto.keyTypes[i])
		}
	}
	return w, nil
}

// sessionAcc is one open session of a partition key: its bounds and its group (key values and
// accumulators; the window key values are set when it fires or is written).
type sessionAcc struct {
	start, end int64 // end exclusive
	st         *group
	key        string // the partition key
	queued     int64  // the end the timer queue orders it by (<= end)
	dead       bool   // merged into another session or fired: its queue entry is stale
}

type sessionWindowAgg struct {
	cfg              GroupAggConfig
	gap              int64
	startKey, endKey int
	pkeys            []int // the partition: the input columns of the keys other than the window's
	ptypes           []types.Type
	out              changelog.Output
	proto            *groupAgg
	parts            map[string][]*sessionAcc // open sessions by partition key
	queue            sessionQueue             // every open session once, by queued; plus stale entries
	fired            int64                    // the watermark up to which sessions have fired
	Late             int64
	wmFloor          // exchange_unaligned_rescale_floor.go
	keyBuf           []byte
	due              []dueSession
	ob               changelog.Batch
	arena            []types.Value

	final   state.Writer // see window_final.go
	finalWM func() int64
}

type dueSession struct {
	order string // the key columns' encoding, window bounds included, in the emitted order
	s     *sessionAcc
}

// sessionQueue is a min-heap of sessions by queued end.
type sessionQueue []*sessionAcc

func (q sessionQueue) Len() int           { return len(q) }
func (q sessionQueue) Less(i, j int) bool { return q[i].queued < q[j].queued }
func (q sessionQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *sessionQueue) Push(x any)        { *q = append(*q, x.(*sessionAcc)) }
func (q *sessionQueue) Pop() any {
	old := *q
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return s
}

func (w *sessionWindowAgg) Push(b *changelog.Batch) error {
	sc, ec := w.cfg.Keys[w.startKey], w.cfg.Keys[w.endKey]
	p := w.proto
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("session window aggregate: input carries a %s row; window aggregation takes insert-only input", r.Kind)
		}
		sv, ev := r.Vals[sc], r.Vals[ec]
		if sv.IsNull() || ev.IsNull() {
			continue
		}
		start, end := sv.I, ev.I
		if end-1 <= w.fired || w.belowFloor(end-1) {
			w.Late++
			continue
		}
		w.keyBuf = appendGroupKey(w.keyBuf[:0], r.Vals, w.pkeys, w.ptypes)
		ss := w.parts[string(w.keyBuf)]
		var into *sessionAcc
		for _, s := range ss {
			if s.start <= end && start <= s.end {
				into = s
				break
			}
		}
		if into == nil {
			w.open(string(w.keyBuf), ss, start, end, r.Vals)
			continue
		}
		into.st.count++
		p.accumulate(into.st, r.Vals, true)
		if start < into.start || end > into.end {
			into.start, into.end = min(into.start, start), max(into.end, end)
			for _, s := range ss {
				if s != into && s.start <= into.end && into.start <= s.end {
					w.merge(into) // the row bridges into and s (and maybe more)
					break
				}
			}
		}
	}
	return nil
}

// open starts a session [start, end) of key k (whose open sessions are ss) with the row vals.
func (w *sessionWindowAgg) open(k string, ss []*sessionAcc, start, end int64, vals []types.Value) {
	p := w.proto
	st := p.newGroup()
	for i, c := range w.cfg.Keys {
		st.prev[i] = vals[c]
	}
	st.count++
	p.accumulate(st, vals, true)
	if len(ss) > 0 {
		k = ss[0].key // share the key string of the partition's sessions
	}
	s := &sessionAcc{start: start, end: end, st: st, key: k, queued: end}
	w.parts[k] = append(ss, s)
	heap.Push(&w.queue, s)
}

// merge merges into the session into every other open session of its key that it now intersects; into's
// bounds become the union.
func (w *sessionWindowAgg) merge(into *sessionAcc) {
	ss := w.parts[into.key]
	keep := ss[:0]
	for _, s := range ss {
		if s == into || !(s.start <= into.end && into.start <= s.end) {
			keep = append(keep, s)
			continue
		}
		into.start, into.end = min(into.start, s.start), max(into.end, s.end)
		into.st.count += s.st.count
		for i, a := range into.st.accs {
			a.(mergingAcc).mergeFrom(s.st.accs[i])
		}
		w.proto.recycle(s.st)
		s.st, s.dead = nil, true
	}
	clear(ss[len(keep):])
	w.parts[into.key] = keep
}

// fire emits the results of every session whose end - 1 <= wm, in end order, sessions with the same end in
// key order.
func (w *sessionWindowAgg) fire(wm int64) error {
	w.fired = max(w.fired, wm)
	w.due = w.due[:0]
	p := w.proto
	for len(w.queue) > 0 && w.queue[0].queued-1 <= wm {
		s := heap.Pop(&w.queue).(*sessionAcc)
		if s.dead {
			continue
		}
		if s.end-1 > wm { // it grew since it was queued
			s.queued = s.end
			heap.Push(&w.queue, s)
			continue
		}
		w.remove(s)
		s.st.prev[w.startKey], s.st.prev[w.endKey] = types.TimestampValue(s.start, 0), types.TimestampValue(s.end, 0)
		n := len(w.keyBuf)
		for _, v := range s.st.prev[:p.nk] {
			w.keyBuf = types.AppendKey(w.keyBuf, v, types.Type{})
		}
		w.due = append(w.due, dueSession{order: string(w.keyBuf[n:]), s: s})
		w.keyBuf = w.keyBuf[:n]
	}
	if len(w.due) == 0 {
		return nil
	}
	slices.SortFunc(w.due, func(a, b dueSession) int {
		if a.s.end != b.s.end {
			if a.s.end < b.s.end {
				return -1
			}
			return 1
		}
		return strings.Compare(a.order, b.order)
	})
	w.ob.Reset()
	w.arena = w.arena[:0]
	for i, d := range w.due {
		st := d.s.st
		p.results(st, st.prev)
		at := len(w.arena)
		w.arena = append(w.arena, st.prev...)
		w.ob.Append(changelog.Insert, w.arena[at:len(w.arena):len(w.arena)])
		p.recycle(st)
		d.s.st, d.s.dead = nil, true
		if i+1 == len(w.due) || w.due[i+1].s.end != d.s.end {
			// one batch per window end, as the per-window aggregate emits
			if err := w.out.Push(&w.ob); err != nil {
				return err
			}
			w.ob.Reset()
			w.arena = w.arena[:0]
		}
	}
	clear(w.due)
	return nil
}

// remove takes the session s out of its key's open sessions.
func (w *sessionWindowAgg) remove(s *sessionAcc) {
	ss := w.parts[s.key]
	i := slices.Index(ss, s)
	if i < 0 {
		return
	}
	ss = slices.Delete(ss, i, i+1)
	if len(ss) == 0 {
		delete(w.parts, s.key)
		return
	}
	w.parts[s.key] = ss
}

func (w *sessionWindowAgg) Watermark(ts int64) error {
	if err := w.fire(ts); err != nil {
		return err
	}
	return w.out.Watermark(ts)
}

func (w *sessionWindowAgg) End() error {
	if w.final != nil {
		if err := w.fire(w.finalWM()); err != nil {
			return err
		}
		if err := w.SnapshotState(w.final); err != nil {
			return fmt.Errorf("session window aggregate: final state: %w", err)
		}
		return w.out.End()
	}
	if err := w.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return w.out.End()
}
