package datagen

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

// maxBatch is the largest number of rows pushed at once.
const maxBatch = 1024

type source struct {
	gens  []gen
	rps   int64
	limit int64 // total rows; -1: unbounded
	seed  uint64
	loc   *time.Location
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	// Checkpoint position (connectors.Checkpointed): rows generated and the random generator's state after
	// the last pushed batch; restored* seed the next Run.
	mu          sync.Mutex
	posRow      int64
	posRNG      []byte
	restoredRow int64
	restoredRNG []byte
}

var (
	_ connectors.Source       = (*source)(nil)
	_ connectors.Checkpointed = (*source)(nil)
)

func (s *source) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (s *source) Bounded() bool                 { return s.limit >= 0 }

// batchSize keeps pushes about ten per second at low rates and at most maxBatch rows.
func batchSize(rps int64) int {
	return int(min(max(rps/10, 1), maxBatch))
}

// Run generates rows in batches, pacing them to rows-per-second (a token bucket holding one batch: after
// a stall it does not burst to catch up more than one second).
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	n := len(s.gens)
	bs := batchSize(s.rps)
	if s.limit >= 0 && s.limit < int64(bs) {
		bs = int(max(s.limit, 1))
	}
	vals := make([]types.Value, bs*n)
	batch := &changelog.Batch{Rows: make([]changelog.Row, 0, bs)}
	pcg := rand.NewPCG(s.seed, s.seed^0x9e3779b97f4a7c15)
	c := &genCtx{rng: rand.New(pcg), loc: s.loc}
	perRow := float64(time.Second) / float64(s.rps)
	next := s.now()
	s.mu.Lock()
	row := s.restoredRow
	if s.restoredRNG != nil {
		if err := pcg.UnmarshalBinary(s.restoredRNG); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("datagen: the position in the checkpoint is not readable: %w", err)
		}
	}
	s.mu.Unlock()
	for s.limit < 0 || row < s.limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := bs
		if s.limit >= 0 && s.limit-row < int64(k) {
			k = int(s.limit - row)
		}
		now := s.now()
		if d := next.Sub(now); d > 0 {
			if err := s.sleep(ctx, d); err != nil {
				return err
			}
			now = next
		} else if -d > time.Second {
			next = now.Add(-time.Second)
		}
		c.nowMs = now.UnixMilli()
		batch.Reset()
		for i := 0; i < k; i++ {
			rv := vals[i*n : (i+1)*n : (i+1)*n]
			for j, g := range s.gens {
				rv[j] = g.next(c, row)
			}
			batch.Append(changelog.Insert, rv)
			row++
		}
		st, _ := pcg.MarshalBinary()
		if err := connectors.PushThen(out, batch, func() {
			s.mu.Lock()
			s.posRow, s.posRNG = row, st
			s.mu.Unlock()
		}); err != nil {
			return err
		}
		next = next.Add(time.Duration(float64(k) * perRow))
	}
	return nil
}

// SnapshotPosition encodes the number of rows generated and the generator's state.
func (s *source) SnapshotPosition() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, rng := s.posRow, s.posRNG
	if rng == nil {
		row, rng = s.restoredRow, s.restoredRNG
	}
	b := binary.AppendVarint(nil, row)
	return append(b, rng...), nil
}

// RestorePosition continues the sequence after the rows of the position, with the same random state, so
// that a restored run generates exactly the rows the first run would have generated next.
func (s *source) RestorePosition(b []byte) error {
	s.mu.Lock()
	s.posRow, s.posRNG, s.restoredRow, s.restoredRNG = 0, nil, 0, nil
	s.mu.Unlock()
	if b == nil { // start afresh (a restart before the first checkpoint)
		return nil
	}
	row, n := binary.Varint(b)
	if n <= 0 || row < 0 {
		return fmt.Errorf("datagen: the position in the checkpoint is not readable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restoredRow = row
	if rest := b[n:]; len(rest) > 0 {
		s.restoredRNG = append([]byte(nil), rest...)
	}
	return nil
}

// CheckpointComplete has nothing to publish.
func (s *source) CheckpointComplete(context.Context, []byte) error { return nil }
