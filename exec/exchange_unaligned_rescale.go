package exec

// RestoredInFlight returns the number of rows of restored channel state (an unaligned checkpoint's in-flight
// rows) that the subtasks replay before any new input; 0 before the job runs them or without such state.
func (x *Exchange) RestoredInFlight() int {
	n := 0
	for _, s := range x.subs {
		for _, it := range s.restored {
			if it.kind == xRows {
				n += len(it.b.batch.Rows)
			}
		}
	}
	return n
}
