package exec

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// GroupAggConfig configures a group aggregate.
type GroupAggConfig struct {
	Keys     []int        // input columns of the GROUP BY keys (none: a global aggregate)
	KeyTypes []types.Type // their types; nil: taken from InTypes
	InTypes  []types.Type // the input row's column types (optional when KeyTypes and AggCall.ArgTypes are set)
	Aggs     []AggCall
	// Batch selects batch mode: the input is insert-only and sorted (grouped) by the keys; one group is held
	// at a time and only final +I rows are emitted.
	Batch bool
	// EmitUpdateBefore emits -U before +U in streaming mode (retract output); without it the output is an
	// upsert stream on the keys (+I, +U, -D).
	EmitUpdateBefore bool
	// InsertOnly declares that the streaming input carries only +I rows, so MIN, MAX, FIRST_VALUE and
	// LAST_VALUE keep O(1) state instead of a retractable multiset. A retraction then fails the push.
	InsertOnly bool
	// FinalState, in batch mode, receives the final state of every key as its group finishes, in exactly the
	// encoding SnapshotState of the streaming group aggregate writes with InsertOnly set (whose accumulators
	// are batch's), and the operator's meta entry at End: a streaming aggregate of the same query restored
	// from it continues the totals (batch → streaming savepoints).
	FinalState state.Writer
	// TTL ('table.exec.state.ttl'), in streaming mode: a group not updated for this long (processing time) is
	// dropped without emitting anything, as Flink's idle state retention does. 0 keeps state forever.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
	// Store, in streaming mode, keeps the groups outside the Go heap ('state.backend.type' = 'rocksdb');
	// nil keeps them in a Go map. The operator then has no SnapshotState: the Store's backend checkpoints.
	Store KeyValueStore
}

// ErrRetractionInInsertOnlyInput is returned when a -U/-D row reaches an aggregate configured for
// insert-only input (batch mode, or GroupAggConfig.InsertOnly).
var ErrRetractionInInsertOnlyInput = errors.New("group aggregate received a retraction on an insert-only input")

// NewGroupAgg returns a group aggregate. Output rows are the key columns followed by one column per
// aggregate call.
//
// Streaming (Batch false), as Flink's GroupAggFunction: +I/+U input rows accumulate and -U/-D retract. After
// each input row, the first row of a key emits +I; a changed result emits -U old (with EmitUpdateBefore)
// then +U new; an unchanged result emits nothing; when the key's row count drops to zero the old result is
// retracted with -D and the key's state is dropped. A retraction for a key without state is ignored. A
// global aggregate emits nothing before its first row.
//
// Batch: the input is sorted by the keys; each key's final result is emitted as +I when the key changes
// and at End. A global aggregate emits exactly one row, even over empty input (COUNT 0, SUM NULL).
func NewGroupAgg(cfg GroupAggConfig, out changelog.Output) (changelog.Output, error) {
	g := &groupAgg{cfg: cfg, out: out, nk: len(cfg.Keys)}
	g.keyTypes = make([]types.Type, len(cfg.Keys))
	g.keyIdx = make([]int, len(cfg.Keys))
	for i, k := range cfg.Keys {
		g.keyIdx[i] = i
		if k < 0 {
			return nil, fmt.Errorf("group aggregate: key column %d is negative", k)
		}
		switch {
		case i < len(cfg.KeyTypes):
			g.keyTypes[i] = cfg.KeyTypes[i]
		case k >= 0 && k < len(cfg.InTypes):
			g.keyTypes[i] = cfg.InTypes[k]
		}
	}
	retract := !cfg.Batch && !cfg.InsertOnly
	for i, c := range cfg.Aggs {
		s, err := compileAgg(c, cfg.InTypes, retract)
		if err != nil {
			return nil, fmt.Errorf("group aggregate: aggregate %d: %w", i, err)
		}
		g.specs = append(g.specs, s)
	}
	g.width = g.nk + len(g.specs)
	g.scratch = make([]types.Value, g.width)
	if cfg.Batch {
		g.cur = g.newGroup()
	} else {
		g.groups = map[string]*group{}
		if compactEligible(g) {
			g.compact = newCompactGroups(g)
		}
	}
	return g, nil
}

