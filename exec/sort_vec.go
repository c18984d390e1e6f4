package exec

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The batch sort's columnar output (issue 14, vectorized execution): a sort that knows its input's column
// types (NewSortColumns) and whose output takes columns (vec.Accepts, checked at End) emits its sorted rows as
// columnar batches of the same rows in the same order, so that a keyed batch GROUP BY behind it runs on
// columns (groupagg_batch.go). Each emitted row's values are appended to typed columns (vec.ColFor; a Values
// column for a type without an exact columnar form); a value the typed column cannot hold exactly (a DECIMAL
// of another scale or beyond int64, an unexpected representation) turns its column into a Values column (the
// values so far, then the rest of the sort's output: such values tend to recur). The buffered rows, the
// spill runs and their format are the row sort's.

// sortColumnBatches counts the columnar batches batch sorts emitted (tests check the path).
var sortColumnBatches atomic.Int64

// SortColumnBatches is the number of columnar batches batch sorts of this process have emitted.
func SortColumnBatches() int64 { return sortColumnBatches.Load() }

// NewSortColumns is NewSort without a limit for input of column types inTypes: it emits columnar batches
// when out takes them (vec.Accepts), rows otherwise.
func NewSortColumns(keys []SortKey, memBudget int64, spillDir string, inTypes []types.Type, out changelog.Output) changelog.Output {
	s := NewSort(keys, -1, 0, memBudget, spillDir, out).(*sortOp)
	s.colTypes = inTypes
	return s
}

// sortCols is the columnar batch being filled.
type sortCols struct {
	b vec.Batch
	n int // rows appended
}

// startColumns prepares the columnar batch when the sort knows its column types and its output takes
// columns (called at End, as the rows are emitted).
func (s *sortOp) startColumns() {
	if s.colTypes == nil || !vec.Accepts(s.out) {
		s.vc = nil
		return
	}
	if s.vc == nil {
		s.vc = &sortCols{}
		for _, t := range s.colTypes {
			c := &vec.Col{Kind: vec.Values}
			if vec.Exact(t) {
				c = vec.ColFor(t)
			}
			s.vc.b.Cols = append(s.vc.b.Cols, c)
		}
	}
	s.resetColumns()
}

func (s *sortOp) resetColumns() {
	vc := s.vc
	for _, c := range vc.b.Cols {
		c.Reset(sortOutBatch)
	}
	vc.n = 0
	vc.b.N, vc.b.Sel, vc.b.Kinds = 0, nil, nil
}

// rowColumns appends vals to the columnar batch (flushing it when full). A row whose values do not all fit
// their columns is pushed as a row after the batch so far.
func (e *sortEmitter) rowColumns(vals []types.Value) error {
	s := e.s
	vc := s.vc
	if len(vals) != len(vc.b.Cols) {
		return e.rowFallback(vals)
	}
	for j, v := range vals {
		if !vc.b.Cols[j].Append(vc.n, v) {
			vc.b.Cols[j].Truncate(vc.n)
			vc.b.Cols[j] = valuesCol(vc.b.Cols[j], vc.n)
			vc.b.Cols[j].Append(vc.n, v)
		}
	}
	vc.n++
	if vc.n >= sortOutBatch {
		return e.flushColumns()
	}
	return nil
}

// valuesCol returns the first n rows of c as a Values column.
func valuesCol(c *vec.Col, n int) *vec.Col {
	v := &vec.Col{Kind: vec.Values, Vals: make([]types.Value, n, max(n, sortOutBatch))}
	for i := range n {
		v.Vals[i] = c.Value(i)
	}
	return v
}

// rowFallback pushes the columns so far, then vals as a row.
func (e *sortEmitter) rowFallback(vals []types.Value) error {
	if err := e.flushColumns(); err != nil {
		return err
	}
	s := e.s
	s.arena = append(s.arena[:0], vals...)
	s.batch.Append(changelog.Insert, s.arena[:len(vals):len(vals)])
	return e.flushRows()
}

// flushColumns pushes the columnar batch, if it holds rows.
func (e *sortEmitter) flushColumns() error {
	s := e.s
	vc := s.vc
	if vc.n == 0 {
		return nil
	}
	vc.b.N = vc.n
	sortColumnBatches.Add(1)
	err := s.out.(vec.Output).PushColumns(&vc.b)
	s.resetColumns()
	return err
}
