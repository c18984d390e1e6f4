package exec

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// NewExpand returns the operator of GROUPING SETS, ROLLUP and CUBE (Flink's Expand): each input row is
// emitted once per grouping set i, with the columns nulls[i] (ascending) set to NULL and the grouping id
// ids[i] appended as a BIGINT, keeping the row's kind (a retraction expands into the same rows).
func NewExpand(nulls [][]int, ids []int64, out changelog.Output) changelog.Output {
	return &expand{nulls: nulls, ids: ids, out: out}
}

type expand struct {
	nulls [][]int
	ids   []int64
	out   changelog.Output
	batch changelog.Batch
	arena []types.Value // the values of the rows in batch, reused across pushes
}

// expandChunk bounds the rows of one pushed batch.
const expandChunk = 4096

func (e *expand) Push(b *changelog.Batch) error {
	e.batch.Reset()
	e.arena = e.arena[:0]
	for _, row := range b.Rows {
		w := len(row.Vals) + 1
		for i, nulls := range e.nulls {
			if len(e.batch.Rows) == expandChunk {
				if err := e.out.Push(&e.batch); err != nil {
					return err
				}
				e.batch.Reset()
				e.arena = e.arena[:0]
			}
			if cap(e.arena)-len(e.arena) < w {
				// A new arena: the rows already appended keep pointing into the old one.
				e.arena = make([]types.Value, 0, max(expandChunk*w, 2*cap(e.arena)))
			}
			start := len(e.arena)
			e.arena = append(e.arena, row.Vals...)
			vals := e.arena[start : start+w-1 : start+w]
			for _, c := range nulls {
				vals[c] = types.NullValue
			}
			e.arena = append(e.arena, types.IntValue(e.ids[i]))
			e.batch.Append(row.Kind, e.arena[start:start+w:start+w])
		}
	}
	if len(e.batch.Rows) == 0 && len(b.Rows) > 0 {
		return nil
	}
	// An empty input batch is passed on, as Calc does (sources use one to signal idleness).
	return e.out.Push(&e.batch)
}

func (e *expand) Watermark(ts int64) error { return e.out.Watermark(ts) }
func (e *expand) End() error               { return e.out.End() }
