package nexmark

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// maxBatch is the largest number of events pushed at once.
const maxBatch = 1024

// Splits and subtasks. The events come from one or more generators (splits), as the benchmark's Flink
// connector splits its GeneratorConfig into one generator per source subtask (NexmarkSource.getSplits,
// numEventGenerators = the parallelism): generator j of n generates a contiguous range of event ids on a
// timeline of its own (newSplitConfig) from a random stream of its own. The number of generators is
// 'num-event-generators' when set, else the number of subtasks the source first runs as; a checkpoint
// records the generators and where each stands, so a restore at another parallelism continues every one of
// them: subtask i of m reads generators i, i+m, i+2m, ... Unlike the benchmark's connector (which refuses to
// rescale), nothing is lost or repeated. A subtask that reads several generators interleaves them a batch at
// a time, the one whose next event is earliest first, and reports each as a split (connectors.SplitSource)
// so that watermarks are tracked per generator.

type source struct {
	settings   settings
	seed       int64
	baseTime   int64
	generators int // 'num-event-generators'; 0: the number of subtasks at the first start
	paced      bool
	keepAlive  bool
	proj       eventProjection // projection pushdown (generator_project.go)
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error

	splits    connectors.SplitListener   // one listener for all generators (SetSplitListener); nil: none
	subSplits []connectors.SplitListener // per subtask (SetSubtaskSplitListeners)

	// Checkpoint position (connectors.Checkpointed): see position.
	mu       sync.Mutex
	pos      *position // after the last pushed batches of every generator; nil until the first push
	restored *position
	nsub     int // subtasks of the current run (the default number of generators)
	tab      *tables
	tabSeed  int64
}

var (
	_ connectors.Source             = (*source)(nil)
	_ connectors.Checkpointed       = (*source)(nil)
	_ connectors.ParallelSource     = (*source)(nil)
	_ connectors.SubtaskSplitSource = (*source)(nil)
)

func (s *source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }

// Bounded: events.num or stop-at limits the events, and keep-alive is off.
func (s *source) Bounded() bool {
	return !s.keepAlive && (s.settings.NumEvents > 0 || s.settings.StopAt >= 0)
}

// Subtasks is def: the benchmark's connector runs at the job's parallelism and has no 'scan.parallelism'.
// It is 1 when one split listener tracks the watermarks of all generators (a source read by several branches).
func (s *source) Subtasks(def int) int {
	if s.splits != nil {
		return 1
	}
	return max(def, 1)
}

// SetSplitListener is called by the engine when the table has a watermark and the source runs as one.
func (s *source) SetSplitListener(l connectors.SplitListener) { s.splits = l }

// SetSubtaskSplitListeners gives every subtask its own split listener.
func (s *source) SetSubtaskSplitListeners(ls []connectors.SplitListener) { s.subSplits = ls }

// WatermarkIdleTimeout: the connector has no idle timeout of its own (the session's applies).
func (s *source) WatermarkIdleTimeout() (time.Duration, bool) { return 0, false }

// WatermarkAlignment: the connector has no alignment options.
func (s *source) WatermarkAlignment() (string, time.Duration, bool) { return "", 0, false }

// Run generates all the events (subtask 0 of 1).
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	return s.RunSubtask(ctx, out, 0, 1)
}

// generatorName names generator j for its checkpointed split watermark (connectors.SplitNamer): the number of
// generators is fixed at the first start (num-event-generators, else the parallelism) and kept by the
// position, so a restored generator starts from its own watermark. With keep-alive a generator that has
// made all its events is not finished (it keeps holding the watermark at its last event's); restored, it
// would otherwise hold it at the lowest for good.
func generatorName(j int) string { return "generator " + strconv.Itoa(j) }

// split is one generator that a subtask runs.
type split struct {
	id  int
	gen *generator
}

