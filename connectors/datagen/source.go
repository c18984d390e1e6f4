package datagen

import (
	"context"
	"math/rand/v2"
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
}

var _ connectors.Source = (*source)(nil)

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
	c := &genCtx{rng: rand.New(rand.NewPCG(s.seed, s.seed^0x9e3779b97f4a7c15)), loc: s.loc}
	perRow := float64(time.Second) / float64(s.rps)
	next := s.now()
	var row int64
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
		if err := out.Push(batch); err != nil {
			return err
		}
		next = next.Add(time.Duration(float64(k) * perRow))
	}
	return nil
}
