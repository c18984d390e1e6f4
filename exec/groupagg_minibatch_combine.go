package exec

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/vec"
)

// combiningMiniBatch is the mini-batch group aggregate over insert-only input whose calls all merge: instead
// of buffering rows, it combines each key's rows of the batch into partial accumulators as they arrive (the
// local aggregate) and merges them into the key's state when the batch is applied (the global aggregate),
// in one operator. The changelog is the row-buffering mini-batch's: one change per key per batch, keys in
// the order they first appeared. Its state is the group aggregate's (namespace 0 and the meta entry) plus the
// pending partials (namespace 1).
type combiningMiniBatch struct {
	local  *localGroupAgg
	global *globalGroupAgg
}

// combinable reports whether cfg's mini-batch can combine rows as they arrive.
func combinable(cfg GroupAggConfig) bool {
	if !cfg.InsertOnly || cfg.Batch || cfg.Store != nil {
		return false
	}
	for _, c := range cfg.Aggs {
		if !AggMergeable(c, true) {
			return false
		}
	}
	return true
}

func newCombiningMiniBatch(cfg GroupAggConfig, mb MiniBatchConfig, out changelog.Output) (changelog.Output, error) {
	global, err := NewGlobalGroupAgg(cfg, out)
	if err != nil {
		return nil, err
	}
	local, err := NewLocalGroupAgg(cfg, mb, global)
	if err != nil {
		return nil, err
	}
	return &combiningMiniBatch{local: local.(*localGroupAgg), global: global.(*globalGroupAgg)}, nil
}

func (c *combiningMiniBatch) Push(b *changelog.Batch) error { return c.local.Push(b) }
func (c *combiningMiniBatch) Watermark(ts int64) error      { return c.local.Watermark(ts) }
func (c *combiningMiniBatch) End() error                    { return c.local.End() }

// FlushDue applies the batch when its oldest row is older than the latency.
func (c *combiningMiniBatch) FlushDue() error { return c.local.FlushDue() }

// Buffered is the number of rows combined into the pending batch.
func (c *combiningMiniBatch) Buffered() int { return c.local.m.pending }

// SnapshotState writes the groups (as the group aggregate does) and the pending partials.
func (c *combiningMiniBatch) SnapshotState(w state.Writer) error {
	if err := c.global.groupAgg.SnapshotState(w); err != nil {
		return err
	}
	return c.local.snapshotPending(w)
}

// RestoreState loads the groups and the pending partials.
func (c *combiningMiniBatch) RestoreState(r state.Reader) error {
	op := "MiniBatch" + c.global.opName()
	var pendErr error
	rd := readerFunc(func() (uint8, []byte, []byte, bool, error) {
		for {
			ns, key, value, ok, err := r.Next()
			if err != nil || !ok || ns != nsMiniBatch {
				return ns, key, value, ok, err
			}
			if err := c.local.restorePending(op, key, value); err != nil && pendErr == nil {
				pendErr = err
			}
		}
	})
	if err := c.global.groupAgg.RestoreState(rd); err != nil {
		return err
	}
	if pendErr != nil {
		return pendErr
	}
	c.local.restored()
	return nil
}

// PushColumns combines a columnar batch into the pending partials straight from its columns
// (groupagg_twophase_vec.go).
func (c *combiningMiniBatch) PushColumns(b *vec.Batch) error {
	groupAggColumnBatches.Add(1)
	return c.local.PushColumns(b)
}

// AcceptsColumns: the local combines columnar batches natively.
func (c *combiningMiniBatch) AcceptsColumns() bool { return true }

var _ vec.Output = (*combiningMiniBatch)(nil)
