package exec

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Two-phase (local/global) group aggregation, as Flink's LocalGroupAggregate and GlobalGroupAggregate with
// mini-batch: the local aggregate combines each mini-batch's rows per key into accumulators and emits them as
// one insert-only partial row per key (keys, each call's partial columns, then the change in the key's row
// count, Flink's count1); the global aggregate merges the partials into its state and emits the change of
// each key's result. Partials are deltas: a retraction subtracts, so COUNT, SUM, SUM0, AVG, BOOL_AND and
// BOOL_OR merge over updating input too; MIN and MAX merge only over insert-only input (AggMergeable).

// partialAcc is implemented by accumulators whose state merges: appendPartial appends the state as values
// (the columns AggPartialTypes gives) and merge adds such values into the state.
type partialAcc interface {
	appendPartial(dst []types.Value) []types.Value
	merge(vals []types.Value)
}

// AggMergeable reports whether two-phase aggregation can split the call: COUNT, SUM, SUM0, AVG, BOOL_AND
// and BOOL_OR always, MIN and MAX over insert-only input; never DISTINCT calls (split distinct aggregation
// rewrites those first).
func AggMergeable(c AggCall, insertOnly bool) bool {
	if c.Distinct {
		return false
	}
	switch strings.ToUpper(c.Func) {
	case "COUNT", "SUM", "SUM0", "AVG", "BOOL_AND", "BOOL_OR":
		return true
	case "MIN", "MAX":
		return insertOnly
	}
	return false
}

// AggPartialColumns returns the names (suffixes) and types of the partial columns a local aggregate emits
// for the call.
func AggPartialColumns(c AggCall) (names []string, ts []types.Type) {
	switch strings.ToUpper(c.Func) {
	case "COUNT":
		return []string{"count"}, []types.Type{types.BigIntType()}
	case "SUM", "SUM0", "AVG":
		return []string{"sum", "count"}, []types.Type{c.Type.WithNullable(true), types.BigIntType()}
	case "MIN", "MAX":
		return []string{strings.ToLower(c.Func)}, []types.Type{c.Type}
	case "BOOL_AND", "BOOL_OR":
		return []string{"trues", "falses"}, []types.Type{types.BigIntType(), types.BigIntType()}
	}
	return nil, nil
}

func (a *countAcc) appendPartial(dst []types.Value) []types.Value {
	return append(dst, types.IntValue(a.n))
}
func (a *countAcc) merge(vals []types.Value) { a.n += vals[0].I }

func (a *sumAcc) appendPartial(dst []types.Value) []types.Value {
	var s types.Value
	switch a.class {
	case numFloat:
		s = types.FloatValue(a.f)
	case numDecimal:
		s = a.d
		if s.T != types.TagDecimal {
			s = types.DecimalValue(0, a.scale)
		}
	case numInt:
		s = types.IntValue(a.i)
	default:
		s = types.NullValue // no value seen and no type given
	}
	return append(dst, s, types.IntValue(a.cnt))
}

func (a *sumAcc) merge(vals []types.Value) {
	v := vals[0]
	a.cnt += vals[1].I
	if v.T == types.TagNull {
		return
	}
	if a.class == numUnknown {
		a.init(v)
	}
	switch a.class {
	case numInt:
		a.i += asInt(v)
	case numFloat:
		a.f += asFloat(v)
		if a.s.resType.Kind == types.Float {
			a.f = float64(float32(a.f))
		}
	case numDecimal:
		if a.d.T != types.TagDecimal {
			a.d = types.DecimalValue(0, a.scale)
		}
		a.d = types.DecimalAdd(a.d, asDecimal(v))
	}
}

func (a *minMaxAcc) appendPartial(dst []types.Value) []types.Value { return append(dst, a.result()) }
func (a *minMaxAcc) merge(vals []types.Value) {
	if vals[0].T == types.TagNull {
		return
	}
	if !a.has {
		a.v, a.has = vals[0], true
		return
	}
	c := types.Compare(vals[0], a.v, a.s.argType)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = vals[0]
	}
}

