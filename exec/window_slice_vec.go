package exec

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The slice-shared window aggregate's columnar input (issue 13, issue 14): the slice assigner appends
// window_start, window_end and window_time as three TIMESTAMP columns to a columnar batch (no row is built;
// rows whose time is NULL leave the selection), and the aggregate updates its slices from the typed columns
// as groupagg_vec.go updates groups: the key encoding straight from the key columns, each call reading its
// argument columns (accumulateColumns, compactAccumulateColumns). The same rows reach the same slices in
// the same order with the same accumulators, so results and snapshots are those of the row path.
//
// Batches take the row path (vec.RowConv, then Push) where the columns cannot show what the rows would:
// compact slices with a DECIMAL sum, or a key or MIN/MAX column that is not a plain integer (or string for a
// CHAR/VARCHAR key) column; the row path then decides about leaving the compact slices as it always does.

// windowColumnBatches counts the columnar batches slice-shared window aggregates took as columns.
var windowColumnBatches atomic.Int64

// WindowColumnBatches is the number of columnar batches slice-shared window aggregates have taken as columns.
func WindowColumnBatches() int64 { return windowColumnBatches.Load() }

// AcceptsColumns: a slice assigner passes columns on when its output takes them; a window assigner that
// copies rows into several windows does not.
func (w *windowAssigner) AcceptsColumns() bool { return w.slice > 0 && vec.Accepts(w.out) }

// PushColumns assigns every selected row of b its slice: b's columns plus window_start, window_end and
// window_time, the rows with a NULL time left out of the selection.
func (w *windowAssigner) PushColumns(b *vec.Batch) error {
	tc := b.Cols[w.col]
	if w.slice <= 0 || tc.Kind != vec.Int64 {
		return w.Push(w.colsConv().Rows(b))
	}
	v := w.colsVec()
	n := b.N
	start, end, wt := v.win[0], v.win[1], v.win[2]
	for _, c := range v.win {
		c.Reset(n)
		c.I64 = append(c.I64[:0], make([]int64, n)...)
	}
	v.sel = v.sel[:0]
	nulls := false
	for k, m := 0, b.Len(); k < m; k++ {
		i := b.Row(k)
		if tc.Nulls.Get(i) {
			nulls = true
			continue
		}
		v.sel = append(v.sel, int32(i))
		t := tc.I64[i]
		ts := t
		if w.ltz {
			_, off := time.UnixMilli(ts).In(w.loc).Zone()
			ts += int64(off) * 1000
		}
		s := ts - floorMod(ts-w.spec.Offset, w.slice)
		e := s + w.slice
		start.I64[i], end.I64[i] = s, e
		if w.ltz {
			wt.I64[i] = t + (e - 1 - ts)
		} else {
			wt.I64[i] = e - 1
		}
	}
	sel := b.Sel
	if nulls {
		if len(v.sel) == 0 {
			return nil
		}
		sel = v.sel
	}
	if b.Len() == 0 {
		return nil
	}
	v.cols = append(append(v.cols[:0], b.Cols...), start, end, wt)
	v.out = vec.Batch{N: n, Kinds: b.Kinds, Sel: sel, Cols: v.cols}
	err := vec.Push(w.out, &v.out, &v.outConv)
	clear(v.cols)
	v.out = vec.Batch{}
	return err
}

// assignerVec is a slice assigner's scratch for columnar batches.
type assignerVec struct {
	win     [3]*vec.Col // window_start, window_end, window_time
	cols    []*vec.Col
	sel     []int32
	out     vec.Batch
	inConv  vec.RowConv
	outConv vec.RowConv
}

func (w *windowAssigner) colsVec() *assignerVec {
	if w.vx == nil {
		w.vx = &assignerVec{}
		for i := range w.vx.win {
			w.vx.win[i] = &vec.Col{Kind: vec.Int64, Tag: types.TagTimestamp}
		}
	}
	return w.vx
}

func (w *windowAssigner) colsConv() *vec.RowConv { return &w.colsVec().inConv }

var _ vec.Output = (*windowAssigner)(nil)

// AcceptsColumns: slices of in-memory state take columnar batches.
func (w *sliceWindowAgg) AcceptsColumns() bool { return w.cfg.Store == nil }

