package exec

import (
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Exchanges connect a single-threaded upstream to parallel subtasks, as Flink's hash and rebalance
// partitioners do. A HashExchange routes each row by the key group of its key columns (state.KeyGroup of the
// group-key encoding, modulo max parallelism) to the subtask owning that key group — key group g belongs to
// subtask g*n/maxParallelism, Flink's assignment — so all changes of one key go, in order, to one subtask
// (a -U and its +U stay adjacent). Each subtask runs in its own goroutine behind a bounded queue; watermarks
// and the end of input are broadcast to every subtask. Rows are copied into the queue (a pushed batch is
// only valid during Push).
//
// Failures: a subtask that fails stops consuming; the exchange reports its error on the next Push,
// Watermark, Drain or End. Drain waits until every queued item has been processed (the engine calls it
// under the job lock before a checkpoint, so that every subtask's state is at the cut).

// HashExchange is the upstream side of a hash exchange.
type HashExchange struct {
	keys     []int
	keyTypes []types.Type
	maxPar   int
	subs     []*subtask
	keyBuf   []byte
	pending  []*exchangeItem // per subtask: the batch being filled by the current Push
}

type itemKind uint8

const (
	itemBatch itemKind = iota
	itemWatermark
	itemEnd
)

type exchangeItem struct {
	kind  itemKind
	batch changelog.Batch
	arena []types.Value
	wm    int64
}

type subtask struct {
	out   changelog.Output
	queue chan *exchangeItem
	free  chan *exchangeItem
	wg    sync.WaitGroup // items queued and not yet processed
	done  chan struct{}

	mu  sync.Mutex
	err error
}

// queueDepth is how many batches may wait for a subtask before Push blocks (backpressure).
const queueDepth = 8

// NewHashExchange starts one goroutine per output in outs (the subtasks, in subtask order) and returns the
// exchange that feeds them. keys are the key columns of the pushed rows and keyTypes their types.
func NewHashExchange(keys []int, keyTypes []types.Type, maxParallelism int, outs []changelog.Output) *HashExchange {
	x := &HashExchange{keys: keys, keyTypes: keyTypes, maxPar: maxParallelism, pending: make([]*exchangeItem, len(outs))}
	for _, o := range outs {
		s := &subtask{out: o, queue: make(chan *exchangeItem, queueDepth), free: make(chan *exchangeItem, queueDepth+1), done: make(chan struct{})}
		x.subs = append(x.subs, s)
		go s.run()
	}
	return x
}

// Subtask returns the index of the subtask that owns key group kg among n subtasks (Flink's
// KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup).
func Subtask(kg, maxParallelism, n int) int { return kg * n / maxParallelism }

func (s *subtask) run() {
	defer close(s.done)
	for it := range s.queue {
		if s.failed() == nil {
			var err error
			switch it.kind {
			case itemBatch:
				err = s.out.Push(&it.batch)
			case itemWatermark:
				err = s.out.Watermark(it.wm)
			case itemEnd:
				err = s.out.End()
			}
			if err != nil {
				s.mu.Lock()
				if s.err == nil {
					s.err = err
				}
				s.mu.Unlock()
			}
		}
		end := it.kind == itemEnd
		it.batch.Reset()
		it.arena = it.arena[:0]
		select {
		case s.free <- it:
		default:
		}
		s.wg.Done()
		if end {
			return
		}
	}
}

func (s *subtask) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *subtask) item() *exchangeItem {
	select {
	case it := <-s.free:
		return it
	default:
		return &exchangeItem{}
	}
}

func (s *subtask) send(it *exchangeItem) {
	s.wg.Add(1)
	s.queue <- it
}

// err returns the first subtask failure.
func (x *HashExchange) err() error {
	var errs []error
	for _, s := range x.subs {
		if err := s.failed(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// Push routes the rows of b to their subtasks.
func (x *HashExchange) Push(b *changelog.Batch) error {
	if err := x.err(); err != nil {
		return err
	}
	n := len(x.subs)
	for _, r := range b.Rows {
		i := 0
		if n > 1 {
			x.keyBuf = appendGroupKey(x.keyBuf[:0], r.Vals, x.keys, x.keyTypes)
			i = Subtask(state.KeyGroup(x.keyBuf, x.maxPar), x.maxPar, n)
		}
		it := x.pending[i]
		if it == nil {
			it = x.subs[i].item()
			it.kind = itemBatch
			x.pending[i] = it
		}
		it.arena = append(it.arena, r.Vals...)
		it.batch.Rows = append(it.batch.Rows, changelog.Row{Kind: r.Kind})
	}
	for i, it := range x.pending {
		if it == nil {
			continue
		}
		// The rows point into the arena only now that it has stopped growing (every row has the input's width).
		w := len(it.arena) / len(it.batch.Rows)
		for k := range it.batch.Rows {
			it.batch.Rows[k].Vals = it.arena[k*w : (k+1)*w : (k+1)*w]
		}
		x.subs[i].send(it)
		x.pending[i] = nil
	}
	return nil
}

// Watermark broadcasts ts to every subtask.
func (x *HashExchange) Watermark(ts int64) error {
	if err := x.err(); err != nil {
		return err
	}
	for _, s := range x.subs {
		it := s.item()
		it.kind, it.wm = itemWatermark, ts
		s.send(it)
	}
	return nil
}

// Drain waits until every subtask has processed everything queued so far, and returns a failure.
func (x *HashExchange) Drain() error {
	for _, s := range x.subs {
		s.wg.Wait()
	}
	return x.err()
}

// End broadcasts the end of input, waits for every subtask to end, and returns the first failure.
func (x *HashExchange) End() error {
	for _, s := range x.subs {
		it := s.item()
		it.kind = itemEnd
		s.send(it)
		close(s.queue)
	}
	for _, s := range x.subs {
		<-s.done
	}
	return x.err()
}

// Gather merges the outputs of parallel subtasks into one downstream Output: pushes are serialized by a
// mutex, the watermark passed on is the minimum over the subtasks' watermarks, and the end is passed on when
// every subtask has ended (as a union of n inputs).
func Gather(n int, out changelog.Output) []changelog.Output {
	ins := NewUnion(n, out)
	mu := &sync.Mutex{}
	gs := make([]changelog.Output, n)
	for i, in := range ins {
		gs[i] = &gatherInput{mu: mu, in: in}
	}
	return gs
}

type gatherInput struct {
	mu *sync.Mutex
	in changelog.Output
}

func (g *gatherInput) Push(b *changelog.Batch) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in.Push(b)
}

func (g *gatherInput) Watermark(ts int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in.Watermark(ts)
}

func (g *gatherInput) End() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in.End()
}
