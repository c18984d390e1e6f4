package exec

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
)

// Per-split watermarks. A source that reads several splits (Kafka partitions) tells the watermark assigner
// which split each pushed batch comes from (connectors.SplitListener). The assigner then keeps, per split,
// the highest watermark its rows produced, and emits the minimum over the splits that count: those that are
// not finished and not idle. A split counts from the moment it is announced, so a partition that has not
// delivered anything yet holds the watermark back, as in Flink; with an idle timeout, a split that delivered
// nothing for that long stops counting until its next rows (Flink's 'scan.watermark.idle-timeout' and
// 'table.exec.source.idle-timeout'). When every split is idle the watermark does not move.

// SplitWatermarks is the split listener of a watermark assigner returned by NewSplitWatermarkAssigner. Its
// methods are called by the source's goroutine; Tick may be called by the source between pushes (through
// an empty push) so that idleness is noticed when nothing arrives.
type SplitWatermarks struct {
	mu     sync.Mutex
	idle   time.Duration
	now    func() time.Time
	cur    int
	splits []splitWM

	// restored: the split watermarks of the checkpoint restored, by split name (NameSplit)
	restored map[string]int64

	// signalIdle: send IdleWatermark downstream while no split counts (SignalIdle).
	signalIdle bool

	// Alignment (watermark_align.go): the group, the maximum drift in milliseconds, and the watermark last
	// computed by observe with whether any split counted.
	group   *AlignGroup
	drift   int64
	current int64
	counted bool
}

type splitWM struct {
	name     string // the split's stable name (NameSplit); "": unnamed, its watermark is not checkpointed
	wm       int64
	last     time.Time
	present  bool
	finished bool
}

func (s *SplitWatermarks) split(id int) *splitWM {
	for id >= len(s.splits) {
		s.splits = append(s.splits, splitWM{wm: minWatermark})
	}
	return &s.splits[id]
}

// AddSplit announces split id: from now on it holds the watermark back until it has rows or goes idle.
func (s *SplitWatermarks) AddSplit(id int) {
	s.mu.Lock()
	sp := s.split(id)
	*sp = splitWM{wm: minWatermark, last: s.now(), present: true}
	s.mu.Unlock()
}

// NameSplit names split id (connectors.SplitNamer), right after AddSplit: its watermark is checkpointed
// under that name, and when the checkpoint restored holds one for it the split starts from it. A split
// whose rows were all read before the checkpoint has no rows to tell its watermark after the restore;
// starting from the lowest watermark it would hold the others back for good.
func (s *SplitWatermarks) NameSplit(id int, name string) {
	s.mu.Lock()
	sp := s.split(id)
	sp.name = name
	if wm, ok := s.restored[name]; ok {
		sp.wm = max(sp.wm, wm)
	}
	s.mu.Unlock()
}

// appendNamed appends the count and the name and watermark of every named split that is announced and not
// finished, for the checkpoint (SnapshotState).
func (s *SplitWatermarks) appendNamed(dst []byte) []byte {
	entries, n := s.appendNamedEntries(nil)
	dst = binary.AppendUvarint(dst, uint64(n))
	return append(dst, entries...)
}

// appendNamedEntries appends the name and watermark of every named split that is announced and not
// finished, and returns how many.
func (s *SplitWatermarks) appendNamedEntries(dst []byte) ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.splits {
		if sp := &s.splits[i]; sp.name != "" && sp.present && !sp.finished {
			dst = appendString(dst, sp.name)
			dst = binary.AppendVarint(dst, sp.wm)
			n++
		}
	}
	return dst, n
}

// restore sets the split watermarks that NameSplit starts the named splits from.
func (s *SplitWatermarks) restore(named map[string]int64) {
	s.mu.Lock()
	s.restored = named
	s.mu.Unlock()
}

// SplitRows says that the next push carries rows of split id.
func (s *SplitWatermarks) SplitRows(id int) {
	s.mu.Lock()
	s.split(id)
	s.cur = id
	s.mu.Unlock()
}

// FinishSplit says that split id has no more rows.
func (s *SplitWatermarks) FinishSplit(id int) {
	s.mu.Lock()
	s.split(id).finished = true
	s.mu.Unlock()
}

// observe records the highest watermark of a pushed batch (minWatermark when it had no rows) for the current
// split, and returns the combined watermark and whether any split counts.
func (s *SplitWatermarks) observe(batchMax int64, rows int) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if rows > 0 && s.cur >= 0 && s.cur < len(s.splits) {
		sp := &s.splits[s.cur]
		sp.present = true
		sp.last = now
		sp.wm = max(sp.wm, batchMax)
	}
	combined, counted := changelog.MaxWatermark, false
	for i := range s.splits {
		sp := &s.splits[i]
		if !sp.present || sp.finished {
			continue
		}
		if s.idle > 0 && now.Sub(sp.last) >= s.idle {
			continue
		}
		combined = min(combined, sp.wm)
		counted = true
	}
	s.current, s.counted = combined, counted
	return combined, counted
}

// NewSplitWatermarkAssigner is NewWatermarkAssigner for a source with splits: it returns the operator and
// the listener to hand to the source. idle is the idle timeout (0: splits never go idle); now is the clock
// (nil: time.Now).
func NewSplitWatermarkAssigner(rowtime expr.Expr, idle time.Duration, now func() time.Time, out changelog.Output) (changelog.Output, *SplitWatermarks) {
	if now == nil {
		now = time.Now
	}
	sw := &SplitWatermarks{idle: idle, now: now, cur: -1}
	w := &watermarkAssigner{rowtime: rowtime, out: out, max: minWatermark, emitted: minWatermark, splits: sw}
	return w, sw
}

// SignalIdle makes the assigner of s send IdleWatermark while none of its splits counts (none assigned, all
// idle), and its watermark again once one does: for an assigner chained into one of several source subtasks
// that meet in a union (NewUnion), so that a subtask without active splits does not hold the others back
// (Flink marks such a source reader idle). Call it before the first push.
//
// Until its first push such a tracker holds its alignment group at the lowest watermark: a subtask that has
// not assigned its partitions yet must not let the other subtasks of the group run ahead.
func (s *SplitWatermarks) SignalIdle() {
	s.mu.Lock()
	s.signalIdle = true
	s.current, s.counted = minWatermark, true
	s.mu.Unlock()
}
