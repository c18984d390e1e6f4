package exec

import "github.com/sluicesql/sluice/changelog"

// Late-row counters of keyed subtasks. An operator that drops late rows counts them in its operator-wide
// state entry (namespace nsMeta, empty key). Behind an exchange or in exec.Parallel every subtask counts its
// own rows, but only the first subtask's operator-wide entry is written (parWriter): a snapshot writes the
// sum over the subtasks in it, and a restore, which hands every subtask that entry, leaves the sum with the
// first subtask and 0 with the others, so the count survives a restore at any parallelism.

// lateCounter is an operator whose operator-wide state entry carries its count of late rows.
type lateCounter interface{ lateCount() *int64 }

func (o *overAgg) lateCount() *int64          { return &o.Late }
func (m *matchOp) lateCount() *int64          { return &m.Late }
func (j *windowJoin) lateCount() *int64       { return &j.Late }
func (w *windowAgg) lateCount() *int64        { return &w.Late }
func (w *sliceWindowAgg) lateCount() *int64   { return &w.Late }
func (w *sessionWindowAgg) lateCount() *int64 { return &w.Late }
func (w *windowRank) lateCount() *int64       { return &w.Late }

// lateCounters returns the late-row counters of the subtasks ops, or nil when one has none.
func lateCounters(ops []changelog.Output) []*int64 {
	cs := make([]*int64, len(ops))
	for i, op := range ops {
		c, ok := StateOf(op).(lateCounter)
		if !ok {
			return nil
		}
		cs[i] = c.lateCount()
	}
	return cs
}

// sumLate sets the first subtask's late-row count to the sum over ops for a snapshot (the subtasks are
// idle); the function it returns sets it back.
func sumLate(ops []changelog.Output) func() {
	cs := lateCounters(ops)
	if len(cs) < 2 {
		return func() {}
	}
	own := *cs[0]
	for _, c := range cs[1:] {
		*cs[0] += *c
	}
	return func() { *cs[0] = own }
}

// splitLate leaves the restored count (the sum at the snapshot, given to every subtask) with the first
// subtask only.
func splitLate(ops []changelog.Output) {
	cs := lateCounters(ops)
	for i := 1; i < len(cs); i++ {
		*cs[i] = 0
	}
}

// LateRows returns the late rows that op dropped: the sum over the subtasks of an exchange's State or of
// an exec.Parallel; 0 for an operator that does not count late rows.
func LateRows(op changelog.Output) int64 {
	var ops []changelog.Output
	switch o := op.(type) {
	case *exchangeState:
		ops = o.ops
	case *Parallel:
		ops = o.Subtasks()
	default:
		ops = []changelog.Output{op}
	}
	var n int64
	for _, c := range lateCounters(ops) {
		n += *c
	}
	return n
}
