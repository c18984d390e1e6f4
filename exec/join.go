package exec

import (
	"fmt"
	"hash/maphash"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// JoinType is the kind of a regular join.
type JoinType uint8

const (
	InnerJoin JoinType = iota
	LeftJoin
	RightJoin
	FullJoin
	SemiJoin // the left rows that have a match, once each (window joins only)
	AntiJoin // the left rows that have no match (window joins only)
)

func (t JoinType) String() string {
	return [...]string{"InnerJoin", "LeftOuterJoin", "RightOuterJoin", "FullOuterJoin", "SemiJoin", "AntiJoin"}[t]
}

// JoinConfig configures a regular equi-join.
type JoinConfig struct {
	Type JoinType
	// LeftKeys[i] = RightKeys[i] are the equi-join conditions (column positions in each input). A NULL key
	// matches nothing, as in SQL.
	LeftKeys, RightKeys []int
	LeftTypes           []types.Type
	RightTypes          []types.Type
	// Residual is the rest of the ON condition, evaluated over left ++ right columns; nil when none.
	Residual expr.Expr
	// Batch: inputs are bounded and insert-only; the join emits its final +I rows when both have ended.
	Batch bool
	// FinalState, in batch mode, receives both inputs at the end in the streaming join's encoding, so that a
	// streaming join of the same query restored from it continues (batch → streaming savepoints).
	FinalState state.Writer
	// Interval, when set, bounds the rows' times (an interval join): rows that no future row of the other
	// side can match any more are dropped from state as watermarks advance. Only for insert-only inputs.
	Interval *IntervalBounds
	// TTL ('table.exec.state.ttl'), in streaming mode: a row kept on either side that was not written for
	// this long (processing time) is dropped without emitting anything (ttl.go says what refreshes a row and
	// how the join behaves afterwards). 0 keeps state forever. Interval joins ignore it: the watermark cleans
	// their state.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
	// LeftInsertOnly, RightInsertOnly: the input carries +I rows only (the planner's changelog mode of it).
	// Without a TTL, such a side keeps its rows append-only (join_rows.go storeNew): a row stored twice is
	// two entries, and a key's many rows have no per-row hash index, which only retractions would use. A
	// retraction that comes anyway is still applied, by a scan of its key's rows. With a TTL the side stays
	// counted, so that a repeated row refreshes the write time of every instance, as Flink's does.
	LeftInsertOnly, RightInsertOnly bool
}

// IntervalBounds says that joined rows satisfy Lower <= left[LeftTime] - right[RightTime] <= Upper
// (milliseconds).
type IntervalBounds struct {
	LeftTime, RightTime int
	Lower, Upper        int64
}

// NewJoin returns the two inputs (left, right) of a regular join whose output rows are the left columns
// followed by the right columns (NULL-padded on the outer side).
//
// Streaming (Flink's StreamingJoinOperator with retraction): both inputs are kept in state by join key, with,
// for outer sides, the number of matches of every row. An accumulating row (+I/+U) joins the other side's
// rows with the same key: +I for each match; on an outer side with no match, +I of the row with NULLs; a
// match that was the first one for an outer other-side row first retracts that row's NULL-padded result
// (-D). A retracting row (-U/-D) emits -D for what it produced, and re-inserts NULL-padded rows of the other
// outer side left without a match. The output carries +I and -D only (so -U/+U adjacency is never at
// stake); a retraction of a row not in state is dropped.
//
// Batch: both inputs are buffered; at the end of both the join is computed once and emitted as +I rows.
// Memory is proportional to both inputs (no spilling yet).
func NewJoin(cfg JoinConfig, out changelog.Output) (left, right changelog.Output) {
	j := &joinOp{cfg: cfg, out: out, wm: [2]int64{minWatermark, minWatermark}, lastWM: minWatermark, warmSlots: joinWarmSlots}
	if !cfg.Batch && cfg.Interval == nil {
		j.ttl = newStateTTL(cfg.TTL, cfg.Now)
	}
	j.kcats = compactKeyCats(cfg)
	seed := maphash.MakeSeed()
	j.sides[0] = newJoinSide(cfg.LeftKeys, cfg.LeftTypes, cfg.Type == LeftJoin || cfg.Type == FullJoin, j.ttl.on(), seed)
	j.sides[1] = newJoinSide(cfg.RightKeys, cfg.RightTypes, cfg.Type == RightJoin || cfg.Type == FullJoin, j.ttl.on(), seed)
	if !cfg.Batch && cfg.Interval != nil {
		// Interval joins take insert-only inputs: their sides only grow by new rows until pruned.
		j.sides[0].st.appendOnly, j.sides[1].st.appendOnly = true, true
	}
	if !cfg.Batch && !j.ttl.on() {
		j.sides[0].st.appendOnly = j.sides[0].st.appendOnly || cfg.LeftInsertOnly
		j.sides[1].st.appendOnly = j.sides[1].st.appendOnly || cfg.RightInsertOnly
	}
	j.scratch = make([]types.Value, j.sides[0].width+j.sides[1].width)
	return &joinInput{j: j, side: 0}, &joinInput{j: j, side: 1}
}

func newJoinSide(keys []int, ts []types.Type, outer, ttl bool, seed maphash.Seed) joinSide {
	sd := joinSide{keys: keys, types: ts, outer: outer, width: len(ts), exact: exactIdentity(ts),
		st: newJoinStore(outer, ttl, seed), keyPos: make([]int, len(ts)), dicts: newJoinDicts(ts), cols: newJoinCols(ts)}
	for c := range sd.keyPos {
		sd.keyPos[c] = -1
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i] < len(ts) {
			sd.keyPos[keys[i]] = i
		}
	}
	return sd
}

