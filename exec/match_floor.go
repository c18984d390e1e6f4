package exec

// An event-time MATCH_RECOGNIZE restored from an unaligned checkpoint at another parallelism (or with other
// senders), its channel state holding watermarks (exchange_unaligned_rescale_floor.go): it resumes from the
// lowest watermark of its key groups (setFired) and takes every other key group's as a floor, a row at or
// behind it late. "Fired up to" is the watermark up to which the old subtask had passed its partitions' rows
// to their matchers: a partition's state holds, as pending, only rows after it (the rows at or behind it were
// fed, in time order, and live on only in the partial and waiting matches), and its WITHIN timeouts were
// applied up to it. So a row of a key group at or behind its floor would have been late in the old subtask
// (dropped, counted) and a row after it waits in pending as it would have; the lower watermark the new
// subtask resumes from feeds no row of the key group twice (none of its pending rows is at or behind the
// floor) and its WITHIN timeouts at it change nothing the old subtask's did not. The matches of the key group
// are then the old subtask's (later, for a key group that was ahead). ORDER BY a processing-time attribute
// drops no row and does not take floors.

func (m *matchOp) canFloor() bool    { return !m.cfg.ProcTime }
func (m *matchOp) firedWM() int64    { return m.wm }
func (m *matchOp) setFired(wm int64) { m.wm = wm }
