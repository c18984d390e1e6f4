package exec

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The batch-mode group aggregate over columnar batches (issue 14, vectorized execution). The input is sorted
// (grouped) by the keys, so each group is a run of adjacent rows: the runs are found by comparing each
// selected row's key columns with the previous row's on the typed slices (an equality that is exactly the
// equality of the key encodings pushBatch compares), and each run updates the current group's accumulators
// a call at a time: COUNT, COUNT(*), SUM/SUM0/AVG of integer and floating-point columns and MIN/MAX of
// integer columns in a loop over the run's typed slices; COUNT(DISTINCT x) by x's key encoding; every other
// call (DECIMAL sums and averages, MIN/MAX of other types, FIRST_VALUE, LISTAGG, statistics, DISTINCT calls
// other than COUNT of one argument, ...) from the values of its argument columns, as the row path adds them.
// A group whose run continues into the next batch stays open (its key encoding is kept to compare the next
// batch's first row with). The results, the emitted rows (one +I per group, keys then results, in the row
// path's order), FinalState and the errors are the row path's (pushBatch, groupagg.go).

// groupAggBatchColumnBatches counts the columnar batches batch-mode group aggregates took as columns.
var groupAggBatchColumnBatches atomic.Int64

// GroupAggBatchColumnBatches is the number of columnar batches batch-mode group aggregates took as columns.
func GroupAggBatchColumnBatches() int64 { return groupAggBatchColumnBatches.Load() }

// pushBatchColumns is pushBatch over a columnar batch (checkColumns checked its columns).
func (g *groupAgg) pushBatchColumns(b *vec.Batch) error {
	n := b.Len()
	if b.Kinds != nil {
		for k := 0; k < n; k++ {
			if kind := b.Kinds[b.Row(k)]; !kind.IsAccumulate() {
				return fmt.Errorf("%w: batch mode got %s", ErrRetractionInInsertOnlyInput, kind)
			}
		}
	}
	if n == 0 {
		return nil
	}
	groupAggBatchColumnBatches.Add(1)
	g.bindColumns(b)
	defer g.unbindColumns()
	lo := 0 // the first selected row of the current run
	if g.has {
		g.keyBuf = g.appendColumnKey(g.keyBuf[:0], b, b.Row(0))
		if !bytes.Equal(g.keyBuf, g.curKey) {
			if err := g.emitFinal(); err != nil {
				return err
			}
			g.startGroup(b, b.Row(0))
		}
	} else {
		g.startGroup(b, b.Row(0))
	}
	prev := b.Row(0)
	for k := 1; k < n; k++ {
		i := b.Row(k)
		if g.sameKey(b, prev, i) {
			prev = i
			continue
		}
		g.accumulateRun(b, lo, k)
		if err := g.emitFinal(); err != nil {
			return err
		}
		g.startGroup(b, i)
		lo, prev = k, i
	}
	g.accumulateRun(b, lo, n)
	if g.cfg.FinalState == nil {
		// The open group's key encoding, to compare the next batch's first row with (with FinalState,
		// startGroup set it already).
		g.curKey = g.appendColumnKey(g.curKey[:0], b, b.Row(lo))
	}
	return g.flush()
}

// startGroup makes physical row i of b the first row of the current group: its key values (strings share
// the batch's arena, which Value marks as handed out, as converted rows do) and, with FinalState (which
// writes it), its key encoding.
func (g *groupAgg) startGroup(b *vec.Batch, i int) {
	g.has = true
	for j, c := range g.cfg.Keys {
		g.cur.prev[j] = b.Cols[c].Value(i)
	}
	if g.cfg.FinalState != nil {
		g.curKey = g.appendColumnKey(g.curKey[:0], b, i)
	}
}

