package exec

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The one-phase streaming group aggregate's columnar input (issue 14, vectorized execution): a columnar batch
// (a nexmark or Kafka JSON chain of column kernels) is aggregated row by row as the row path does — one
// change per row, the same rows in the same order, the same state — but without converting the batch to
// rows: the key is encoded straight from the key columns (the bytes appendGroupKey gives the row's values),
// and each call reads its arguments from the columns. COUNT, COUNT(*), SUM/SUM0/AVG of integer and
// floating-point columns, insert-only MIN/MAX of integer columns and COUNT(DISTINCT x) read the typed slices
// (groupagg_vec_calls.go); every other call gets the values of its argument columns in a scratch row (no row
// of the whole batch is built). Compact groups (groupagg_compact.go) update their slots from the columns too.
//
// A batch-mode aggregate takes columns by runs of equal keys (groupagg_batch.go). Batches go through the rows
// instead (vec.RowConv, then Push) where the row path does something the columns cannot show exactly: a
// RocksDB ('state.backend.type') aggregate, compact groups with a DECIMAL sum or MIN/MAX (they check each
// row's value against int64 first), and compact groups whose key or MIN/MAX column holds values that are not
// plain integers or strings (the row path leaves the compact representation at such a row, so the rows do).

// groupAggColumnBatches counts the columnar batches one-phase group aggregates took without converting them
// (tests check the path).
var groupAggColumnBatches atomic.Int64

// GroupAggColumnBatches is the number of columnar batches one-phase group aggregates have taken as columns.
func GroupAggColumnBatches() int64 { return groupAggColumnBatches.Load() }

// AcceptsColumns: a batch aggregate (groupagg_batch.go) and a streaming aggregate of in-memory state take
// columnar batches.
func (g *groupAgg) AcceptsColumns() bool { return g.cfg.Batch || g.cfg.Store == nil }

// PushColumns aggregates the selected rows of b.
func (g *groupAgg) PushColumns(b *vec.Batch) error {
	if err := g.checkColumns(b, "group aggregate"); err != nil {
		return err
	}
	if g.cfg.Batch {
		return g.pushBatchColumns(b)
	}
	if !g.AcceptsColumns() || g.compact != nil && !g.compactColumnsOK(b) {
		return g.pushRowsOf(b)
	}
	groupAggColumnBatches.Add(1)
	g.bindColumns(b)
	defer g.unbindColumns()
	if g.compact != nil {
		return g.pushCompactColumns(b)
	}
	return g.pushMapColumns(b)
}

// pushRowsOf pushes b converted to rows.
func (g *groupAgg) pushRowsOf(b *vec.Batch) error {
	if g.conv == nil {
		g.conv = new(vec.RowConv)
	}
	return g.Push(g.conv.Rows(b))
}

// checkColumns fails when b lacks a column the keys or calls read (what names the operator in the error).
func (g *groupAgg) checkColumns(b *vec.Batch, what string) error {
	need := -1
	for _, k := range g.cfg.Keys {
		need = max(need, k)
	}
	for _, s := range g.specs {
		need = max(need, s.filter)
		for _, a := range s.args {
			need = max(need, a)
		}
	}
	if need >= len(b.Cols) {
		return fmt.Errorf("%s: a columnar batch of %d columns, the aggregate reads column %d", what, len(b.Cols), need)
	}
	return nil
}

// compactColumnsOK reports whether the compact groups can take b's columns as they are: keys and MIN/MAX
// arguments whose values are plain integers (or strings for CHAR/VARCHAR keys) and no DECIMAL call.
func (g *groupAgg) compactColumnsOK(b *vec.Batch) bool {
	for i, k := range g.cfg.Keys {
		if !compactKeyColFits(b.Cols[k], g.keyTypes[i]) {
			return false
		}
	}
	return compactArgColsFit(g.compact, g.specs, b)
}

