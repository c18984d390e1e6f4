package datagen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

// maxBatch is the largest number of rows pushed at once.
const maxBatch = 1024

// Splits and subtasks, as Flink's datagen table source (a DataGeneratorSource over a NumberSequenceSource):
// the row indices 0 .. rows-1 (rows: number-of-rows or the shortest sequence; unbounded: 2^63-1) are cut
// into one contiguous range per subtask at the first start, the first ranges one row longer when they do
// not divide evenly (NumberSequenceIterator.split). Row index r gives sequence fields their start + r, so a
// subtask emits a contiguous sub-range of every sequence. Each range draws its random fields from a random
// stream of its own, and each subtask emits at most rows-per-second / subtasks rows per second
// (RateLimiterStrategy.perSecond). The position records every range's next row and random state, so a
// checkpoint restores at any parallelism: subtask i of m continues ranges i, i+m, i+2m, ..., taking turns
// one batch each (so that no range's split watermark waits behind another, unbounded, range).

type source struct {
	gens    []gen
	rps     int64
	limit   int64 // total rows; -1: unbounded
	seed    uint64
	scanPar int // 'scan.parallelism'; 0: the job's default
	loc     *time.Location
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error

	splits    connectors.SplitListener   // one listener for all ranges (SetSplitListener); nil: none
	subSplits []connectors.SplitListener // per subtask (SetSubtaskSplitListeners)

	// Checkpoint position (connectors.Checkpointed): see position.
	mu       sync.Mutex
	pos      *position // after the last pushed batch of every range; nil before the first push
	restored *position
	nsub     int // subtasks of the current run (the number of ranges of a fresh start)
}

// position is where every range stands.
type position struct {
	ranges []rowRange
}

// rowRange is one range of row indices: next .. end-1 remain; rng is its random state (nil: not started).
type rowRange struct {
	next, end int64
	rng       []byte
}

func (p *position) clone() *position {
	return &position{ranges: append([]rowRange(nil), p.ranges...)}
}

var (
	_ connectors.Source             = (*source)(nil)
	_ connectors.Checkpointed       = (*source)(nil)
	_ connectors.ParallelSource     = (*source)(nil)
	_ connectors.SubtaskSplitSource = (*source)(nil)
)

// Every range is a split (connectors.SplitSource): with a WATERMARK the watermark is tracked per range, so
// that the ranges of one subtask, and the subtasks, do not make each other's rows late.

// SetSplitListener is called by the engine when the table has a watermark and the source runs as one.
func (s *source) SetSplitListener(l connectors.SplitListener) { s.splits = l }

// SetSubtaskSplitListeners gives every subtask its own split listener.
func (s *source) SetSubtaskSplitListeners(ls []connectors.SplitListener) { s.subSplits = ls }

// WatermarkIdleTimeout: the connector has no idle timeout of its own (the session's applies).
func (s *source) WatermarkIdleTimeout() (time.Duration, bool) { return 0, false }

// WatermarkAlignment: the connector has no alignment options.
func (s *source) WatermarkAlignment() (string, time.Duration, bool) { return "", 0, false }

func (s *source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (s *source) Bounded() bool                 { return s.limit >= 0 }

// batchSize keeps pushes about ten per second at low rates and at most maxBatch rows.
func batchSize(rps float64) int {
	return int(min(max(rps/10, 1), maxBatch))
}

// Subtasks is 'scan.parallelism', else def; 1 when one split listener tracks the watermarks of all ranges
// (a source read by several branches).
func (s *source) Subtasks(def int) int {
	if s.splits != nil {
		return 1
	}
	if s.scanPar > 0 {
		return s.scanPar
	}
	return max(def, 1)
}

// Run generates all the rows (subtask 0 of 1).
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	return s.RunSubtask(ctx, out, 0, 1)
}

