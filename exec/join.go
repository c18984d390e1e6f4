package exec

import (
	"fmt"
	"sort"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
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
	j := &joinOp{cfg: cfg, out: out, wm: [2]int64{minWatermark, minWatermark}, lastWM: minWatermark}
	if !cfg.Batch && cfg.Interval == nil {
		j.ttl = newStateTTL(cfg.TTL, cfg.Now)
	}
	j.sides[0] = joinSide{keys: cfg.LeftKeys, types: cfg.LeftTypes, state: map[string]*joinBucket{},
		outer: cfg.Type == LeftJoin || cfg.Type == FullJoin, width: len(cfg.LeftTypes)}
	j.sides[1] = joinSide{keys: cfg.RightKeys, types: cfg.RightTypes, state: map[string]*joinBucket{},
		outer: cfg.Type == RightJoin || cfg.Type == FullJoin, width: len(cfg.RightTypes)}
	j.sides[0].identOnly, j.sides[1].identOnly = identDecodable(cfg.LeftTypes), identDecodable(cfg.RightTypes)
	j.scratch = make([]types.Value, j.sides[0].width+j.sides[1].width)
	return &joinInput{j: j, side: 0}, &joinInput{j: j, side: 1}
}

// joinRec is one distinct row of a side's state. Its values are kept only in the binary row encoding of
// rowcodec.go (decoded when the row matches: joinOp.recVals), after its identity, in one string.
type joinRec struct {
	data  string // ident, then the row in the binary row encoding
	split int    // len(ident)
	count int    // how many times this row is in state
	assoc int    // matches on the other side (maintained for outer sides)
	// touched is when the row was last written (Unix ms; with a TTL): stored, retracted while more
	// instances remain, or, on an outer side, its match count changed.
	touched int64
}

type joinSide struct {
	keys  []int
	types []types.Type
	state map[string]*joinBucket
	outer bool
	width int
	ended bool
	// identOnly: every column's kind can be decoded from the row's identity (ident), so records whose values
	// come back exactly from it keep no second encoding (join_rec.go).
	identOnly bool
}

type joinOp struct {
	cfg     JoinConfig
	out     changelog.Output
	sides   [2]joinSide
	ob      changelog.Batch
	arena   []types.Value
	kbuf    []byte
	rbuf    []byte
	ebuf    []byte           // newRec's encoding buffer
	dec     [2][]types.Value // recVals' decoded rows (slot 0: a row of the pushing side, 1: of the other)
	scratch []types.Value
	keyBuf  []string // prune's key list, reused
	wm      [2]int64
	lastWM  int64
	ended   bool
	ttl     stateTTL
}

type joinInput struct {
	j    *joinOp
	side int
}

func (in *joinInput) Push(b *changelog.Batch) error { return in.j.push(in.side, b) }
func (in *joinInput) Watermark(ts int64) error      { return in.j.watermark(in.side, ts) }
func (in *joinInput) End() error                    { return in.j.end(in.side) }

// key encodes the join key of row on side s; ok=false when a key column is NULL.
func (j *joinOp) key(s int, row []types.Value) (string, bool) {
	sd := &j.sides[s]
	j.kbuf = j.kbuf[:0]
	for _, c := range sd.keys {
		if row[c].IsNull() {
			return "", false
		}
		var t types.Type
		if c < len(sd.types) {
			t = sd.types[c]
		}
		j.kbuf = types.AppendKey(j.kbuf, row[c], t)
	}
	return string(j.kbuf), true
}

func (j *joinOp) ident(s int, row []types.Value) string {
	sd := &j.sides[s]
	j.rbuf = j.rbuf[:0]
	for i, v := range row {
		var t types.Type
		if i < len(sd.types) {
			t = sd.types[i]
		}
		j.rbuf = types.AppendKey(j.rbuf, v, t)
	}
	return string(j.rbuf)
}