type joinSide struct {
	keys  []int
	types []types.Type
	st    joinStore // the side's rows (join_store.go)
	outer bool
	width int
	ended bool
	// keyPos[c] is the position of column c among the join keys, or -1 (with compact keys, stored rows leave
	// key columns out: join_rec.go).
	keyPos []int
	// exact: a stored row's body is its identity (join_rec.go).
	exact bool
	// dicts: the dictionaries of the string columns' repeated values, by column (join_dict.go); dropped:
	// how many times dropDicts re-encoded the side.
	dicts   []*joinDict
	dropped int
	// cols: how stored bodies encode each column (join_dict_codec.go).
	cols []joinCol
}

type joinOp struct {
	cfg     JoinConfig
	out     changelog.Output
	sides   [2]joinSide
	kcats   []keyCat // compact keys: the key columns' categories; nil: keys are key encodings (join_rec.go)
	ob      changelog.Batch
	arena   []types.Value
	kbuf    []byte           // keyBytes' key
	rbuf    []byte           // ident's key encoding of a row
	cbuf    []byte           // bodyIdent's key encoding of a stored row
	ebuf    []byte           // encodeRow's body
	entry   []byte           // an entry being built
	kv      []types.Value    // key values for decoding stored rows
	dec     [3][]types.Value // rowVals' decoded rows (slot 0: a row of the pushing side, 1: of the other, 2: comparisons)
	scratch []types.Value
	slotBuf []int // full scans' slots, reused
	wm      [2]int64
	lastWM  int64
	wmFloor // a restore's per-key-group floors (join_floor.go)
	ended   bool
	ttl     stateTTL
	// Interval joins: the keys whose rows expire soon, per side (join_expiry.go); prune's scratch.
	expiry      [2]expiryIndex
	expKeys     [][]byte
	deadKeys    [][]byte // pruneIndexed's emptied keys
	filterIt    jsIter   // filterBucket's iterator
	pruneVisits int      // rows prune looked at (tests)
	fullPrune   bool     // tests: prune scans every key (the reference), without the expiry index
	// changed: the rows (join key, time) per side whose state entries changed since SnapshotChanged (join_keyed.go), when
	// TrackChanges was called.
	changed *joinChanges
	// warm's keys of a push's rows (join_warm.go): their bytes, offsets, whether they have no NULL, hashes.
	wkeys     []byte
	wkoff     []int
	whas      []bool
	whash     []uint64
	warmSink  uint64
	warmSlots int // tables with fewer slots are not warmed (joinWarmSlots; tests lower it)
	// colKeyed: the next push's first rows whose keys PushColumns computed from the key columns, as warm
	// computes them (join_vec.go); colRow is its scratch row.
	colKeyed int
	colRow   []types.Value
	// recoding: dropDicts is storing a side's rows again (join_dict.go).
	recoding bool
}

type joinInput struct {
	j    *joinOp
	side int
	conv *vec.RowConv // columnar batches into rows (join_vec.go)
}

func (in *joinInput) Push(b *changelog.Batch) error { return in.j.push(in.side, b) }
func (in *joinInput) Watermark(ts int64) error      { return in.j.watermark(in.side, ts) }
func (in *joinInput) End() error                    { return in.j.end(in.side) }

