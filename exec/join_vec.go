package exec

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The regular join's columnar input (issue 13, issue 14): an insert-only side takes columnar batches, so
// that a hash exchange in front of the join gathers each keyed subtask's rows into column batches instead
// of building rows in the sender (and a columnar chain at parallelism 1 reaches the join as columns). The
// join's store keeps rows in its own encoding, and its matching and output work on row values, so a batch is
// converted once, into one reused value arena (vec.RowConv: no allocation per row, strings share the
// batch's byte arenas for the duration of the push, as the store copies what it keeps). The join keys and
// their hashes are computed from the key columns before the push (keyBytes over the key values read from
// the columns, the bytes the rows would give) and the push uses them as it uses the warmed keys
// (join_warm.go), warming the store's lookups of large sides as it would.
//
// A side that may retract takes rows (AcceptsColumns is false), and a batch pushed to it as columns anyway
// goes through the same conversion.

// joinColumnBatches counts the columnar batches regular joins took.
var joinColumnBatches atomic.Int64

// JoinColumnBatches is the number of columnar batches regular joins have taken.
func JoinColumnBatches() int64 { return joinColumnBatches.Load() }

// AcceptsColumns: an insert-only side of a streaming join takes columns.
func (in *joinInput) AcceptsColumns() bool {
	cfg := &in.j.cfg
	if cfg.Batch {
		return false
	}
	if in.side == 0 {
		return cfg.LeftInsertOnly || cfg.Interval != nil
	}
	return cfg.RightInsertOnly || cfg.Interval != nil
}

// PushColumns joins the selected rows of b.
func (in *joinInput) PushColumns(b *vec.Batch) error {
	j, s := in.j, in.side
	if in.conv == nil {
		in.conv = new(vec.RowConv)
	}
	rows := in.conv.Rows(b)
	if in.AcceptsColumns() {
		joinColumnBatches.Add(1)
		j.colKeyed = j.columnKeys(s, b)
	}
	return j.push(s, rows)
}

// columnKeys fills the warmed keys (j.wkeys, j.wkoff, j.whas, j.whash) of the selected rows of b from the
// key columns and returns how many it filled: up to the first row whose key does not encode (push reports
// it). The key values are read without exporting string arenas (keyBytes copies them).
func (j *joinOp) columnKeys(s int, b *vec.Batch) int {
	sd := &j.sides[s]
	for _, c := range sd.keys {
		if c >= len(b.Cols) {
			return 0 // push reports the short row
		}
	}
	if cap(j.colRow) < sd.width {
		j.colRow = make([]types.Value, sd.width) // keyBytes reads the key columns' slots only
	}
	row := j.colRow[:sd.width]
	j.wkeys, j.wkoff, j.whas, j.whash = j.wkeys[:0], append(j.wkoff[:0], 0), j.whas[:0], j.whash[:0]
	st := &sd.st
	for k, n := 0, b.Len(); k < n; k++ {
		i := b.Row(k)
		for _, c := range sd.keys {
			row[c] = keyValue(b.Cols[c], i)
		}
		key, hasKey, err := j.keyBytes(s, row)
		if err != nil {
			break
		}
		j.wkeys = append(j.wkeys, key...)
		j.wkoff = append(j.wkoff, len(j.wkeys))
		j.whas = append(j.whas, hasKey)
		j.whash = append(j.whash, st.hash(key))
	}
	clear(row)
	return len(j.whash)
}

var _ vec.Output = (*joinInput)(nil)
