package nexmark

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// maxBatch is the largest number of events pushed at once.
const maxBatch = 1024

type source struct {
	settings  settings
	seed      int64
	baseTime  int64
	paced     bool
	keepAlive bool
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error

	// Checkpoint position (connectors.Checkpointed): see position.
	mu       sync.Mutex
	pos      position // after the last pushed batch
	hasPos   bool
	restored *position
}

// position is where generation stands: the next event's count, the random state, and what makes a restored
// run continue the same timeline (the seed of the shared tables and the base times).
type position struct {
	count        int64 // events generated (the next event is number count+1, as upstream counts from 1)
	rng          uint64
	seed         int64
	baseTime     int64
	wallBaseTime int64 // wall-clock ms of the first event, for pacing; -1 until the first event
}

var (
	_ connectors.Source       = (*source)(nil)
	_ connectors.Checkpointed = (*source)(nil)
)

func (s *source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }

// Bounded: events.num or stop-at limits the events, and keep-alive is off.
func (s *source) Bounded() bool {
	return !s.keepAlive && (s.settings.NumEvents > 0 || s.settings.StopAt >= 0)
}

// Run generates the events in batches. Unpaced (max-emit-speed, the default) it emits as fast as the
// downstream takes them; paced, each batch waits until its first event is due by event time.
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	p := position{rng: uint64(s.seed), seed: s.seed, baseTime: s.baseTime, wallBaseTime: -1}
	s.mu.Lock()
	if s.restored != nil {
		p = *s.restored
	}
	s.mu.Unlock()
	g := &generator{cfg: newConfig(s.settings, p.baseTime), tab: newTables(p.seed), rng: splitMix{seed: p.rng}, count: p.count}
	bs := maxBatch
	if s.paced {
		bs = int(min(max(s.settings.FirstEventRate/10, 1), maxBatch))
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
	wallBase := p.wallBaseTime
	for g.hasNext() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if wallBase < 0 {
			wallBase = s.now().UnixMilli()
		}
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
		} else {
			batch.Reset()
			for i := 0; i < bs && g.hasNext(); i++ {
				row := vals[i*4 : i*4+4 : i*4+4]
				g.next(row)
				batch.Append(changelog.Insert, row)
			}
		}
		next := position{count: g.count, rng: g.rng.seed, seed: p.seed, baseTime: p.baseTime, wallBaseTime: wallBase}
		advance := func() {
			s.mu.Lock()
			s.pos, s.hasPos = next, true
			s.mu.Unlock()
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
	}
	if s.keepAlive || !s.Bounded() {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

const positionVersion = 1

// SnapshotPosition encodes the position after the last pushed batch (or the restored one before any push).
func (s *source) SnapshotPosition() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pos
	if !s.hasPos {
		if s.restored == nil {
			p = position{rng: uint64(s.seed), seed: s.seed, baseTime: s.baseTime, wallBaseTime: -1}
		} else {
			p = *s.restored
		}
	}
	b := []byte{positionVersion}
	b = binary.AppendVarint(b, p.count)
	b = binary.BigEndian.AppendUint64(b, p.rng)
	b = binary.AppendVarint(b, p.seed)
	b = binary.AppendVarint(b, p.baseTime)
	b = binary.AppendVarint(b, p.wallBaseTime)
	return b, nil
}

var errPosition = errors.New("nexmark: the position in the checkpoint is not readable")

// RestorePosition makes the next Run continue after the events of the position, with the same random
// state and timeline, so that the restored run generates exactly the events the first run would have next.
func (s *source) RestorePosition(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hasPos, s.restored = false, nil
	if b == nil { // start afresh (a restart before the first checkpoint)
		return nil
	}
	if len(b) == 0 || b[0] != positionVersion {
		return fmt.Errorf("%w (unknown version)", errPosition)
	}
	b = b[1:]
	var p position
	var ok bool
	if p.count, b, ok = varint(b); !ok || p.count < 0 || len(b) < 8 {
		return errPosition
	}
	p.rng, b = binary.BigEndian.Uint64(b), b[8:]
	if p.seed, b, ok = varint(b); !ok {
		return errPosition
	}
	if p.baseTime, b, ok = varint(b); !ok {
		return errPosition
	}
	if p.wallBaseTime, b, ok = varint(b); !ok || len(b) != 0 {
		return errPosition
	}
	s.restored = &p
	return nil
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}

// CheckpointComplete has nothing to publish.
func (s *source) CheckpointComplete(context.Context, []byte) error { return nil }