// joinArenaMax bounds the output arena's growth (values): a push that emits more spills into further arenas
// rather than keeping one very large arena alive.
const joinArenaMax = 1 << 16

// outRow reserves an output row (the left columns then the right ones) in the output arena. The arena is
// reused across pushes (downstream holds rows only during Push) and grows until one push's rows fit in it.
func (j *joinOp) outRow() []types.Value {
	w := j.sides[0].width + j.sides[1].width
	n := len(j.arena)
	if n+w > cap(j.arena) {
		j.arena = make([]types.Value, 0, max(w, min(max(1024, 2*cap(j.arena)), joinArenaMax)))
		n = 0
	}
	j.arena = j.arena[:n+w]
	return j.arena[n : n+w : n+w]
}

// unreserve gives back the row outRow just returned (nothing reserved since).
func (j *joinOp) unreserve() {
	j.arena = j.arena[:len(j.arena)-j.sides[0].width-j.sides[1].width]
}

// emit appends a joined row: the left and right values (nil side = NULLs).
func (j *joinOp) emit(kind changelog.Kind, l, r []types.Value) {
	wl := j.sides[0].width
	row := j.outRow()
	if l == nil {
		clear(row[:wl])
	} else {
		copy(row[:wl], l)
	}
	if r == nil {
		clear(row[wl:])
	} else {
		copy(row[wl:], r)
	}
	j.ob.Append(kind, row)
}

// matches reports whether row (on side s) and other (on the other side) satisfy the residual condition.
func (j *joinOp) matches(s int, row, other []types.Value) (bool, error) {
	if j.cfg.Residual == nil {
		return true, nil
	}
	l, r := row, other
	if s == 1 {
		l, r = other, row
	}
	n := copy(j.scratch, l)
	copy(j.scratch[n:], r)
	v, err := j.cfg.Residual.Eval(j.scratch)
	if err != nil {
		return false, fmt.Errorf("join condition %s: %w", j.cfg.Residual, err)
	}
	return isTrue(v), nil
}

func (j *joinOp) pair(s int, row, other []types.Value, kind changelog.Kind) {
	if s == 0 {
		j.emit(kind, row, other)
	} else {
		j.emit(kind, other, row)
	}
}

