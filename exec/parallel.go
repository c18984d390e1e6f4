package exec

import (
	"fmt"
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Parallel runs a keyed operator as n subtasks, each owning the key groups g with g*n/maxParallelism equal to
// its index (Flink's assignment), on n goroutines — fork-join per batch. Push routes every row of a batch to
// the subtask that owns its key (so all changes of a key go, in order, to one subtask), runs the subtasks
// concurrently, waits for them, and then pushes what they emitted downstream itself, subtask by subtask, in
// the caller's goroutine. Downstream operators therefore see one caller at a time, as the changelog.Output
// contract requires, and when Push returns every subtask is idle: a checkpoint taken between pushes sees all
// of them at the same cut. Watermarks and the end of input go to every subtask the same way; the watermark
// is passed on after the rows the subtasks emitted for it.
//
// Snapshots write every subtask's entries into one state (one operator, as at parallelism 1; the
// operator-wide entry once); a restore gives each subtask the entries of the key groups it owns, so a
// checkpoint taken at one parallelism restores at any other.
type Parallel struct {
	keys     []int
	keyTypes []types.Type
	maxPar   int
	subs     []*parSub
	out      changelog.Output
	keyBuf   []byte
	wg       sync.WaitGroup
}

type parSub struct {
	op   changelog.Output
	in   changelog.Batch // this push's rows for the subtask (pointing into the pushed batch)
	col  parCollector
	work chan parWork
	err  error
	idx  int
}

type parWork struct {
	kind itemKind
	wm   int64
}

type itemKind uint8

const (
	itemBatch itemKind = iota
	itemWatermark
	itemEnd
)

// Subtask returns the index of the subtask that owns key group kg among n subtasks (Flink's
// KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup).
func Subtask(kg, maxParallelism, n int) int { return kg * n / maxParallelism }

// parCollector keeps what one subtask emits during one fork-join step.
type parCollector struct {
	batch changelog.Batch
	arena []types.Value
	wm    int64 // the highest watermark emitted; minWatermark for none
	ended bool
}

func (c *parCollector) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		at := len(c.arena)
		c.arena = append(c.arena, r.Vals...)
		c.batch.Rows = append(c.batch.Rows, changelog.Row{Kind: r.Kind, Vals: c.arena[at:len(c.arena):len(c.arena)]})
	}
	return nil
}

func (c *parCollector) Watermark(ts int64) error { c.wm = max(c.wm, ts); return nil }
func (c *parCollector) End() error               { c.ended = true; return nil }

// parallelInline is the batch size below which Push runs the subtasks one after the other in the caller's
// goroutine (a hop to n goroutines costs more than it saves).
const parallelInline = 256

// NewParallel builds n subtasks with mk (each given its own output) in front of out. n < 2 returns mk(out).
func NewParallel(keys []int, keyTypes []types.Type, maxParallelism, n int, mk func(out changelog.Output) (changelog.Output, error), out changelog.Output) (changelog.Output, error) {
	if n < 2 || len(keys) == 0 {
		return mk(out)
	}
	p := &Parallel{keys: keys, keyTypes: keyTypes, maxPar: maxParallelism, out: out}
	for i := range n {
		s := &parSub{idx: i, work: make(chan parWork)}
		s.col.wm = minWatermark
		op, err := mk(&s.col)
		if err != nil {
			p.Close()
			return nil, err
		}
		s.op = op
		p.subs = append(p.subs, s)
		go p.loop(s, s.work) // the channel by value: Close clears the field
	}
	return p, nil
}

// Subtasks returns the subtask operators (for tests and metrics).
func (p *Parallel) Subtasks() []changelog.Output {
	out := make([]changelog.Output, len(p.subs))
	for i, s := range p.subs {
		out[i] = s.op
	}
	return out
}

func (p *Parallel) loop(s *parSub, work <-chan parWork) {
	for w := range work {
		s.err = s.run(w)
		p.wg.Done()
	}
}

func (s *parSub) run(w parWork) error {
	switch w.kind {
	case itemBatch:
		if len(s.in.Rows) == 0 {
			return nil
		}
		return s.op.Push(&s.in)
	case itemWatermark:
		return s.op.Watermark(w.wm)
	default:
		return s.op.End()
	}
}

