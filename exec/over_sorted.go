package exec

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// sortedOver is the batch-mode OVER aggregation ordered by any columns (OverConfig.Order), as Flink's batch
// OverAggregate over input sorted by partition and order key: it keeps every row of its (bounded) input and,
// at the end, sorts each partition by the order key and emits each row once, as +I with the aggregates of its
// frame appended. Rows with equal order keys are peers: they share a RANGE frame. A RANGE frame with a
// PRECEDING bound (one integral or time column) holds the rows whose key is within the bound of the current
// row's; a row with a NULL key has its NULL peers as its frame, and NULL keys are in no other row's frame.
// Watermarks are passed on and otherwise ignored.
type sortedOver struct {
	cfg   OverConfig
	specs []*aggSpec
	out   changelog.Output
	parts map[string]*sortedPart
	kbuf  []byte
	vals  []types.Value // chunk the kept rows' values are copied into
	ob    changelog.Batch
	arena []types.Value // the emitted rows' values, reused per output batch
	accs  []accumulator
	// partTypes: the types of the partition columns
	partTypes []types.Type
	// ord: emitPartition's scratch, the sort order
	ord []int32
	ev  overEval
	// mem: the estimated memory of the rows kept; past cfg.MemBudget the operator spills (over_spill.go)
	mem   int64
	spill *overSpill
	// SortSpills counts the sorted runs written to 'io.tmp.dirs' (the rows did not fit the budget);
	// FrameSpills the writes of frame rows (a bounded frame or a peer group that did not fit).
	SortSpills, FrameSpills int64
	// offsets: some accumulators are LAG/LEAD's, whose value may be the current row's default
	offsets bool
}

type sortedPart struct {
	rows []sortedRow
	keys []byte // the order keys of rows, each rows[i].key bytes long, one after the other
}

type sortedRow struct {
	vals     []types.Value
	off, end int // the row's order key: keys[off:end] of its partition
}

// sortedOverBatch is how many rows sortedOver emits per batch.
const sortedOverBatch = 1024

func newSortedOver(cfg OverConfig, out changelog.Output) (changelog.Output, error) {
	o := &sortedOver{cfg: cfg, out: out, parts: map[string]*sortedPart{}, partTypes: partTypesOf(cfg.Partition, cfg.InTypes)}
	for _, a := range cfg.Aggs {
		if a.Filter >= 0 {
			return nil, fmt.Errorf("FILTER is not supported in OVER aggregates")
		}
		if isOffsetAgg(a.Func) { // over_offset.go
			o.specs = append(o.specs, offsetSpec(a))
			o.accs = append(o.accs, newOffsetAcc(a))
			o.offsets = true
			continue
		}
		s, err := compileAgg(a, cfg.InTypes, !cfg.Frame.Unbounded)
		if err != nil {
			return nil, err
		}
		o.specs = append(o.specs, s)
		o.accs = append(o.accs, s.newAcc())
	}
	if !cfg.Frame.Rows && cfg.Frame.rangeOffsets() && len(cfg.Order) != 1 {
		return nil, fmt.Errorf("OVER aggregate: a RANGE frame with a PRECEDING bound needs exactly one ORDER BY column, got %d", len(cfg.Order))
	}
	o.ev = newOverEval(o, false)
	return o, nil
}

func (o *sortedOver) Push(b *changelog.Batch) error {
	if o.spill != nil {
		return o.pushSpill(b)
	}
	for i, r := range b.Rows {
		if r.Kind != changelog.Insert {
			return fmt.Errorf("OVER aggregate: input carries a %s row; OVER aggregation takes insert-only input", r.Kind)
		}
		o.kbuf = appendGroupKey(o.kbuf[:0], r.Vals, o.cfg.Partition, o.partTypes)
		p := o.parts[string(o.kbuf)]
		if p == nil {
			p = &sortedPart{}
			o.parts[string(o.kbuf)] = p
		}
		if len(o.vals)+len(r.Vals) > cap(o.vals) {
			o.vals = make([]types.Value, 0, max(4096, 4*len(r.Vals)))
		}
		s := len(o.vals)
		o.vals = append(o.vals, r.Vals...)
		off := len(p.keys)
		p.keys = appendSortKey(p.keys, r.Vals, o.cfg.Order)
		p.rows = append(p.rows, sortedRow{vals: o.vals[s:len(o.vals):len(o.vals)], off: off, end: len(p.keys)})
		o.mem += overRowBytes(r.Vals) + int64(len(p.keys)-off)
		if o.cfg.MemBudget > 0 && o.mem >= o.cfg.MemBudget {
			if err := o.startSpill(); err != nil {
				return err
			}
			rest := *b
			rest.Rows = b.Rows[i+1:]
			return o.pushSpill(&rest)
		}
	}
	return nil
}

func (o *sortedOver) Watermark(ts int64) error { return o.out.Watermark(ts) }

func (o *sortedOver) End() error {
	defer o.ev.close()
	if o.spill != nil {
		return o.endSpill()
	}
	keys := make([]string, 0, len(o.parts))
	for k := range o.parts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := o.parts[k]
		delete(o.parts, k)
		if err := o.emitPartition(p); err != nil {
			return err
		}
	}
	if err := o.flush(); err != nil {
		return err
	}
	return o.out.End()
}

func (p *sortedPart) key(r sortedRow) []byte { return p.keys[r.off:r.end] }