// sameKey reports whether physical rows i and j of b have equal key encodings, comparing the typed slices
// where their equality is the encodings' (a column holds one tag and one scale), else the encodings.
func (g *groupAgg) sameKey(b *vec.Batch, i, j int) bool {
	for q, k := range g.cfg.Keys {
		c := b.Cols[k]
		ni, nj := c.Nulls.Get(i), c.Nulls.Get(j)
		if ni || nj {
			if ni != nj {
				return false
			}
			continue
		}
		t := g.keyTypes[q]
		switch {
		case c.Kind == vec.Int64 && t.Kind != types.Float && t.Kind != types.Double:
			// Integers, DATE, TIME, TIMESTAMP (with nanoseconds), intervals, DECIMAL unscaled values of the
			// column's scale: the encoding is injective on them (into a FLOAT/DOUBLE key they are rounded).
			if c.I64[i] != c.I64[j] || c.Nanos != nil && c.Nanos[i] != c.Nanos[j] {
				return false
			}
		case c.Kind == vec.Float64:
			// The encoding makes -0.0 equal to 0.0 and every NaN equal.
			if x, y := c.F64[i], c.F64[j]; x != y && (x == x || y == y) {
				return false
			}
		case c.Kind == vec.Bytes:
			if !bytes.Equal(c.Data[c.Off[i]:c.Off[i+1]], c.Data[c.Off[j]:c.Off[j+1]]) {
				return false
			}
		case c.Kind == vec.Bool:
			if c.B[i] != c.B[j] {
				return false
			}
		case c.Kind == vec.Dec128 && t.Kind == types.Decimal:
			if c.D128[i] != c.D128[j] {
				return false
			}
		default:
			g.keyBuf = types.AppendKey(g.keyBuf[:0], c.Value(i), t)
			n := len(g.keyBuf)
			g.keyBuf = types.AppendKey(g.keyBuf, c.Value(j), t)
			if !bytes.Equal(g.keyBuf[:n], g.keyBuf[n:]) {
				return false
			}
		}
	}
	return true
}

// accumulateRun adds the selected rows lo..hi-1 of the bound batch (one group's run) to the current group.
func (g *groupAgg) accumulateRun(b *vec.Batch, lo, hi int) {
	g.cur.count += int64(hi - lo)
	for j, acc := range g.cur.accs {
		cc := &g.cols[j]
		switch cc.op {
		case ccCount:
			n := int64(0)
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if (cc.filter == nil || colTrue(cc.filter, i)) && argsPresent(cc.args, i) {
					n++
				}
			}
			acc.(*countAcc).n += n
		case ccSumInt:
			col := cc.args[0]
			cnt, sum := int64(0), int64(0)
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if col.Nulls.Get(i) || cc.filter != nil && !colTrue(cc.filter, i) {
					continue
				}
				cnt++
				sum += col.I64[i] // wraps as the row path's sum does
			}
			if cnt > 0 {
				a := acc.(*sumAcc)
				if a.class == numUnknown {
					a.class, a.scale = a.s.class, a.s.scale
				}
				a.cnt += cnt
				a.i += sum
			}
		case ccSumFloat:
			// Added row by row into the accumulator, in the row path's order and rounding.
			col := cc.args[0]
			a := acc.(*sumAcc)
			float32Sum := a.s.resType.Kind == types.Float
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if col.Nulls.Get(i) || cc.filter != nil && !colTrue(cc.filter, i) {
					continue
				}
				if a.class == numUnknown {
					a.class, a.scale = a.s.class, a.s.scale
				}
				a.cnt++
				a.f += col.F64[i]
				if float32Sum {
					a.f = float64(float32(a.f))
				}
			}
		case ccMinMaxInt:
			col := cc.args[0]
			a := acc.(*minMaxAcc)
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if col.Nulls.Get(i) || cc.filter != nil && !colTrue(cc.filter, i) {
					continue
				}
				x := col.I64[i]
				switch {
				case !a.has:
					a.v, a.has = types.Value{T: types.TagInt, I: x}, true
				case a.max && x > a.v.I || !a.max && x < a.v.I:
					a.v.I = x
				}
			}
		case ccCountDistinct:
			col := cc.args[0]
			a := acc.(*distinctAcc)
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if col.Nulls.Get(i) || cc.filter != nil && !colTrue(cc.filter, i) {
					continue
				}
				g.dkey = types.AppendKey(g.dkey[:0], keyValue(col, i), a.s.argType)
				if a.changeKey(g.dkey, 1) {
					a.inner.(*countAcc).n++
				}
			}
		default:
			row, args := g.colRow, g.specs[j].args
			for k := lo; k < hi; k++ {
				i := b.Row(k)
				if cc.filter != nil && !colTrue(cc.filter, i) {
					continue
				}
				for q, a := range args {
					row[a] = cc.args[q].Value(i)
				}
				acc.add(row)
			}
		}
	}
}