type groupAgg struct {
	cfg      GroupAggConfig
	out      changelog.Output
	nk       int
	width    int
	keyTypes []types.Type
	keyIdx   []int // 0..nk-1: the key columns of a group's prev row
	specs    []*aggSpec

	groups  map[string]*group // streaming: state per key encoding
	compact *compactGroups    // streaming: the groups instead of groups, when they fit (groupagg_compact.go)
	free    []*group          // streaming: dropped groups, reused for new keys

	cur      *group // batch: the current key's group
	has      bool   // batch: cur holds a key
	curKey   []byte
	keyBuf   []byte
	dkey     []byte // scratch: a DISTINCT aggregate's argument encoding (accumulateColumns)
	scratch  []types.Value
	stateBuf []byte // FinalState: the value being written

	batch changelog.Batch
	arena []types.Value

	nextExpiry int64         // TTL: when to scan for idle groups next (Unix ms)
	snap       groupSnapshot // asynchronous snapshots (groupagg_async.go)

	onExpire    func(key string) // keyed snapshots: told of each group the TTL scan drops (groupagg_delta.go)
	snapScratch *group           // keyed snapshots of compact groups: the group an entry is built in

	cols   []colCall     // columnar input: each call's columns in the batch being pushed (groupagg_vec_calls.go)
	colRow []types.Value // columnar input: the argument values of calls without a typed path
	conv   *vec.RowConv  // columnar input the operator converts to rows
}

// group is one key's state: its row count, accumulators and last emitted row (keys then results).
type group struct {
	count   int64
	touched int64  // with a TTL: when the group was last updated (Unix ms)
	epoch   uint32 // the last snapshot epoch that holds this group's state (groupagg_async.go)
	accs    []accumulator
	prev    []types.Value
}

func (g *groupAgg) newGroup() *group {
	if n := len(g.free); n > 0 {
		st := g.free[n-1]
		g.free = g.free[:n-1]
		return st
	}
	st := &group{accs: make([]accumulator, len(g.specs)), prev: make([]types.Value, g.width)}
	for i, s := range g.specs {
		st.accs[i] = s.newAcc()
	}
	shareDistinct(st.accs) // DISTINCT aggregates of one argument share a set (distinct_shared.go)
	return st
}

func (g *groupAgg) recycle(st *group) {
	st.count, st.touched = 0, 0
	for _, a := range st.accs {
		a.reset()
	}
	clear(st.prev)
	g.free = append(g.free, st)
}

// liveGroup returns the group of the key encoding in g.keyBuf, or nil. A group that expired but was not
// dropped by a scan yet is dropped now and never used (the output does not depend on scan times).
func (g *groupAgg) liveGroup(now int64, snapshotting bool) *group {
	st := g.groups[string(g.keyBuf)]
	if st != nil && g.cfg.TTL > 0 && st.touched <= now-g.cfg.TTL.Milliseconds() {
		if snapshotting {
			g.beforeChange(g.keyBuf, st)
		}
		delete(g.groups, string(g.keyBuf))
		g.recycle(st)
		st = nil
	}
	return st
}

// emit appends a row to the output batch, copying vals into the arena.
func (g *groupAgg) emit(k changelog.Kind, vals []types.Value) {
	n := len(g.arena)
	g.arena = append(g.arena, vals...)
	g.batch.Append(k, g.arena[n:len(g.arena):len(g.arena)])
}

func (g *groupAgg) flush() error {
	if len(g.batch.Rows) == 0 {
		return nil
	}
	err := g.out.Push(&g.batch)
	g.batch.Reset()
	g.arena = g.arena[:0]
	return err
}

func (g *groupAgg) accumulate(st *group, row []types.Value, add bool) {
	for i, a := range st.accs {
		if f := g.specs[i].filter; f >= 0 && !isTrue(row[f]) {
			continue
		}
		if add {
			a.add(row)
		} else {
			a.retract(row)
		}
	}
}

// results writes st's current results after the key columns of dst.
func (g *groupAgg) results(st *group, dst []types.Value) {
	for i, a := range st.accs {
		dst[g.nk+i] = a.result()
	}
}

