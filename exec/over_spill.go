package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// overSpill is the sorting OVER operator's mode once its rows outgrow OverConfig.MemBudget, as Flink's
// batch OverAggregate behind its spilling sort: every row, those kept so far and those to come, goes to a
// spilling sort (NewSort, the same budget and directory) by partition, then order key, then arrival, with
// the partition's group key bytes as a leading BYTES column, so that partitions come out in the order the
// in-memory mode emits them (sorted group keys, which types.AppendKey makes self-delimiting) and peers in
// arrival order. The sorted rows stream through the frame evaluator one partition at a time, its queues
// copying what a frame still needs and spilling it past the budget: no partition is ever held whole.
type overSpill struct {
	sort     *sortOp
	in       changelog.Batch
	arena    []types.Value
	lastPart string
	// the sorted side
	part    string
	started bool
	kbuf    []byte
}

// startSpill moves the rows kept so far into the spilling sort.
func (o *sortedOver) startSpill() error {
	keys := []SortKey{{Col: 0, NullsFirst: true}}
	for _, k := range o.cfg.Order {
		k.Col++
		keys = append(keys, k)
	}
	sp := &overSpill{}
	sp.sort = NewSort(keys, -1, 0, o.cfg.MemBudget, o.cfg.SpillDir, &overSpillSink{o: o}).(*sortOp)
	sp.sort.onSpill = func(string) { o.SortSpills++ }
	o.spill = sp
	o.ev.close()
	o.ev = newOverEval(o, true)
	for k, p := range o.parts {
		for _, r := range p.rows {
			if err := o.spillRow(k, r.vals); err != nil {
				return err
			}
		}
		delete(o.parts, k)
	}
	o.vals, o.mem = nil, 0
	return o.flushSpillIn()
}

func (o *sortedOver) spillRow(part string, vals []types.Value) error {
	sp := o.spill
	s := len(sp.arena)
	sp.arena = append(sp.arena, types.Value{T: types.TagBytes, S: part})
	sp.arena = append(sp.arena, vals...)
	sp.in.Append(changelog.Insert, sp.arena[s:len(sp.arena):len(sp.arena)])
	if len(sp.in.Rows) >= sortOverBatchIn {
		return o.flushSpillIn()
	}
	return nil
}

// sortOverBatchIn is how many rows go to the spilling sort per push.
const sortOverBatchIn = 1024

func (o *sortedOver) flushSpillIn() error {
	sp := o.spill
	if len(sp.in.Rows) == 0 {
		return nil
	}
	err := sp.sort.Push(&sp.in)
	sp.in.Reset()
	clear(sp.arena)
	sp.arena = sp.arena[:0]
	if err != nil {
		sp.sort.removeRuns()
		return fmt.Errorf("OVER aggregate: %w (option 'io.tmp.dirs')", err)
	}
	return nil
}

func (o *sortedOver) pushSpill(b *changelog.Batch) error {
	sp := o.spill
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert {
			sp.sort.removeRuns()
			return fmt.Errorf("OVER aggregate: input carries a %s row; OVER aggregation takes insert-only input", r.Kind)
		}
		o.kbuf = appendGroupKey(o.kbuf[:0], r.Vals, o.cfg.Partition, o.partTypes)
		if string(o.kbuf) != sp.lastPart {
			sp.lastPart = string(o.kbuf)
		}
		if err := o.spillRow(sp.lastPart, r.Vals); err != nil {
			return err
		}
	}
	return o.flushSpillIn()
}

// endSpill sorts (merging the spilled runs, which the sort removes) and emits every partition.
func (o *sortedOver) endSpill() error {
	if err := o.flushSpillIn(); err != nil {
		return err
	}
	if err := o.spill.sort.End(); err != nil {
		return err
	}
	if err := o.flush(); err != nil {
		return err
	}
	return o.out.End()
}

// Close releases the operator's files in 'io.tmp.dirs' (the spilled sorted runs and the frame queues'
// files, all unlinked already) when its job ends without its End: a failure or cancellation elsewhere
// would otherwise hold their space until the garbage collector finalizes the dropped files. The engine
// calls it when the job's attempt ends, whatever its outcome; after End there is nothing left to release.
// It must not run concurrently with Push or End.
func (o *sortedOver) Close() {
	if o.spill != nil {
		o.spill.sort.removeRuns()
	}
	o.ev.close()
}

// overSpillSink takes the spilling sort's output: rows by partition (the leading column) and order key.
type overSpillSink struct{ o *sortedOver }

func (s *overSpillSink) Push(b *changelog.Batch) error {
	o := s.o
	sp := o.spill
	for _, r := range b.Rows {
		part, vals := r.Vals[0].S, r.Vals[1:]
		if !sp.started || part != sp.part {
			if sp.started {
				if err := o.ev.finish(); err != nil {
					return err
				}
			}
			if err := o.ev.start(); err != nil {
				return err
			}
			sp.part, sp.started = part, true
		}
		sp.kbuf = appendSortKey(sp.kbuf[:0], vals, o.cfg.Order)
		if err := o.ev.row(vals, sp.kbuf); err != nil {
			return err
		}
	}
	return nil
}

func (s *overSpillSink) Watermark(int64) error { return nil }

func (s *overSpillSink) End() error {
	if s.o.spill.started {
		return s.o.ev.finish()
	}
	return nil
}