// emit appends a joined row: the left and right values (nil side = NULLs).
func (j *joinOp) emit(kind changelog.Kind, l, r []types.Value) {
	wl, wr := j.sides[0].width, j.sides[1].width
	if len(j.arena)+wl+wr > cap(j.arena) {
		j.arena = make([]types.Value, 0, max(1024, 2*(wl+wr)))
	}
	start := len(j.arena)
	if l == nil {
		for i := 0; i < wl; i++ {
			j.arena = append(j.arena, types.NullValue)
		}
	} else {
		j.arena = append(j.arena, l...)
	}
	if r == nil {
		for i := 0; i < wr; i++ {
			j.arena = append(j.arena, types.NullValue)
		}
	} else {
		j.arena = append(j.arena, r...)
	}
	j.ob.Append(kind, j.arena[start:len(j.arena):len(j.arena)])
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
	for _, r := range b.Rows {
		key, hasKey := j.key(s, r.Vals)
		if j.cfg.Batch {
			if r.Kind.IsRetract() {
				return fmt.Errorf("join: batch input carries a %s row; batch joins take insert-only input", r.Kind)
			}
			j.store(s, key, hasKey, r.Vals)
			continue
		}
		var bucket *joinBucket
		if j.ttl.on() {
			// Expired rows are never used, whether or not a scan dropped them already.
			j.dropExpired(s, j.bucketKey(key, hasKey))
			if hasKey {
				j.dropExpired(1-s, key)
			}
		}
		if hasKey {
			bucket = other.state[key]
		}
		if r.Kind.IsAccumulate() {
			n := 0
			if bucket != nil {
				for _, o := range bucket.recs {
					ovals := j.recVals(1-s, o, 1)
					ok, err := j.matches(s, r.Vals, ovals)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					if other.outer && o.assoc == 0 && j.cfg.Interval == nil {
						for c := 0; c < o.count; c++ {
							j.pair(1-s, ovals, nil, changelog.Delete)
						}
					}
					for c := 0; c < o.count; c++ {
						j.pair(s, r.Vals, ovals, changelog.Insert)
					}
					o.assoc++
					if other.outer {
						o.touched = j.ttl.now
					}
					n += o.count
				}
			}
			if n == 0 && me.outer && j.cfg.Interval == nil {
				j.pair(s, r.Vals, nil, changelog.Insert)
			}
			rec := j.store(s, key, hasKey, r.Vals)
			rec.assoc = n
			continue
		}
		// Retraction: find the row in my state.
		rec, ok := j.remove(s, key, hasKey, r.Vals)
		if !ok {
			continue
		}
		n := 0
		rvals := j.recVals(s, rec, 0)
		if bucket != nil {
			for _, o := range bucket.recs {
				ovals := j.recVals(1-s, o, 1)
				ok, err := j.matches(s, rvals, ovals)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				for c := 0; c < o.count; c++ {
					j.pair(s, rvals, ovals, changelog.Delete)
				}
				o.assoc--
				if other.outer {
					o.touched = j.ttl.now
				}
				if other.outer && o.assoc == 0 {
					for c := 0; c < o.count; c++ {
						j.pair(1-s, ovals, nil, changelog.Insert)
					}
				}
				n += o.count
			}
		}
		if n == 0 && me.outer {
			j.pair(s, rvals, nil, changelog.Delete)
		}
	}
	if len(j.ob.Rows) == 0 {
		return nil
	}
	return j.out.Push(&j.ob)
}

// store adds one instance of row to side s's state and returns its record. Rows whose key has a NULL are
// kept under a per-side "no key" bucket only when the side is outer (they never match, but batch outer joins
// must still emit them).
func (j *joinOp) store(s int, key string, hasKey bool, row []types.Value) *joinRec {
	sd := &j.sides[s]
	key = j.bucketKey(key, hasKey)
	id := j.ident(s, row)
	bk := sd.state[key]
	if bk == nil {
		bk = &joinBucket{}
		sd.state[key] = bk
	}
	if i := bk.find(id); i >= 0 {
		r := bk.recs[i]
		r.count++
		r.touched = j.ttl.now
		return r
	}
	r := j.newRec(s, id, row)
	r.count, r.touched = 1, j.ttl.now
	bk.add(r)
	return r
}

// bucketKey returns the state key of a row's bucket: its join key, or nullJoinKey when a key column is NULL.
func (j *joinOp) bucketKey(key string, hasKey bool) string {
	if !hasKey {
		return nullJoinKey
	}
	return key
}

