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
	// pending is a -U row waiting for its +U (possibly in the next push), so that each set's -U is
	// immediately followed by its +U, as the changelog contract requires.
	pending    []types.Value
	hasPending bool
}

// expandChunk bounds the rows of one pushed batch.
const expandChunk = 4096

func (e *expand) Push(b *changelog.Batch) error {
	e.batch.Reset()
	e.arena = e.arena[:0]
	for _, row := range b.Rows {
		switch {
		case row.Kind == changelog.UpdateBefore && len(e.nulls) > 1:
			if e.hasPending {
				if err := e.flushPending(); err != nil {
					return err
				}
			}
			e.pending = append(e.pending[:0], row.Vals...)
			e.hasPending = true
			continue
		case row.Kind == changelog.UpdateAfter && e.hasPending:
			e.hasPending = false
			for i := range e.nulls {
				if err := e.append(changelog.UpdateBefore, e.pending, i); err != nil {
					return err
				}
				if err := e.append(changelog.UpdateAfter, row.Vals, i); err != nil {
					return err
				}
			}
			continue
		case e.hasPending:
			if err := e.flushPending(); err != nil {
				return err
			}
		}
		for i := range e.nulls {
			if err := e.append(row.Kind, row.Vals, i); err != nil {
				return err
			}
		}
	}
	if len(e.batch.Rows) == 0 && len(b.Rows) > 0 {
		return nil
	}
	// An empty input batch is passed on, as Calc does (sources use one to signal idleness).
	return e.out.Push(&e.batch)
}

// flushPending emits a -U row not followed by its +U (a broken input contract) as it is, set by set.
func (e *expand) flushPending() error {
	e.hasPending = false
	for i := range e.nulls {
		if err := e.append(changelog.UpdateBefore, e.pending, i); err != nil {
			return err
		}
	}
	return nil
}

// append adds row as set i's copy to the output batch, pushing the batch first when it is full (never
// between a -U and its +U).
func (e *expand) append(k changelog.Kind, row []types.Value, i int) error {
	if len(e.batch.Rows) >= expandChunk && k != changelog.UpdateAfter {
		if err := e.out.Push(&e.batch); err != nil {
			return err
		}
		e.batch.Reset()
		e.arena = e.arena[:0]
	}
	w := len(row) + 1
	if cap(e.arena)-len(e.arena) < w {
		// A new arena: the rows already appended keep pointing into the old one.
		e.arena = make([]types.Value, 0, max(expandChunk*w, 2*cap(e.arena)))
	}
	start := len(e.arena)
	e.arena = append(e.arena, row...)
	for _, c := range e.nulls[i] {
		e.arena[start+c] = types.NullValue
	}
	e.arena = append(e.arena, types.IntValue(e.ids[i]))
	e.batch.Append(k, e.arena[start:start+w:start+w])
	return nil
}

func (e *expand) End() error {
	if e.hasPending {
		e.batch.Reset()
		e.arena = e.arena[:0]
		if err := e.flushPending(); err != nil {
			return err
		}
		if err := e.out.Push(&e.batch); err != nil {
			return err
		}
	}
	return e.out.End()
}

func (e *expand) Watermark(ts int64) error { return e.out.Watermark(ts) }