// PushColumns aggregates the selected rows of b into their slices.
func (w *sliceWindowAgg) PushColumns(b *vec.Batch) error {
	p := w.proto
	if err := p.checkColumns(b, "window aggregate"); err != nil {
		return err
	}
	if !w.AcceptsColumns() || b.Cols[w.cfg.Keys[w.endKey]].Kind != vec.Int64 || w.c != nil && !w.compactColumnsOK(b) {
		return w.pushRowsOf(b)
	}
	if b.Len() == 0 {
		return nil
	}
	windowColumnBatches.Add(1)
	p.bindColumns(b)
	defer p.unbindColumns()
	if w.c != nil {
		return w.pushCompactColumns(b)
	}
	return w.pushMapColumns(b)
}

func (w *sliceWindowAgg) pushRowsOf(b *vec.Batch) error {
	if w.conv == nil {
		w.conv = new(vec.RowConv)
	}
	return w.Push(w.conv.Rows(b))
}

// compactColumnsOK reports whether the compact slices can take b's columns as they are: key columns (other
// than the window's) of plain integers or strings, MIN/MAX arguments of plain integers, no DECIMAL sum.
func (w *sliceWindowAgg) compactColumnsOK(b *vec.Batch) bool {
	for _, i := range w.c.part {
		if !compactKeyColFits(b.Cols[w.cfg.Keys[i]], w.proto.keyTypes[i]) {
			return false
		}
	}
	return compactArgColsFit(w.c.lay, w.proto.specs, b)
}

// pushCompactColumns is pushCompact (window_slice_compact.go) over a columnar batch compactColumnsOK took.
func (w *sliceWindowAgg) pushCompactColumns(b *vec.Batch) error {
	endCol := b.Cols[w.cfg.Keys[w.endKey]]
	p := w.proto
	stride := w.c.lay.stride
	var cur *cslice
	curEnd := int64(0)
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		if kind := b.Kind(i); kind.IsRetract() {
			return errSliceRetract(kind)
		}
		if endCol.Nulls.Get(i) {
			continue
		}
		end := endCol.I64[i]
		if cur == nil || end != curEnd {
			if le := w.spec.lastWindowEnd(end) - 1; le <= w.fired || w.belowFloor(le) {
				w.Late++
				cur = nil
				continue
			}
			cur, curEnd = w.cslice(w.mergeTarget(end)), end
		}
		w.keyBuf = w.keyBuf[:0]
		for _, ki := range w.c.part {
			w.keyBuf = types.AppendKey(w.keyBuf, colKeyValue(b.Cols[w.cfg.Keys[ki]], i), p.keyTypes[ki])
		}
		gi := cur.find(w.keyBuf, stride)
		p.compactAccumulateColumns(cur.group(gi, stride), i, 1)
	}
	return nil
}

// pushMapColumns is Push (window_slice.go) over a columnar batch.
func (w *sliceWindowAgg) pushMapColumns(b *vec.Batch) error {
	endCol := b.Cols[w.cfg.Keys[w.endKey]]
	p := w.proto
	var cur *windowState
	curEnd := int64(0)
	moved := false // the rows of the current slice go to an earlier slice (mergeTarget)
	var sv, ev types.Value
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		if kind := b.Kind(i); kind.IsRetract() {
			return errSliceRetract(kind)
		}
		if endCol.Nulls.Get(i) {
			continue
		}
		end := endCol.I64[i]
		if cur == nil || end != curEnd {
			if le := w.spec.lastWindowEnd(end) - 1; le <= w.fired || w.belowFloor(le) {
				w.Late++
				cur = nil
				continue
			}
			target := w.mergeTarget(end)
			cur, curEnd, moved = w.slice(target), end, target != end
			sv, ev = types.TimestampValue(target-w.spec.sliceSize(), 0), types.TimestampValue(target, 0)
		}
		w.keyBuf = w.keyBuf[:0]
		for j, kc := range w.cfg.Keys {
			var v types.Value
			switch {
			case moved && j == w.startKey:
				v = sv
			case moved && j == w.endKey:
				v = ev
			default:
				v = colKeyValue(b.Cols[kc], i)
			}
			w.keyBuf = types.AppendKey(w.keyBuf, v, p.keyTypes[j])
		}
		st := cur.groups[string(w.keyBuf)]
		if st == nil {
			st = p.newGroup()
			for j, kc := range w.cfg.Keys {
				v := keyValue(b.Cols[kc], i)
				if v.S != "" {
					v.S = strings.Clone(v.S) // the group outlives the batch's arena, which stays reusable
				}
				st.prev[j] = v
			}
			if moved {
				st.prev[w.startKey], st.prev[w.endKey] = sv, ev
			}
			cur.groups[string(w.keyBuf)] = st
		}
		st.count++
		p.accumulateColumns(st.accs, i, 1)
	}
	return nil
}

var _ vec.Output = (*sliceWindowAgg)(nil)