// RunSubtask generates the ranges subtask i of n owns in batches, pacing them to its share of
// rows-per-second (a token bucket holding one batch: after a stall it does not burst to catch up more than
// one second).
func (s *source) RunSubtask(ctx context.Context, out changelog.Output, i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("datagen: subtask %d of %d does not exist", i, n)
	}
	start := s.startPosition(n)
	k := len(start.ranges)
	var own []int
	for j := i; j < k; j += n {
		own = append(own, j)
	}
	listener := s.splits
	if len(s.subSplits) == n {
		listener = s.subSplits[i]
	}
	if len(own) == 0 && s.Bounded() {
		return nil
	}
	if listener != nil {
		namer, _ := listener.(connectors.SplitNamer)
		for _, j := range own {
			listener.AddSplit(j)
			if namer != nil {
				namer.NameSplit(j, rangeName(j))
			}
		}
		// An empty push tells the watermark assigner the ranges as announced: a subtask without ranges (restored
		// from a checkpoint with fewer) is then idle in the subtasks' union instead of holding the watermark at
		// the lowest for good, and a restored range's watermark counts before its next rows.
		if err := out.Push(&changelog.Batch{}); err != nil {
			return err
		}
	}
	if len(own) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	rate := float64(s.rps) * float64(len(own)) / float64(k)
	bs := batchSize(rate)
	if s.limit >= 0 && s.limit < int64(bs) {
		bs = int(max(s.limit, 1))
	}
	w := len(s.gens)
	vals := make([]types.Value, bs*w)
	batch := &changelog.Batch{Rows: make([]changelog.Row, 0, bs)}
	perRow := float64(time.Second) / rate
	next := s.now()
	// The ranges a subtask owns (several after a restore at a lower parallelism) take turns, one batch each:
	// with a WATERMARK each is a split, and a range not yet started would hold the watermark at its restored
	// value (forever behind an unbounded range) if they were read one after another.
	runs := make([]*rangeRun, 0, len(own))
	for _, j := range own {
		rr := start.ranges[j]
		pcg := s.rangePCG(j)
		if rr.rng != nil {
			if err := pcg.UnmarshalBinary(rr.rng); err != nil {
				return fmt.Errorf("datagen: the position in the checkpoint is not readable: %w", err)
			}
		}
		if rr.next >= rr.end {
			if listener != nil {
				listener.FinishSplit(j)
			}
			continue
		}
		runs = append(runs, &rangeRun{j: j, row: rr.next, end: rr.end, pcg: pcg, c: &genCtx{rng: rand.New(pcg), loc: s.loc}})
	}
	for len(runs) > 0 {
		for x := 0; x < len(runs); {
			r := runs[x]
			if err := ctx.Err(); err != nil {
				return err
			}
			k := int(min(int64(bs), r.end-r.row))
			now := s.now()
			if d := next.Sub(now); d > 0 {
				if err := s.sleep(ctx, d); err != nil {
					return err
				}
				now = next
			} else if -d > time.Second {
				next = now.Add(-time.Second)
			}
			c := r.c
			c.nowMs = now.UnixMilli()
			batch.Reset()
			row := r.row
			for i := 0; i < k; i++ {
				rv := vals[i*w : (i+1)*w : (i+1)*w]
				for f, g := range s.gens {
					rv[f] = g.next(c, row)
				}
				batch.Append(changelog.Insert, rv)
				row++
			}
			r.row = row
			st, _ := r.pcg.MarshalBinary()
			at := rowRange{next: row, end: r.end, rng: st}
			j := r.j
			if listener != nil {
				listener.SplitRows(j)
			}
			if err := connectors.PushThen(out, batch, func() { s.advance(j, at) }); err != nil {
				return err
			}
			next = next.Add(time.Duration(float64(k) * perRow))
			if r.row < r.end {
				x++
				continue
			}
			if listener != nil {
				listener.FinishSplit(j)
			}
			runs = append(runs[:x], runs[x+1:]...)
		}
	}
	return nil
}

// rangeRun is a range a subtask generates: its next row, end and random state.
type rangeRun struct {
	j        int
	row, end int64
	pcg      *rand.PCG
	c        *genCtx
}

// rangeName names range j for its checkpointed split watermark (connectors.SplitNamer): the ranges are cut
// once, at the first start, and keep their numbers at any parallelism, so a restored range starts from its
// own watermark (a range read to its end before a checkpoint is finished again at once).
func rangeName(j int) string { return "range " + strconv.Itoa(j) }

