package exec

import (
	"github.com/sluicesql/sluice/vec"
)

// Processing-time windows on columns: the clock (NewProctimeClock) passes columnar batches on, and the stamp
// (NewProctimeStamp) writes its clock into a time column of its own, which replaces the input's time column
// in the batch it passes on (the input's columns are not written: they may be another consumer's). Behind
// them a slice assigner and the slice-shared window aggregate take the columns (window_slice_vec.go); an
// output that takes rows gets the batch converted, as before.

// AcceptsColumns: the clock passes columns on when its output takes them.
func (c *proctimeClock) AcceptsColumns() bool { return vec.Accepts(c.out) }

// PushColumns forwards b and emits the clock, as Push.
func (c *proctimeClock) PushColumns(b *vec.Batch) error {
	if c.conv == nil {
		c.conv = new(vec.RowConv)
	}
	if err := vec.Push(c.out, b, c.conv); err != nil {
		return err
	}
	return c.tick(c.now())
}

// stampVec is a stamp's scratch for columnar batches.
type stampVec struct {
	col  vec.Col // the stamped time column
	cols []*vec.Col
	out  vec.Batch
	conv vec.RowConv
}

// AcceptsColumns: the stamp passes columns on when its output takes them.
func (s *proctimeStamp) AcceptsColumns() bool { return vec.Accepts(s.clock.out) }

// PushColumns stamps the rows of b as Push does (a NULL time stays NULL), then emits the clock.
func (s *proctimeStamp) PushColumns(b *vec.Batch) error {
	if s.vx == nil {
		s.vx = &stampVec{}
	}
	x := s.vx
	tc := b.Cols[s.col]
	if tc.Kind != vec.Int64 {
		// not the TIMESTAMP_LTZ column a PROCTIME() is: the row path says what is wrong with it
		return s.Push(x.conv.Rows(b))
	}
	t := max(s.clock.now().UnixMilli(), s.floor)
	s.floor = t
	c := &x.col
	c.Reset(b.N)
	c.Kind, c.Tag = vec.Int64, tc.Tag
	for range b.N {
		c.I64 = append(c.I64, t)
	}
	c.Nulls = tc.Nulls // read only: the same rows are NULL
	x.cols = append(x.cols[:0], b.Cols...)
	x.cols[s.col] = c
	x.out = vec.Batch{N: b.N, Kinds: b.Kinds, Sel: b.Sel, Cols: x.cols}
	err := vec.Push(s.clock.out, &x.out, &x.conv)
	clear(x.cols)
	x.out = vec.Batch{}
	c.Nulls = nil
	if err != nil {
		return err
	}
	return s.tick()
}

var (
	_ vec.Output = (*proctimeClock)(nil)
	_ vec.Output = (*proctimeStamp)(nil)
)