// Close stops the subtask goroutines (after End, or when the job is abandoned).
func (p *Parallel) Close() {
	for _, s := range p.subs {
		if s.work != nil {
			close(s.work)
			s.work = nil
		}
	}
}

// step runs w on every subtask (concurrently unless inline) and then pushes what they emitted downstream.
func (p *Parallel) step(w parWork, inline bool) error {
	if inline {
		for _, s := range p.subs {
			s.err = s.run(w)
		}
	} else {
		p.wg.Add(len(p.subs))
		for _, s := range p.subs {
			s.work <- w
		}
		p.wg.Wait()
	}
	for _, s := range p.subs {
		if s.err != nil {
			return fmt.Errorf("subtask %d of %d: %w", s.idx+1, len(p.subs), s.err)
		}
	}
	return p.flush(w.kind == itemEnd)
}

// flush pushes the subtasks' output downstream, then the watermark they all reached, then the end.
func (p *Parallel) flush(end bool) error {
	wm := int64(changelog.MaxWatermark)
	for _, s := range p.subs {
		c := &s.col
		if len(c.batch.Rows) > 0 {
			if err := p.out.Push(&c.batch); err != nil {
				return err
			}
		}
		c.batch.Reset()
		c.arena = c.arena[:0]
		wm = min(wm, c.wm)
	}
	if wm != minWatermark {
		for _, s := range p.subs {
			s.col.wm = minWatermark
		}
		if err := p.out.Watermark(wm); err != nil {
			return err
		}
	}
	if end {
		p.Close()
		return p.out.End()
	}
	return nil
}

func (p *Parallel) owner(key []byte) int {
	return Subtask(state.KeyGroup(key, p.maxPar), p.maxPar, len(p.subs))
}

func (p *Parallel) Push(b *changelog.Batch) error {
	for _, s := range p.subs {
		s.in.Reset()
	}
	for _, r := range b.Rows {
		p.keyBuf = appendGroupKey(p.keyBuf[:0], r.Vals, p.keys, p.keyTypes)
		s := p.subs[p.owner(p.keyBuf)]
		s.in.Rows = append(s.in.Rows, changelog.Row{Kind: r.Kind, Vals: r.Vals})
	}
	return p.step(parWork{kind: itemBatch}, len(b.Rows) < parallelInline)
}

func (p *Parallel) Watermark(ts int64) error {
	return p.step(parWork{kind: itemWatermark, wm: ts}, true)
}

func (p *Parallel) End() error {
	return p.step(parWork{kind: itemEnd}, false)
}

// FlushDue applies the subtasks' mini-batches that are due (exec.NewMiniBatchGroupAgg's latency trigger,
// for a caller ticking while no input arrives) and pushes what they emit. Called between pushes.
func (p *Parallel) FlushDue() error {
	for i, s := range p.subs {
		if f, ok := s.op.(interface{ FlushDue() error }); ok {
			if err := f.FlushDue(); err != nil {
				return fmt.Errorf("subtask %d of %d: %w", i+1, len(p.subs), err)
			}
		}
	}
	return p.flush(false)
}

// SnapshotState writes every subtask's state as one operator's (snapshotSubtasks).
func (p *Parallel) SnapshotState(w state.Writer) error { return snapshotSubtasks(p.Subtasks(), w) }

// parWriter drops the operator-wide entries of all but the first subtask.
type parWriter struct {
	w     state.Writer
	first bool
}

func (pw *parWriter) Put(ns uint8, key, value []byte) error {
	if ns == nsMeta && len(key) == 0 && !pw.first {
		return nil
	}
	return pw.w.Put(ns, key, value)
}

// RestoreState gives each subtask the operator-wide entry and the keyed entries of the key groups it owns.
func (p *Parallel) RestoreState(r state.Reader) error {
	return restoreSubtasks(p.Subtasks(), p.owner, r)
}

type readerFunc func() (uint8, []byte, []byte, bool, error)

func (f readerFunc) Next() (uint8, []byte, []byte, bool, error) { return f() }