func (g *groupAgg) Push(b *changelog.Batch) error {
	if g.cfg.Batch {
		return g.pushBatch(b)
	}
	if g.cfg.Store != nil {
		return g.pushStore(b)
	}
	if g.compact != nil {
		return g.pushCompact(b)
	}
	snapshotting := g.snap.active.Load()
	if snapshotting {
		// A snapshot is being written: groups of the cut are saved before this push changes them.
		g.snap.mu.Lock()
		defer g.snap.mu.Unlock()
	}
	now := int64(0)
	if g.cfg.TTL > 0 {
		now = g.now().UnixMilli()
		g.expire(now, snapshotting)
	}
	for _, r := range b.Rows {
		add := r.Kind.IsAccumulate()
		if !add && g.cfg.InsertOnly {
			return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, r.Kind)
		}
		g.keyBuf = appendGroupKey(g.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
		st := g.liveGroup(now, snapshotting)
		first := st == nil
		if first {
			if !add {
				continue // retraction for a key without state (Flink drops it)
			}
			st = g.newGroup()
			st.epoch = g.snap.epoch // not part of a snapshot under way
			for i, k := range g.cfg.Keys {
				st.prev[i] = r.Vals[k]
			}
			g.groups[string(g.keyBuf)] = st
		} else if snapshotting {
			g.beforeChange(g.keyBuf, st)
		}
		if !g.apply(st, r.Vals, add, first, now) {
			delete(g.groups, string(g.keyBuf))
			g.recycle(st)
		}
	}
	return g.flush()
}

// apply accumulates (add) or retracts one row into st and emits the change of the group's result: +I for a
// first row, -U/+U (or +U) for a changed result, nothing for an unchanged one, -D when the group's last row
// went. It reports whether the group still exists.
func (g *groupAgg) apply(st *group, row []types.Value, add, first bool, now int64) bool {
	if add {
		st.count++
	} else {
		st.count--
	}
	st.touched = now
	g.accumulate(st, row, add)
	return g.emitChange(st, first)
}

// emitChange emits the change of st's result after its accumulators changed (a row, or a merge of a local
// aggregate's partials): +I for a new group, -U/+U (or +U) for a changed result, nothing for an unchanged
// one, -D when the group's last row went. It reports whether the group still exists.
func (g *groupAgg) emitChange(st *group, first bool) bool {
	if st.count <= 0 {
		if !first {
			g.emit(changelog.Delete, st.prev)
		}
		return false
	}
	next := g.scratch
	copy(next, st.prev[:g.nk])
	g.results(st, next)
	if first {
		g.emit(changelog.Insert, next)
	} else {
		if valsEqual(st.prev[g.nk:], next[g.nk:], g.specs) {
			return true
		}
		if g.cfg.EmitUpdateBefore {
			g.emit(changelog.UpdateBefore, st.prev)
		}
		g.emit(changelog.UpdateAfter, next)
	}
	copy(st.prev[g.nk:], next[g.nk:])
	return true
}

func valsEqual(a, b []types.Value, specs []*aggSpec) bool {
	for i := range a {
		if a[i].T != b[i].T || !types.Equal(a[i], b[i], specs[i].resType) {
			return false
		}
		if a[i].T == types.TagFloat && a[i].I != b[i].I { // -0.0 vs 0.0 prints differently
			return false
		}
	}
	return true
}

func (g *groupAgg) pushBatch(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if !r.Kind.IsAccumulate() {
			return fmt.Errorf("%w: batch mode got %s", ErrRetractionInInsertOnlyInput, r.Kind)
		}
		g.keyBuf = appendGroupKey(g.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
		if !g.has || !bytes.Equal(g.keyBuf, g.curKey) {
			if g.has {
				if err := g.emitFinal(); err != nil {
					return err
				}
			}
			g.keyBuf, g.curKey = g.curKey, g.keyBuf
			g.has = true
			for i, k := range g.cfg.Keys {
				g.cur.prev[i] = r.Vals[k]
			}
		}
		g.cur.count++
		g.accumulate(g.cur, r.Vals, true)
	}
	return g.flush()
}

// emitFinal emits the current batch group's result (and writes its state to FinalState) and resets its
// accumulators.
func (g *groupAgg) emitFinal() error {
	g.results(g.cur, g.cur.prev)
	g.emit(changelog.Insert, g.cur.prev)
	if g.cfg.FinalState != nil {
		if err := g.writeFinal(); err != nil {
			return err
		}
	}
	g.cur.count = 0
	for _, a := range g.cur.accs {
		a.reset()
	}
	return nil
}

func (g *groupAgg) Watermark(ts int64) error { return g.out.Watermark(ts) }

func (g *groupAgg) End() error {
	if g.cfg.Batch {
		if g.has || g.nk == 0 {
			if err := g.emitFinal(); err != nil {
				return err
			}
			g.has = false
		}
		if g.cfg.FinalState != nil {
			if err := g.writeFinalMeta(); err != nil {
				return err
			}
		}
		if err := g.flush(); err != nil {
			return err
		}
	}
	return g.out.End()
}
