package kafka

import (
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Per-partition watermarks: every partition the source reads is a split (connectors.SplitSource). The source
// announces partitions as it assigns them, pushes each partition's rows of a poll as a batch of their own
// preceded by SplitRows, and reports bounded partitions that are done. With an idle timeout it also pushes
// an empty batch when a poll returns nothing, so that the watermark assigner notices idle partitions.

var _ connectors.SplitSource = (*source)(nil)

// SetSplitListener is called by the engine before Run when the table has a watermark.
func (s *source) SetSplitListener(l connectors.SplitListener) { s.splits = l }

// WatermarkIdleTimeout is 'scan.watermark.idle-timeout' when the table sets it.
func (s *source) WatermarkIdleTimeout() (time.Duration, bool) {
	return WatermarkIdleTimeout.Lookup(s.cfg.r)
}

// tick pushes an empty batch so that the watermark assigner re-evaluates idle partitions.
func (r *run) tick(out changelog.Output) error {
	if r.s.splits == nil {
		return nil
	}
	r.batch.Reset()
	return out.Push(&r.batch)
}