func (a *boolAcc) appendPartial(dst []types.Value) []types.Value {
	return append(dst, types.IntValue(a.trues), types.IntValue(a.falses))
}
func (a *boolAcc) merge(vals []types.Value) { a.trues += vals[0].I; a.falses += vals[1].I }

var (
	_ partialAcc = (*countAcc)(nil)
	_ partialAcc = (*sumAcc)(nil)
	_ partialAcc = (*minMaxAcc)(nil)
	_ partialAcc = (*boolAcc)(nil)
)

// checkMergeable fails unless every call of g can be split into partials.
func (g *groupAgg) checkMergeable(what string) error {
	for i, s := range g.specs {
		c := AggCall{Func: s.fn, Distinct: s.distinct}
		if !AggMergeable(c, !s.retract) {
			return fmt.Errorf("%s: aggregate %d (%s) cannot be split into local and global phases", what, i, s.fn)
		}
	}
	return nil
}

// NewLocalGroupAgg returns the local phase of a two-phase aggregate (Flink's LocalGroupAggregate with
// mini-batch): it combines the rows of each mini-batch per key into accumulators and, when the batch is
// applied (Size rows, Latency, before a watermark, at the end), emits one +I partial row per key in the
// order keys first appeared. It keeps no state between batches; a snapshot writes the pending partials.
func NewLocalGroupAgg(cfg GroupAggConfig, mb MiniBatchConfig, out changelog.Output) (changelog.Output, error) {
	cfg.Batch, cfg.Store, cfg.TTL, cfg.FinalState = false, nil, 0, nil
	mb.buffer = true
	m, err := NewMiniBatchGroupAgg(cfg, mb, out)
	if err != nil {
		return nil, err
	}
	l := &localGroupAgg{m: m.(*miniBatchGroupAgg)}
	if err := l.m.g.checkMergeable("local group aggregate"); err != nil {
		return nil, err
	}
	return l, nil
}

type localGroupAgg struct {
	m    *miniBatchGroupAgg
	row  []types.Value
	gi   []int32 // PushColumns: each row's pending group in the chunk (groupagg_twophase_vec.go)
	sign []int64 // PushColumns: each row's sign (+1 accumulate, -1 retract)
}

func (l *localGroupAgg) Push(b *changelog.Batch) error {
	m := l.m
	for _, r := range b.Rows {
		if !r.Kind.IsAccumulate() && m.g.cfg.InsertOnly {
			return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, r.Kind)
		}
		if m.pending == 0 {
			m.started = m.now().UnixMilli()
		}
		if err := l.combine(r); err != nil {
			return err
		}
	}
	if m.pending > 0 && m.now().UnixMilli()-m.started >= m.latency {
		return l.apply()
	}
	return nil
}

