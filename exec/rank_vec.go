package exec

import (
	"fmt"
	"sync/atomic"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The columnar input of a deduplication (a streaming ROW_NUMBER() = 1 over an insert-only input, keeping the
// first or the last row of each partition: Nexmark q18, q9's tail) and of a streaming Top-N (Nexmark q19;
// any function and limit; an insert-only or an updating input): a hash exchange in front of it gathers
// each keyed subtask's rows into column batches instead of building rows in the sender. The partition keys
// and their hashes are computed from the partition columns up front (the bytes the rows would give, the
// values read without exporting string arenas, as partKey copies them) and used as the warmed keys
// (rank_warm.go); the sort key is read from the order columns the same way. A row is converted, into one
// reused slice, only when it is stored (a kept-first duplicate, numbered past the limit, never is); the
// emitted row is copied from it into the output's arena, its strings sharing the batch's (exported) byte
// arenas as a converted batch's would. Output, state and snapshots are those of the row path.
//
// A Rank over an updating input takes columns the same way (since the fourteenth session): a retraction's
// row is converted to be compared with the stored rows, as an insertion's is to be stored. Batch Ranks take
// rows (AcceptsColumns is false); columns pushed to them anyway are converted to rows.

// rankColumnBatches counts the columnar batches streaming Ranks took.
var rankColumnBatches atomic.Int64

// RankColumnBatches is the number of columnar batches streaming Ranks have taken.
func RankColumnBatches() int64 { return rankColumnBatches.Load() }

// AcceptsColumns: a streaming Rank takes columns.
func (r *rankOp) AcceptsColumns() bool { return !r.cfg.Batch }

// PushColumns ranks the selected rows of b.
func (r *rankOp) PushColumns(b *vec.Batch) error {
	if !r.AcceptsColumns() {
		if r.conv == nil {
			r.conv = new(vec.RowConv)
		}
		return r.Push(r.conv.Rows(b))
	}
	rankColumnBatches.Add(1)
	w := len(b.Cols)
	for _, c := range r.cfg.Partition {
		if c >= w {
			return fmt.Errorf("rank: a row has %d columns, fewer than the operator reads", w)
		}
	}
	for _, k := range r.cfg.Order {
		if k.Col >= w {
			return fmt.Errorf("rank: a row has %d columns, fewer than the operator reads", w)
		}
	}
	n := b.Len()
	r.begin() // as Push: the TTL's clock ticks for an empty batch too
	if cap(r.colKey) < w {
		r.colKey = make([]types.Value, w)
	}
	row := r.colKey[:w] // only the partition and order columns' slots are read
	defer clear(row)
	if err := r.columnKeys(b, row); err != nil {
		return err
	}
	if st := &r.st.st; len(st.slots) > 0 && len(st.slots) >= r.warmSlots && n >= 2 {
		r.warmReads()
	}
	for k := 0; k < n; k++ {
		i := b.Row(k)
		for _, o := range r.cfg.Order {
			row[o.Col] = rankKeyValue(b.Cols[o.Col], i)
		}
		key, h := r.warmKey(k)
		r.apply(b.Kind(i).IsAccumulate(), key, h, r.sortKey(r.nbuf[:0], row), nil, b, i)
	}
	return r.finish()
}

// columnKeys fills r.pkeys, r.pkoff and r.phash for the selected rows of b from the partition columns.
func (r *rankOp) columnKeys(b *vec.Batch, row []types.Value) error {
	st := &r.st.st
	r.pkeys, r.pkoff, r.phash = r.pkeys[:0], append(r.pkoff[:0], 0), r.phash[:0]
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		if kind := b.Kind(i); !kind.IsAccumulate() && r.cfg.InsertOnly {
			return fmt.Errorf("rank: the input was planned as insert-only but carries a %s row", kind)
		}
		for _, c := range r.cfg.Partition {
			row[c] = rankKeyValue(b.Cols[c], i)
		}
		start := len(r.pkeys)
		r.pkeys = r.partKey(r.pkeys, row)
		r.pkoff = append(r.pkoff, len(r.pkeys))
		r.phash = append(r.phash, st.hash(r.pkeys[start:]))
	}
	return nil
}

// colRowAt converts row i of b into r.colRow (valid until the next call).
func (r *rankOp) colRowAt(b *vec.Batch, i int) []types.Value {
	w := len(b.Cols)
	if cap(r.colRow) < w {
		r.colRow = make([]types.Value, w)
	}
	row := r.colRow[:w]
	for j, c := range b.Cols {
		if plainInts(c) {
			row[j] = intAt(c, i)
		} else {
			row[j] = c.Value(i)
		}
	}
	return row
}

// plainInts reports whether c's values are its int64s with its tag (integers, dates, times, timestamps
// without nanoseconds): what c.Value gives, read without its switch.
func plainInts(c *vec.Col) bool {
	return c.Kind == vec.Int64 && c.Tag != types.TagDecimal && c.Nanos == nil
}

func intAt(c *vec.Col, i int) types.Value {
	if c.Nulls.Get(i) {
		return types.NullValue
	}
	return types.Value{T: c.Tag, I: c.I64[i]}
}

// rankKeyValue is value i of c for a key (keyValue): plain integers and timestamps (an order column) read
// straight.
func rankKeyValue(c *vec.Col, i int) types.Value {
	if plainInts(c) {
		return intAt(c, i)
	}
	return keyValue(c, i)
}

var _ vec.Output = (*rankOp)(nil)