// emitPartition sorts the partition's rows by the order key (peers stay in arrival order: ties are broken
// by the arrival index, so an unstable sort, faster than a stable one, does) and emits them with their
// frames' aggregates (overFrameEval, which references the rows here: they are in memory already).
func (o *sortedOver) emitPartition(p *sortedPart) error {
	// Sorting indexes (4 bytes, no pointers) rather than the rows themselves spares the moves and write
	// barriers of the row headers: the sort took twice as long on them.
	ord := o.ord[:0]
	for i := range p.rows {
		ord = append(ord, int32(i))
	}
	slices.SortFunc(ord, func(a, b int32) int {
		if c := bytes.Compare(p.key(p.rows[a]), p.key(p.rows[b])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	o.ord = ord
	if err := o.ev.start(); err != nil {
		return err
	}
	for _, i := range ord {
		r := p.rows[i]
		if err := o.ev.row(r.vals, p.key(r)); err != nil {
			return err
		}
	}
	return o.ev.finish()
}

// rangeInFrame reports whether a row sorted before the current row, with order key v, is in the current
// row's RANGE frame of preceding n: NULLs are only in a NULL row's frame (and only NULLs are), other keys
// within n of the current key (below it ascending, above it descending); timestamps (n in ms) at their
// full precision, nanoseconds included, as their peers compare.
func rangeInFrame(v, cur types.Value, desc bool, n int64) bool {
	if v.IsNull() || cur.IsNull() {
		return v.IsNull() && cur.IsNull()
	}
	// The rows are sorted, so the difference is not negative; as uint64 it cannot overflow.
	d := uint64(cur.I) - uint64(v.I)
	dn := cur.N - v.N // timestamps: nanoseconds within the millisecond
	if desc {
		d, dn = uint64(v.I)-uint64(cur.I), -dn
	}
	if v.T == types.TagTimestamp {
		// At full precision: d ms + dn ns <= n ms, where |dn| < 1 ms.
		return d < uint64(n) || d == uint64(n) && dn <= 0
	}
	return d <= uint64(n)
}

// rangeLimit returns, for a peer group with order value cur, the farthest order value in its RANGE frame:
// cur - Bound ascending, cur + Bound descending (DECIMAL and DOUBLE keys; others need none: NULL).
func (o *sortedOver) rangeLimit(cur types.Value) types.Value {
	b := o.cfg.Frame.Bound
	if b.IsNull() || cur.IsNull() {
		return types.Value{}
	}
	desc := o.cfg.Order[0].Desc
	if b.T == types.TagDecimal {
		c := cur
		if c.T != types.TagDecimal {
			c = types.DecimalFromInt(c.I)
		}
		if desc {
			return types.DecimalAdd(c, b)
		}
		return types.DecimalSub(c, b)
	}
	if desc {
		return types.FloatValue(overFloat(cur) + b.Float())
	}
	return types.FloatValue(overFloat(cur) - b.Float())
}

// overFloat is a DOUBLE key's value (a whole number may be held as an integer).
func overFloat(v types.Value) float64 {
	switch v.T {
	case types.TagFloat:
		return v.Float()
	case types.TagDecimal:
		return types.DecimalToFloat(v)
	}
	return float64(v.I)
}

// nanOffset reports, for a RANGE frame with an offset bound over a DOUBLE order key (Bound a float), that
// the key v is NaN. As Flink's RangeBoundComparator, which compares input - current with the bound, every
// comparison with a NaN key is false: a NaN row is within no offset of any row (its own peers and itself
// included), so it is in no frame with an offset start (n PRECEDING, or n FOLLOWING) and its own such
// frame is empty; past an offset end it never is (the frame's end moves over it), as in Flink. NaN keys
// sort last ascending and first descending (appendSortKey), as Flink's normalized keys.
func nanOffset(b, v types.Value) bool {
	return b.T == types.TagFloat && v.T == types.TagFloat && math.IsNaN(v.Float())
}

// inRange reports whether a row sorted before the current peer group, with order value v, is in the
// group's RANGE frame (cur: the group's order value, lim: its rangeLimit).
func (o *sortedOver) inRange(v, cur, lim types.Value) bool {
	b := o.cfg.Frame.Bound
	if b.IsNull() {
		return rangeInFrame(v, cur, o.cfg.Order[0].Desc, o.cfg.Frame.Preceding)
	}
	if v.IsNull() || cur.IsNull() {
		return v.IsNull() && cur.IsNull()
	}
	if nanOffset(b, v) || nanOffset(b, cur) {
		return false
	}
	var c int
	if b.T == types.TagDecimal {
		if v.T != types.TagDecimal {
			v = types.DecimalFromInt(v.I)
		}
		c = types.DecimalCmp(v, lim)
	} else {
		c = cmp.Compare(overFloat(v), lim.Float())
	}
	if o.cfg.Order[0].Desc {
		return c <= 0
	}
	return c >= 0
}

func (o *sortedOver) add(row []types.Value) {
	for _, a := range o.accs {
		a.add(row)
	}
}

func (o *sortedOver) retract(row []types.Value) {
	for _, a := range o.accs {
		a.retract(row)
	}
}

// emit appends row with the current aggregates to the output batch, pushing it when full.
func (o *sortedOver) emit(row []types.Value) error {
	n := len(row) + len(o.accs)
	if len(o.arena)+n > cap(o.arena) {
		o.arena = make([]types.Value, 0, max(sortedOverBatch*n, 4*n))
	}
	s := len(o.arena)
	o.arena = append(o.arena, row...)
	for _, a := range o.accs {
		if o.offsets {
			o.arena = append(o.arena, offsetValue(a, row))
			continue
		}
		o.arena = append(o.arena, a.result())
	}
	o.ob.Append(changelog.Insert, o.arena[s:len(o.arena):len(o.arena)])
	if len(o.ob.Rows) >= sortedOverBatch {
		return o.flush()
	}
	return nil
}

func (o *sortedOver) flush() error {
	if len(o.ob.Rows) == 0 {
		return nil
	}
	err := o.out.Push(&o.ob)
	o.ob.Reset()
	o.arena = o.arena[:0]
	return err
}