// combine adds one row into its key's pending accumulators.
func (l *localGroupAgg) combine(r changelog.Row) error {
	m, g := l.m, l.m.g
	m.keyBuf = appendGroupKey(m.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
	ei, ok := m.idx[string(m.keyBuf)]
	var st *group
	if ok {
		st = m.groups[ei]
	} else {
		st = g.newGroup()
		for i, k := range g.cfg.Keys {
			st.prev[i] = r.Vals[k]
		}
		key := string(m.keyBuf)
		ei = int32(len(m.ents))
		m.idx[key] = ei
		m.ents = append(m.ents, mbEntry{key: key})
		m.groups = append(m.groups, st)
	}
	m.ents[ei].n++
	add := r.Kind.IsAccumulate()
	if add {
		st.count++
	} else {
		st.count--
	}
	g.accumulate(st, r.Vals, add)
	m.pending++
	if m.pending >= m.size {
		return l.apply()
	}
	return nil
}

// apply emits the pending partials and forgets them.
func (l *localGroupAgg) apply() error {
	m, g := l.m, l.m.g
	if m.pending == 0 {
		return nil
	}
	for i := range m.ents {
		st := m.groups[i]
		l.row = l.row[:0]
		l.row = append(l.row, st.prev[:g.nk]...)
		for _, a := range st.accs {
			l.row = a.(partialAcc).appendPartial(l.row)
		}
		l.row = append(l.row, types.IntValue(st.count))
		g.emit(changelog.Insert, l.row)
		g.recycle(st)
	}
	clear(m.idx)
	clear(m.ents)
	clear(m.groups)
	m.ents, m.groups, m.pending = m.ents[:0], m.groups[:0], 0
	return g.flush()
}

// SnapshotState writes the pending partials (namespace 1, per key, with their position in the batch).
func (l *localGroupAgg) SnapshotState(w state.Writer) error {
	if err := w.Put(nsMeta, nil, appendMeta(nil, l.m.g.signature("LocalGroupAggregate"))); err != nil {
		return err
	}
	return l.snapshotPending(w)
}

// snapshotPending writes the pending partials.
func (l *localGroupAgg) snapshotPending(w state.Writer) error {
	g := l.m.g
	var vb []byte
	for i, e := range l.m.ents {
		st := l.m.groups[i]
		l.row = l.row[:0]
		for _, a := range st.accs {
			l.row = a.(partialAcc).appendPartial(l.row)
		}
		vb = append(vb[:0], stateVersion)
		vb = binary.AppendUvarint(vb, uint64(i))
		vb = binary.AppendUvarint(vb, uint64(e.n))
		vb = binary.AppendVarint(vb, st.count)
		for _, v := range st.prev[:g.nk] {
			vb = appendValue(vb, v)
		}
		vb = appendRowBinary(vb, l.row)
		if err := w.Put(nsMiniBatch, []byte(e.key), vb); err != nil {
			return err
		}
	}
	return nil
}

// RestoreState loads the pending partials a SnapshotState wrote.
func (l *localGroupAgg) RestoreState(r state.Reader) error {
	op := l.m.g.signature("LocalGroupAggregate")
	err := restoreLoop(r, op, op, nil, func(ns uint8, key, value []byte) error {
		if ns != nsMiniBatch {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		return l.restorePending(op, key, value)
	})
	if err != nil {
		return err
	}
	l.restored()
	return nil
}

// restorePending loads one key's pending partial (restored must follow the last one).
func (l *localGroupAgg) restorePending(op string, key, value []byte) error {
	m, g := l.m, l.m.g
	if _, dup := m.idx[string(key)]; dup {
		return corrupt(op, "key %x appears twice", key)
	}
	d, err := newStateDec(value)
	if err != nil {
		return entryError(op, nsMiniBatch, key, err)
	}
	seq := d.uvarint()
	rows := int(d.uvarint())
	st := g.newGroup()
	st.count = d.varint()
	for i := range g.nk {
		st.prev[i] = d.value()
	}
	vals := d.row()
	if err := d.done(); err != nil {
		g.recycle(st)
		return entryError(op, nsMiniBatch, key, err)
	}
	col := 0
	for _, a := range st.accs {
		pa := a.(partialAcc)
		n := len(pa.appendPartial(nil))
		if col+n > len(vals) {
			g.recycle(st)
			return entryError(op, nsMiniBatch, key, fmt.Errorf("%d partial values, the calls need more", len(vals)))
		}
		pa.merge(vals[col : col+n])
		col += n
	}
	m.idx[string(key)] = int32(len(m.ents))
	m.ents = append(m.ents, mbEntry{key: string(key), seq: seq, n: rows, st: st})
	m.pending += rows
	return nil
}

// restored puts the restored partials back in the order they had in the batch.
func (l *localGroupAgg) restored() {
	m := l.m
	slices.SortFunc(m.ents, func(a, b mbEntry) int { return cmp.Compare(a.seq, b.seq) })
	for i := range m.ents {
		m.idx[m.ents[i].key] = int32(i)
		m.groups = append(m.groups, m.ents[i].st)
		m.ents[i].st = nil
	}
	if m.pending > 0 {
		m.started = m.now().UnixMilli()
	}
}

// FlushDue emits the pending partials when the oldest is older than the latency.
func (l *localGroupAgg) FlushDue() error {
	if m := l.m; m.pending > 0 && m.now().UnixMilli()-m.started >= m.latency {
		return l.apply()
	}
	return nil
}

// Flush emits the pending partials now (a checkpoint's cut when the local runs in a source subtask).
func (l *localGroupAgg) Flush() error { return l.apply() }

func (l *localGroupAgg) Watermark(ts int64) error {
	if err := l.apply(); err != nil {
		return err
	}
	return l.m.g.out.Watermark(ts)
}

func (l *localGroupAgg) End() error {
	if err := l.apply(); err != nil {
		return err
	}
	return l.m.g.out.End()
}

// NewGlobalGroupAgg returns the global phase of a two-phase aggregate (Flink's GlobalGroupAggregate). cfg is
// the one-phase aggregate's configuration (keys and aggregate calls over the original input); the input rows
// are the partials of NewLocalGroupAgg with the same cfg. Its state is the one-phase aggregate's, entry for
// entry: a checkpoint moves between one and two phases.
func NewGlobalGroupAgg(cfg GroupAggConfig, out changelog.Output) (changelog.Output, error) {
	if cfg.Batch || cfg.Store != nil {
		return nil, fmt.Errorf("global group aggregate: streaming with the hashmap state backend only")
	}
	inner := cfg
	inner.KeyTypes = make([]types.Type, len(cfg.Keys))
	inner.Keys = make([]int, len(cfg.Keys))
	for i, k := range cfg.Keys {
		inner.Keys[i] = i
		switch {
		case i < len(cfg.KeyTypes):
			inner.KeyTypes[i] = cfg.KeyTypes[i]
		case k < len(cfg.InTypes):
			inner.KeyTypes[i] = cfg.InTypes[k]
		}
	}
	op, err := NewGroupAgg(inner, out)
	if err != nil {
		return nil, err
	}
	g := op.(*groupAgg)
	g.compact = nil // the global aggregate drives the groups map itself
	if err := g.checkMergeable("global group aggregate"); err != nil {
		return nil, err
	}
	gg := &globalGroupAgg{groupAgg: g}
	for _, s := range g.specs {
		names, _ := AggPartialColumns(AggCall{Func: s.fn})
		gg.widths = append(gg.widths, len(names))
	}
	return gg, nil
}

// globalGroupAgg merges partial rows. It embeds the group aggregate for its state (snapshots, restore).
type globalGroupAgg struct {
	*groupAgg
	widths []int // the number of partial columns of each call
}

func (gg *globalGroupAgg) Push(b *changelog.Batch) error {
	g := gg.groupAgg
	snapshotting := g.snap.active.Load()
	if snapshotting {
		g.snap.mu.Lock()
		defer g.snap.mu.Unlock()
	}
	now := int64(0)
	if g.cfg.TTL > 0 {
		now = g.now().UnixMilli()
		g.expire(now, snapshotting)
	}
	for _, r := range b.Rows {
		if !r.Kind.IsAccumulate() {
			return fmt.Errorf("global group aggregate: partial rows are insert-only, got %s", r.Kind)
		}
		g.keyBuf = appendGroupKey(g.keyBuf[:0], r.Vals, g.keyIdx, g.keyTypes)
		st := g.groups[string(g.keyBuf)]
		if st != nil && g.cfg.TTL > 0 && st.touched <= now-g.cfg.TTL.Milliseconds() {
			if snapshotting {
				g.beforeChange(g.keyBuf, st)
			}
			delete(g.groups, string(g.keyBuf))
			g.recycle(st)
			st = nil
		}
		delta := r.Vals[len(r.Vals)-1].I
		first := st == nil
		if first {
			if delta <= 0 {
				continue // retractions of a key without state (Flink drops them)
			}
			st = g.newGroup()
			st.epoch = g.snap.epoch
			copy(st.prev[:g.nk], r.Vals[:g.nk])
			g.groups[string(g.keyBuf)] = st
		} else if snapshotting {
			g.beforeChange(g.keyBuf, st)
		}
		st.count += delta
		st.touched = now
		col := g.nk
		for i, a := range st.accs {
			n := gg.widths[i]
			a.(partialAcc).merge(r.Vals[col : col+n])
			col += n
		}
		if !gg.groupAgg.emitChange(st, first) {
			delete(g.groups, string(g.keyBuf))
			g.recycle(st)
		}
	}
	return g.flush()
}
