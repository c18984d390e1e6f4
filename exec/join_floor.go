package exec

// An interval join restored from an unaligned checkpoint at another parallelism (or with other senders),
// its channel state holding watermarks (exchange_unaligned_rescale_floor.go): it resumes from the lowest
// watermark of its key groups (setFired: the inputs' and the join's watermark go no higher) and takes every
// other key group's as a floor. A row of a key group is then treated as behind the join's watermark at the
// higher of the two (lateWindow, join_late.go): it probes only the other side's rows not expired there and is
// stored only when a future row may still match it, as in its old subtask. The rows of the key group's
// state were pruned at its watermark by the old subtask; those the new subtask's lower watermark keeps are
// expired at the floor, so no row probes them, and their NULL-padded output (outer joins) comes when the
// subtask's watermark passes, as it came from the old subtask (later). A regular join (no interval) has no
// event-time state: it takes no floors and only forwards watermarks (wmForwarder, exchange_unaligned_rescale.go).

func (j *joinOp) canFloor() bool {
	return j.cfg.Interval != nil && !j.cfg.Batch && !j.sides[0].ended && !j.sides[1].ended
}
func (j *joinOp) firedWM() int64 { return j.lastWM }

// setFired resumes the join from wm: its inputs' watermarks go no higher (a restored first subtask's may be
// ahead).
func (j *joinOp) setFired(wm int64) {
	j.lastWM = wm
	j.wm[0], j.wm[1] = min(j.wm[0], wm), min(j.wm[1], wm)
}

// metaFired reads the join's watermark from its operator-wide entry (metaEntry: the inputs' watermarks
// come first).
func (j *joinOp) metaFired(meta []byte) (int64, bool) { return metaVarint(meta, 2) }