// compactKeyColFits reports whether key column col of type t holds its values as compact groups encode them
// from columns: plain strings for CHAR/VARCHAR, plain integers otherwise.
func compactKeyColFits(col *vec.Col, t types.Type) bool {
	switch t.Kind {
	case types.Char, types.VarChar:
		return col.Kind == vec.Bytes && col.Tag == types.TagString
	default:
		return col.Kind == vec.Int64 && col.Tag == types.TagInt
	}
}

// compactArgColsFit reports whether the calls of layout c (specs) can update from b's columns: no DECIMAL
// call, MIN/MAX arguments of plain integers.
func compactArgColsFit(c *compactGroups, specs []*aggSpec, b *vec.Batch) bool {
	if c.hasDec {
		return false
	}
	for i, sp := range specs {
		switch c.kinds[i] {
		case ckMin, ckMax:
			if col := b.Cols[sp.args[0]]; c.dec[i].on || col.Kind != vec.Int64 || col.Tag != types.TagInt {
				return false
			}
		case ckSumDec:
			return false
		case ckMinStr, ckMaxStr:
			if !strColFits(b.Cols[sp.args[0]]) {
				return false
			}
		}
	}
	return true
}

// appendColumnKey appends the key encoding of physical row i of b (appendGroupKey of its row).
func (g *groupAgg) appendColumnKey(dst []byte, b *vec.Batch, i int) []byte {
	for j, k := range g.cfg.Keys {
		dst = types.AppendKey(dst, colKeyValue(b.Cols[k], i), g.keyTypes[j])
	}
	return dst
}

// colKeyValue is keyValue with the common integer column inline.
func colKeyValue(c *vec.Col, i int) types.Value {
	if c.Kind == vec.Int64 && c.Tag == types.TagInt && !c.Nulls.Get(i) {
		return types.Value{T: types.TagInt, I: c.I64[i]}
	}
	return keyValue(c, i)
}

// rowKind returns the kind of physical row i and its sign, failing on a retraction into insert-only input.
func (g *groupAgg) rowKind(b *vec.Batch, i int) (int64, error) {
	k := b.Kind(i)
	if k.IsAccumulate() {
		return 1, nil
	}
	if g.cfg.InsertOnly {
		return 0, fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, k)
	}
	return -1, nil
}

// pushMapColumns is Push (groupagg.go) over a columnar batch.
func (g *groupAgg) pushMapColumns(b *vec.Batch) error {
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
	n := b.Len()
	for k := 0; k < n; k++ {
		i := b.Row(k)
		sign, err := g.rowKind(b, i)
		if err != nil {
			return err // the rows emitted so far go with the next push, as on the row path
		}
		g.keyBuf = g.appendColumnKey(g.keyBuf[:0], b, i)
		st := g.liveGroup(now, snapshotting)
		first := st == nil
		if first {
			if sign < 0 {
				continue // retraction for a key without state (Flink drops it)
			}
			st = g.newGroup()
			st.epoch = g.snap.epoch
			for j, c := range g.cfg.Keys {
				v := keyValue(b.Cols[c], i)
				if v.S != "" {
					v.S = strings.Clone(v.S) // the group outlives the batch's arena, which stays reusable
				}
				st.prev[j] = v
			}
			g.groups[string(g.keyBuf)] = st
		} else if snapshotting {
			g.beforeChange(g.keyBuf, st)
		}
		if sign > 0 {
			st.count++
		} else {
			st.count--
		}
		st.touched = now
		g.accumulateColumns(st.accs, i, sign)
		if !g.emitChange(st, first) {
			delete(g.groups, string(g.keyBuf))
			g.recycle(st)
		}
	}
	return g.flush()
}