// RunSubtask generates the events of the generators subtask i of n owns, in batches. Unpaced (max-emit-speed,
// the default) it emits as fast as the downstream takes them; paced, each batch waits until its first event
// is due by event time.
func (s *source) RunSubtask(ctx context.Context, out changelog.Output, i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("nexmark: subtask %d of %d does not exist", i, n)
	}
	start := s.startPosition(n)
	tab := s.tables(start.seed)
	k := len(start.splits)
	var own []*split
	for j := i; j < k; j += n {
		sp := start.splits[j]
		cfg := newSplitConfig(s.settings, start.baseTime, j, k)
		own = append(own, &split{id: j, gen: &generator{cfg: cfg, tab: tab, rng: splitMix{seed: sp.rng}, count: sp.count, proj: s.proj}})
	}
	listener := s.splits
	if len(s.subSplits) == n {
		listener = s.subSplits[i]
	}
	if listener != nil {
		namer, _ := listener.(connectors.SplitNamer)
		for _, sp := range own {
			listener.AddSplit(sp.id)
			if namer != nil {
				namer.NameSplit(sp.id, generatorName(sp.id))
			}
		}
		for _, sp := range own {
			if !sp.gen.hasNext() && !s.keepAlive { // nothing left (done before a restore, or no share)
				listener.FinishSplit(sp.id)
			}
		}
		// An empty push tells the watermark assigner the splits as announced: a generator that made all its
		// events before a restore (kept alive) has no rows to push, and its restored watermark must still
		// reach the subtasks' union, which holds the watermark at the lowest until every subtask has sent one.
		if err := out.Push(&changelog.Batch{}); err != nil {
			return err
		}
	}
	bs := maxBatch
	if s.paced {
		bs = int(min(max(s.settings.FirstEventRate/int64(k)/10, 1), maxBatch))
	}
	// Columns when the operators downstream take them (vec), else rows: the same events either way.
	var cols *eventCols
	var conv vec.RowConv
	var vals []types.Value
	var batch *changelog.Batch
	if vec.Accepts(out) {
		cols = newEventCols()
	} else {
		vals = make([]types.Value, bs*4)
		batch = &changelog.Batch{Rows: make([]changelog.Row, 0, bs)}
	}
	adv := &advancer{s: s}
	advance := adv.advance // one func value for every batch (a closure per batch would allocate)
	for {
		sp := nextSplit(own)
		if sp == nil {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		g := sp.gen
		wallBase := s.wallBase()
		if s.paced {
			due := wallBase + g.cfg.timestampForEvent(g.cfg.firstEventNum+g.count) - g.cfg.baseTime
			if d := time.Duration(due-s.now().UnixMilli()) * time.Millisecond; d > 0 {
				if err := s.sleep(ctx, d); err != nil {
					return err
				}
			}
		}
		if cols != nil {
			cols.reset(bs)
			for i := 0; i < bs && g.hasNext(); i++ {
				g.nextCols(cols)
			}
			cols.finish()
			g.recycleArena()
		} else {
			batch.Reset()
			for i := 0; i < bs && g.hasNext(); i++ {
				row := vals[i*4 : i*4+4 : i*4+4]
				g.next(row)
				batch.Append(changelog.Insert, row)
			}
		}
		adv.id, adv.next = sp.id, splitPos{count: g.count, rng: g.rng.seed}
		if listener != nil {
			listener.SplitRows(adv.id)
		}
		var err error
		if cols != nil {
			err = vec.PushThen(out, &cols.b, &conv, advance)
		} else {
			err = connectors.PushThen(out, batch, advance)
		}
		if err != nil {
			return err
		}
		if listener != nil && !g.hasNext() && !s.keepAlive {
			listener.FinishSplit(adv.id)
		}
	}
	if s.keepAlive || !s.Bounded() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// nextSplit returns the split whose next event is earliest (the first on a tie), nil when all are done.
func nextSplit(own []*split) *split {
	var best *split
	var bestTS int64
	for _, sp := range own {
		g := sp.gen
		if !g.hasNext() {
			continue
		}
		ts := g.cfg.timestampForEvent(g.cfg.firstEventNum + g.count)
		if best == nil || ts < bestTS {
			best, bestTS = sp, ts
		}
	}
	return best
}

// tables returns the shared tables of seed, built once per source and seed.
func (s *source) tables(seed int64) *tables {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tab == nil || s.tabSeed != seed {
		s.tab, s.tabSeed = newTables(seed), seed
	}
	return s.tab
}

// wallBase returns the wall-clock time of the first event, in ms, setting it at the first call of a fresh run.
func (s *source) wallBase() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.current()
	if p.wallBaseTime < 0 {
		p.wallBaseTime = s.now().UnixMilli()
	}
	return p.wallBaseTime
}

// current returns the position that pushes advance, starting it from the run's start position. Call with mu.
func (s *source) current() *position {
	if s.pos == nil {
		p := s.startLocked(s.nsub)
		s.pos = &p
	}
	return s.pos
}

// advancer advances the position of one subtask's generators after a push (PushThen calls it before it
// returns): the batch's generator and where its events end.
type advancer struct {
	s    *source
	id   int
	next splitPos
}

func (a *advancer) advance() { a.s.advance(a.id, a.next) }

// advance records that generator id has pushed its events up to next.
func (s *source) advance(id int, next splitPos) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current().splits[id] = next
}

// startPosition returns where a run of n subtasks starts: the restored position, else every generator at
// its first event. The generators are 'num-event-generators', else n.
func (s *source) startPosition(n int) *position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil {
		s.nsub = n
	}
	p := s.startLocked(n)
	return &p
}

func (s *source) startLocked(n int) position {
	if s.restored != nil {
		return s.restored.clone()
	}
	k := s.generators
	if k == 0 {
		k = max(n, 1)
	}
	p := position{seed: s.seed, baseTime: s.baseTime, wallBaseTime: -1, splits: make([]splitPos, k)}
	for j := range p.splits {
		p.splits[j].rng = splitSeed(s.seed, j)
	}
	return p
}

// splitSeed is the seed of generator j's random stream: the table's seed for the first, a mix of it and j
// for the others (each generator of the benchmark's connector has a random source of its own).
func splitSeed(seed int64, j int) uint64 {
	if j == 0 {
		return uint64(seed)
	}
	return mix64(uint64(seed) + uint64(j)*goldenGamma)
}