// rangePCG is the fresh random source of range j: the table's seed for the first (as a single instance),
// a mix of it and j for the others.
func (s *source) rangePCG(j int) *rand.PCG {
	seed := s.seed
	if j > 0 {
		seed = splitmix(seed + uint64(j)*0x9e3779b97f4a7c15)
	}
	return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
}

func splitmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// startPosition returns where a run of n subtasks starts: the restored position, else n fresh ranges.
func (s *source) startPosition(n int) *position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil {
		s.nsub = n
	}
	return s.startLocked(n)
}

func (s *source) startLocked(n int) *position {
	if s.restored != nil {
		return s.restored.clone()
	}
	return freshRanges(s.limit, max(n, 1))
}

// freshRanges cuts the rows (limit; -1: unbounded) into k contiguous ranges as NumberSequenceIterator.split.
func freshRanges(limit int64, k int) *position {
	total := limit
	if total < 0 {
		total = math.MaxInt64
	}
	base, extra := total/int64(k), total%int64(k)
	p := &position{ranges: make([]rowRange, k)}
	var from int64
	for j := range p.ranges {
		size := base
		if int64(j) < extra {
			size++
		}
		p.ranges[j] = rowRange{next: from, end: from + size}
		from += size
	}
	return p
}

// advance records that range j has pushed its rows up to at.
func (s *source) advance(j int, at rowRange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil {
		s.pos = s.startLocked(s.nsub)
	}
	s.pos.ranges[j] = at
}

// positionMagic starts a position with ranges; a position without it is the single-instance form (the row
// count and the random state).
var positionMagic = []byte("dg2:")

var errPosition = errors.New("datagen: the position in the checkpoint is not readable")

// SnapshotPosition encodes every range's next row, end and random state.
func (s *source) SnapshotPosition() ([]byte, error) {
	s.mu.Lock()
	p := s.pos
	if p == nil {
		p = s.startLocked(s.nsub)
	}
	p = p.clone()
	s.mu.Unlock()
	b := append([]byte(nil), positionMagic...)
	b = binary.AppendUvarint(b, uint64(len(p.ranges)))
	for _, r := range p.ranges {
		b = binary.AppendVarint(b, r.next)
		b = binary.AppendVarint(b, r.end)
		b = binary.AppendUvarint(b, uint64(len(r.rng)))
		b = append(b, r.rng...)
	}
	return b, nil
}

// RestorePosition continues every range after the rows of the position, with the same random state, so
// that a restored run generates exactly the rows the first run would have generated next, at any
// parallelism.
func (s *source) RestorePosition(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos, s.restored = nil, nil
	if b == nil { // start afresh (a restart before the first checkpoint)
		return nil
	}
	p, err := s.decodePosition(b)
	if err != nil {
		return err
	}
	s.restored = p
	return nil
}

func (s *source) decodePosition(b []byte) (*position, error) {
	rest, ok := bytes.CutPrefix(b, positionMagic)
	if !ok {
		// The single-instance form: rows generated, then the random state.
		row, n := binary.Varint(b)
		if n <= 0 || row < 0 {
			return nil, errPosition
		}
		p := freshRanges(s.limit, 1)
		p.ranges[0].next = row
		if len(b[n:]) > 0 {
			p.ranges[0].rng = append([]byte(nil), b[n:]...)
		}
		return p, nil
	}
	k, n := binary.Uvarint(rest)
	if n <= 0 || k == 0 || k > 1<<16 {
		return nil, errPosition
	}
	rest = rest[n:]
	p := &position{ranges: make([]rowRange, k)}
	for j := range p.ranges {
		r := &p.ranges[j]
		var m int
		if r.next, m = binary.Varint(rest); m <= 0 {
			return nil, errPosition
		}
		rest = rest[m:]
		if r.end, m = binary.Varint(rest); m <= 0 || r.next < 0 || r.next > r.end {
			return nil, errPosition
		}
		rest = rest[m:]
		l, m := binary.Uvarint(rest)
		if m <= 0 || uint64(len(rest)-m) < l {
			return nil, errPosition
		}
		rest = rest[m:]
		if l > 0 {
			r.rng = append([]byte(nil), rest[:l]...)
		}
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, errPosition
	}
	return p, nil
}

// CheckpointComplete has nothing to publish.
func (s *source) CheckpointComplete(context.Context, []byte) error { return nil }
