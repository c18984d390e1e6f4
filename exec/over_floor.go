package exec

// An event-time OVER aggregate restored from an unaligned checkpoint at another parallelism (or with other
// senders), its channel state holding watermarks (exchange_unaligned_rescale_floor.go): it resumes from the
// lowest watermark of its key groups and takes every other key group's as a floor, a row at or behind it
// late. Its state holds no row of a key group at or behind the watermark the old subtask had (those were
// emitted), and it emits a partition's rows in time order as the watermark passes them, so the output is the
// old subtask's (later, for a key group that was ahead).

func (o *overAgg) canFloor() bool    { return o.cfg.FinalState == nil }
func (o *overAgg) firedWM() int64    { return o.wm }
func (o *overAgg) setFired(wm int64) { o.wm = wm }
