package exec

import "fmt"

// Batch → streaming for the OVER aggregate, as window_final.go for windows. A batch run normally sorts each
// partition and emits every row at the end (over_sorted.go), but a streaming run over the same rows would
// have emitted only the rows its watermark passed, the others waiting in its state for later rows of equal
// or earlier time. A batch run that writes a savepoint therefore runs the streaming operator itself
// (OverConfig.FinalState): rows are kept as they arrive, and End emits, in time order, the rows that the
// watermark the streaming plan would have reached (FinalWatermark, engine/batchsavepoint.go) passes, then
// writes the operator's state (the running aggregates or the frame's history per partition, the rows still
// pending, that watermark) as a streaming snapshot, so the streaming run that restores it continues exactly
// as one streaming run over all the rows. As that streaming run, it drops rows with a NULL time. Its rows
// are held in memory until End (the streaming operator does not spill).

// endFinal is End of an OVER aggregate with a final state.
func (o *overAgg) endFinal() error {
	if err := o.advance(o.cfg.FinalWatermark()); err != nil {
		return err
	}
	if err := o.SnapshotState(o.cfg.FinalState); err != nil {
		return fmt.Errorf("OVER aggregate: final state: %w", err)
	}
	return o.out.End()
}