func (j *joinOp) push(s int, b *changelog.Batch) error {
	j.ob.Reset()
	j.arena = j.arena[:0]
	me, other := &j.sides[s], &j.sides[1-s]
	if j.ttl.on() {
		j.tickTTL()
	}
	warmed := j.colKeyed
	if j.colKeyed = 0; warmed > 0 {
		j.warmReads(s, len(b.Rows))
	} else {
		warmed = j.warm(s, b.Rows)
	}
	for ri, r := range b.Rows {
		var key []byte
		var hasKey bool
		var h uint64
		if ri < warmed {
			key, hasKey, h = j.warmKey(ri)
		} else {
			var err error
			if key, hasKey, err = j.keyBytes(s, r.Vals); err != nil {
				return err
			}
			h = me.st.hash(key)
		}
		kv := j.rowKeyVals(s, r.Vals, hasKey)
		if j.cfg.Batch {
			if r.Kind.IsRetract() {
				return fmt.Errorf("join: batch input carries a %s row; batch joins take insert-only input", r.Kind)
			}
			if err := j.store(s, key, h, kv, r.Vals, 1, 0, 0); err != nil {
				return err
			}
			continue
		}
		if j.ttl.on() {
			// Expired rows are never used, whether or not a scan dropped them already.
			j.dropExpired(s, key, h, kv)
			if hasKey {
				j.dropExpired(1-s, key, h, kv)
			}
		}
		var orec jsRecord
		found := false
		if hasKey {
			if slot, ok := other.st.find(key, h); ok {
				orec, found = other.st.record(slot), true
			}
		}
		if r.Kind.IsAccumulate() {
			n := 0
			keep := true // store the row (an interval join's row far behind the watermark is not: join_late.go)
			var lo, hi int64
			bounded := false
			if t := j.rowTime(s, r.Vals); !t.IsNull() {
				lo, hi = j.probeWindow(s, t.I)
				lo, hi, keep = j.lateWindow(s, t.I, lo, hi)
				bounded = true
			}
			if found && (!bounded || lo <= hi) {
				// Each match is built in place in the output arena: the pushing row copied, the stored row
				// decoded straight into its half, the residual evaluated over it (no scratch row).
				myOff, oOff, ow := 0, me.width, other.width
				if s == 1 {
					myOff, oOff = other.width, 0
				}
				it := other.st.iter(&orec)
				if bounded {
					// An interval join reads only the chunks of a hot key that may hold rows in its bounds,
					// and checks those before the residual (which implies them: the planner took them from
					// it).
					it = other.st.iterWithin(&orec, lo, hi)
				}
				for it.next() {
					row := j.outRow()
					copy(row[myOff:myOff+me.width], r.Vals)
					ovals := row[oOff : oOff+ow : oOff+ow]
					j.decodeRow(ovals, 1-s, it.row(), kv)
					if bounded {
						if ot := j.rowTime(1-s, ovals); ot.IsNull() || ot.I < it.lo || ot.I > it.hi {
							j.unreserve()
							continue
						}
					}
					if j.cfg.Residual != nil {
						v, err := j.cfg.Residual.Eval(row)
						if err != nil {
							return fmt.Errorf("join condition %s: %w", j.cfg.Residual, err)
						}
						if !isTrue(v) {
							j.unreserve()
							continue
						}
					}
					cnt := it.count()
					if other.outer {
						a := it.assoc()
						if a == 0 && j.cfg.Interval == nil {
							for range cnt {
								j.pair(1-s, ovals, nil, changelog.Delete)
							}
						}
						it.setAssoc(a + 1)
						it.setTouched(j.ttl.now)
						if j.changed != nil { // join_keyed.go
							j.noteRow(1-s, key, j.rowTime(1-s, ovals))
						}
					}
					j.ob.Append(changelog.Insert, row)
					for range cnt - 1 {
						j.pair(s, r.Vals, ovals, changelog.Insert)
					}
					n += cnt
				}
			}
			if n == 0 && me.outer && (j.cfg.Interval == nil || !keep) {
				j.pair(s, r.Vals, nil, changelog.Insert)
			}
			if !keep {
				continue
			}
			if err := j.store(s, key, h, kv, r.Vals, 1, n, j.ttl.now); err != nil {
				return err
			}
			if j.changed != nil {
				j.noteRow(s, key, j.rowTime(s, r.Vals))
			}
			if j.cfg.Interval != nil && !j.fullPrune {
				j.indexRow(s, key, h, r.Vals)
			}
			continue
		}
		// Retraction: find the row in my state.
		body, ok := j.remove(s, key, h, kv, r.Vals)
		if !ok {
			continue
		}
		n := 0
		rvals := j.rowVals(s, body, kv, 0)
		if j.changed != nil {
			j.noteRow(s, key, j.rowTime(s, rvals))
		}
		if found {
			for it := other.st.iter(&orec); it.next(); {
				ovals := j.rowVals(1-s, it.row(), kv, 1)
				ok, err := j.matches(s, rvals, ovals)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				cnt := it.count()
				for range cnt {
					j.pair(s, rvals, ovals, changelog.Delete)
				}
				if other.outer {
					a := it.assoc() - 1
					it.setAssoc(a)
					it.setTouched(j.ttl.now)
					if j.changed != nil {
						j.noteRow(1-s, key, j.rowTime(1-s, ovals))
					}
					if a == 0 {
						for range cnt {
							j.pair(1-s, ovals, nil, changelog.Insert)
						}
					}
				}
				n += cnt
			}
		}
		if n == 0 && me.outer {
			j.pair(s, rvals, nil, changelog.Delete)
		}
	}
	if err := j.dropDicts(s); err != nil {
		return err
	}
	me.st.tidy()
	other.st.tidy()
	if len(j.ob.Rows) == 0 {
		return nil
	}
	return j.out.Push(&j.ob)
}

func (j *joinOp) watermark(s int, ts int64) error {
	if j.cfg.Batch {
		return nil
	}
	if j.ttl.on() {
		j.tickTTL()
	}
	if ts > j.wm[s] {
		j.wm[s] = ts
	}
	w := min(j.wm[0], j.wm[1])
	if j.sides[0].ended {
		w = j.wm[1]
	}
	if j.sides[1].ended {
		w = j.wm[0]
	}
	if w > j.lastWM {
		j.lastWM = w
		if j.cfg.Interval != nil && !j.sides[0].ended && !j.sides[1].ended {
			if err := j.prune(w); err != nil {
				return err
			}
		}
		return j.out.Watermark(w)
	}
	return nil
}
