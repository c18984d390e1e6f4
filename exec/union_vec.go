package exec

import (
	"sync"

	"github.com/sluicesql/sluice/vec"
)

// Columnar batches through a union (NewUnion): an input takes columns when the union's output does, and
// passes them on unchanged (parallel source subtasks meeting a sink or operator that takes columns, as one
// source instance would). Watermarks and the end go through the union's rows path, so they are the same.

var unionConvs = sync.Pool{New: func() any { return new(vec.RowConv) }}

// PushColumns passes b on as columns when the union's output takes them, else as rows.
func (in *unionInput) PushColumns(b *vec.Batch) error {
	if o, ok := in.u.out.(vec.Output); ok && o.AcceptsColumns() {
		return o.PushColumns(b)
	}
	conv := unionConvs.Get().(*vec.RowConv)
	defer unionConvs.Put(conv)
	return in.u.out.Push(conv.Rows(b))
}

// AcceptsColumns: the union takes columns when its output does.
func (in *unionInput) AcceptsColumns() bool { return vec.Accepts(in.u.out) }

var _ vec.Output = (*unionInput)(nil)