// pushCompactColumns is pushCompact (groupagg_compact.go) over a columnar batch that compactColumnsOK took.
func (g *groupAgg) pushCompactColumns(b *vec.Batch) error {
	c := g.compact
	if c.blockable() {
		return g.pushCompactBlocks(b) // groupagg_compact_block.go
	}
	n := b.Len()
	warm := c.warmable()
	for k := 0; k < n; k++ {
		i := b.Row(k)
		sign, err := g.rowKind(b, i)
		if err != nil {
			return err // the rows emitted so far go with the next push, as on the row path
		}
		var key []byte
		var h uint32
		if warm {
			if k%compactWarmRows == 0 {
				c.warmReset()
				for q := k; q < min(k+compactWarmRows, n); q++ {
					c.wkeys = g.appendColumnKey(c.wkeys, b, b.Row(q))
					c.warmAdded()
				}
				c.warmReads()
			}
			key, h = c.warmKey(k % compactWarmRows)
			g.keyBuf = append(g.keyBuf[:0], key...) // compactEmitChange reads it
			key = g.keyBuf
		} else {
			g.keyBuf = g.appendColumnKey(g.keyBuf[:0], b, i)
			key, h = g.keyBuf, c.hashOf(g.keyBuf)
		}
		gi, ok := c.lookupHashed(key, h)
		if !ok {
			if sign < 0 {
				continue
			}
			gi = c.alloc()
			c.insertHashed(key, h, gi)
		}
		s := c.group(gi)
		old := c.old
		for j, kc := range g.cfg.Keys {
			if col := b.Cols[kc]; col.Kind == vec.Bytes {
				old[j] = col.Value(i) // emitted: the string refers to the arena, as a converted row's does
			} else {
				old[j] = colKeyValue(col, i)
			}
		}
		if ok {
			g.compactResults(s, old)
			g.compactStrResults(gi, s, old)
		}
		g.compactAccumulateColumns(s, i, sign)
		if c.x != nil {
			g.compactAccumulateColumnsExtra(gi, s, i, sign)
		}
		g.compactEmitChange(s, gi, ok)
	}
	return g.flush()
}

// compactAccumulateColumns is compactAccumulate of physical row i of the bound batch.
func (g *groupAgg) compactAccumulateColumns(s []int64, i int, sign int64) {
	c := g.compact
	s[0] += sign
	for j, sp := range g.specs {
		cc := &g.cols[j]
		if cc.filter != nil && !colTrue(cc.filter, i) {
			continue
		}
		o := c.off[j]
		switch c.kinds[j] {
		case ckCount:
			if argsPresent(cc.args, i) {
				s[o] += sign
			}
		case ckSumInt:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			s[o] += sign
			if col.Kind == vec.Int64 && col.Tag == types.TagInt {
				s[o+1] += sign * col.I64[i]
			} else {
				s[o+1] += sign * asInt(col.Value(i))
			}
		case ckMin, ckMax: // compactColumnsOK: an Int64 column of plain integers
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			x := col.I64[i]
			switch {
			case s[o] == 0:
				s[o], s[o+1] = 1, x
			case c.kinds[j] == ckMin && x < s[o+1], c.kinds[j] == ckMax && x > s[o+1]:
				s[o+1] = x
			}
		case ckSumFloat:
			col := cc.args[0]
			if col.Nulls.Get(i) {
				continue
			}
			s[o] += sign
			var x float64
			switch {
			case col.Kind == vec.Float64:
				x = col.F64[i]
			default:
				x = asFloat(col.Value(i))
			}
			f := math.Float64frombits(uint64(s[o+1]))
			if sign > 0 {
				f += x
			} else {
				f -= x
			}
			if sp.resType.Kind == types.Float {
				f = float64(float32(f))
			}
			s[o+1] = int64(math.Float64bits(f))
		}
	}
}

// argsPresent reports whether row i is non-NULL in every column of args.
func argsPresent(args []*vec.Col, i int) bool {
	for _, a := range args {
		if a.Nulls.Get(i) {
			return false
		}
	}
	return true
}

var _ vec.Output = (*groupAgg)(nil)

// The global aggregate (groupagg_twophase.go) takes partial rows, not the rows its embedded groupAgg's
// PushColumns aggregates: columns reach it as rows.

func (g *globalGroupAgg) AcceptsColumns() bool { return false }

func (g *globalGroupAgg) PushColumns(b *vec.Batch) error {
	if g.conv == nil {
		g.conv = new(vec.RowConv)
	}
	return g.Push(g.conv.Rows(b))
}