// remove takes one instance of row out of side s's state; it returns the record (with its values) and
// whether the row was there.
func (j *joinOp) remove(s int, key string, hasKey bool, row []types.Value) (*joinRec, bool) {
	sd := &j.sides[s]
	if !hasKey {
		key = nullJoinKey
	}
	bk := sd.state[key]
	if bk == nil {
		return nil, false
	}
	i := bk.find(j.ident(s, row))
	if i < 0 {
		return nil, false
	}
	r := bk.recs[i]
	r.count--
	r.touched = j.ttl.now
	if r.count == 0 {
		bk.removeAt(i)
		if len(bk.recs) == 0 {
			delete(sd.state, key)
		}
	}
	return &joinRec{data: r.data, split: r.split, count: 1}, true
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

// prune drops the rows no future row can join: rows of the other side still to come have times after w, so
// a left row l is done when l.t - Lower < w, and a right row r when r.t + Upper < w. A row of an outer side
// that goes without ever having matched is emitted NULL-padded now (Flink's interval outer join: padded rows
// come when the interval closes, so the output is insert-only).
func (j *joinOp) prune(w int64) error {
	iv := j.cfg.Interval
	j.ob.Reset()
	j.arena = j.arena[:0]
	for s := 0; s < 2; s++ {
		sd := &j.sides[s]
		keys := j.keyBuf[:0]
		for k := range sd.state {
			keys = append(keys, k)
		}
		if sd.outer {
			sort.Strings(keys) // padded rows come in key order (the same in a restored run)
		}
		j.keyBuf = keys
		for _, k := range keys {
			bk := sd.state[k]
			keep := bk.recs[:0]
			for _, r := range bk.recs {
				var done bool
				if s == 0 {
					t := j.recVals(s, r, 0)[iv.LeftTime]
					done = !t.IsNull() && t.I-iv.Lower < w
				} else {
					t := j.recVals(s, r, 0)[iv.RightTime]
					done = !t.IsNull() && t.I+iv.Upper < w
				}
				if !done {
					keep = append(keep, r)
				} else if sd.outer && r.assoc == 0 {
					for c := 0; c < r.count; c++ {
						j.pair(s, j.recVals(s, r, 0), nil, changelog.Insert)
					}
				}
			}
			clear(bk.recs[len(keep):])
			if len(keep) == 0 {
				delete(sd.state, k)
			} else if len(keep) < len(bk.recs) {
				bk.recs = keep
				bk.reindex()
			}
		}
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
		keys := make([]string, 0, len(sd.state))
		for k := range sd.state {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a deterministic order
		for _, k := range keys {
			for _, r := range sd.state[k].recs {
				if r.assoc == 0 {
					for c := 0; c < r.count; c++ {
						j.pair(s, j.recVals(s, r, 0), nil, changelog.Insert)
					}
				}
			}
		}
	}
	return j.flushPadded()
}

// StateRows returns the number of rows held in state on each side (for tests and metrics).
func (j *joinOp) StateRows() (left, right int) {
	for _, bk := range j.sides[0].state {
		left += len(bk.recs)
	}
	for _, bk := range j.sides[1].state {
		right += len(bk.recs)
	}
	return
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
	keys := make([]string, 0, len(left.state))
	for k := range left.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
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
	for _, k := range keys {
		var rb *joinBucket
		if k != nullJoinKey {
			rb = right.state[k]
		}
		for _, l := range left.state[k].recs {
			n := 0
			lvals := j.recVals(0, l, 0)
			if rb != nil {
				for _, r := range rb.recs {
					rvals := j.recVals(1, r, 1)
					ok, err := j.matches(0, lvals, rvals)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					r.assoc++
					for c := 0; c < l.count*r.count; c++ {
						j.emit(changelog.Insert, lvals, rvals)
						n++
						if err := flush(); err != nil {
							return err
						}
					}
				}
			}
			if n == 0 && left.outer {
				for c := 0; c < l.count; c++ {
					j.emit(changelog.Insert, lvals, nil)
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	if right.outer {
		rkeys := make([]string, 0, len(right.state))
		for k := range right.state {
			rkeys = append(rkeys, k)
		}
		sort.Strings(rkeys)
		for _, k := range rkeys {
			for _, r := range right.state[k].recs {
				if r.assoc > 0 {
					continue
				}
				for c := 0; c < r.count; c++ {
					j.emit(changelog.Insert, nil, j.recVals(1, r, 1))
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
