package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
)

// State returns the exchange's keyed subtasks as one stateful operator (register it as the plan node's
// operator), or nil when the subtasks' operators keep no checkpointable state.
func (x *Exchange) State() changelog.Output {
	ops := make([]changelog.Output, len(x.subs))
	for i, s := range x.subs {
		if StateOf(s.op) == nil {
			return nil
		}
		ops[i] = s.op
	}
	return &exchangeState{x: x, ops: ops}
}

// exchangeState is Exchange.State's operator. It is never pushed to; checkpoints read it while the
// exchange is idle.
type exchangeState struct {
	x   *Exchange
	ops []changelog.Output
}

func (e *exchangeState) Push(*changelog.Batch) error { return nil }
func (e *exchangeState) Watermark(int64) error       { return nil }
func (e *exchangeState) End() error                  { return nil }

func (e *exchangeState) SnapshotState(w state.Writer) error {
	b := e.x.barrierState()
	var err error
	if b != nil && b.snaps != nil {
		err = e.x.writeAtBarrier(b, e.ops, w) // exchange_barrier.go: the subtasks ran on after their barrier
	} else {
		var metas [][]stateEntry
		if b != nil && b.unaligned {
			metas = b.metas // exchange_unaligned_meta.go: every subtask waits at the barrier
		}
		err = snapshotSubtasksMetas(e.ops, w, metas)
	}
	if err == nil && b != nil && b.unaligned {
		err = e.x.writeChannels(b, w) // exchange_unaligned.go: the items the barriers overtook
	}
	if err == nil {
		err = e.x.writeFloors(b, w) // exchange_unaligned_rescale_floor.go
	}
	return err
}

func (e *exchangeState) RestoreState(r state.Reader) error {
	es, chans, err := splitChannelState(r) // exchange_unaligned.go
	if err != nil {
		return err
	}
	chans, saved, late, err := takeFloorsLate(chans, e.x.maxPar) // exchange_unaligned_rescale_floor.go
	if err != nil {
		return err
	}
	chans, metas, unions, old, err := readMetas(chans, len(e.ops)) // exchange_unaligned_meta.go
	if err != nil {
		return err
	}
	fs := &floorSource{old: old, saved: saved, late: late}
	for _, m := range es {
		if m.ns == nsMeta && len(m.key) == 0 {
			fs.meta0 = m.value
			break
		}
	}
	if len(unions) == len(e.ops) && e.x.sameHeaderSenders(chans) {
		if err := e.x.restoreUnions(unions); err != nil {
			return err
		}
	} else {
		// taken at another parallelism, or with other senders (the same subtasks, each with its own
		// operator-wide entry when metas holds them: exchange_unaligned_rescale_late.go)
		fs.unions, fs.own = unions, metas != nil
	}
	if err := restoreSubtasksMetas(e.ops, func(key []byte) int {
		return Subtask(state.KeyGroup(key, e.x.maxPar), e.x.maxPar, len(e.ops))
	}, entriesReader(es), metas); err != nil {
		return err
	}
	if err := e.x.restoreChannels(chans, fs); err != nil {
		return err
	}
	return e.x.restoreFloors(fs)
}

// snapshotSubtasks writes the state of a keyed operator's subtasks as one operator's: the operator-wide
// entry (namespace nsMeta, empty key) of the first subtask (with the late-row count of all), and the keyed
// entries of all.
func snapshotSubtasks(ops []changelog.Output, w state.Writer) error {
	return snapshotSubtasksMetas(ops, w, nil)
}

// snapshotSubtasksMetas is snapshotSubtasks that, with metas (one per subtask), keeps the operator-wide
// entries of the subtasks after the first there (exchange_unaligned_meta.go).
func snapshotSubtasksMetas(ops []changelog.Output, w state.Writer, metas [][]stateEntry) error {
	defer sumLate(ops)() // late_rows.go
	for i, op := range ops {
		st := StateOf(op)
		if st == nil {
			return fmt.Errorf("subtask %d has no snapshottable state", i)
		}
		if metas != nil && i != 0 {
			tee := &metaTee{w: w}
			if err := st.SnapshotState(tee); err != nil {
				return err
			}
			metas[i] = tee.metas
			continue
		}
		if err := st.SnapshotState(&parWriter{w: w, first: i == 0}); err != nil {
			return err
		}
	}
	return nil
}

// restoreSubtasks gives each subtask the operator-wide entry and the keyed entries of the key groups it
// owns (owner maps a state key to a subtask), so a checkpoint taken at one parallelism restores at another.
func restoreSubtasks(ops []changelog.Output, owner func(key []byte) int, r state.Reader) error {
	return restoreSubtasksMetas(ops, owner, r, nil)
}

// restoreSubtasksMetas is restoreSubtasks that hands subtask i the operator-wide entries metas[i] instead of
// the first subtask's, where given (exchange_unaligned_meta.go).
func restoreSubtasksMetas(ops []changelog.Output, owner func(key []byte) int, r state.Reader, metas [][]stateEntry) error {
	es, err := readEntries(r)
	if err != nil {
		return err
	}
	if m, ok := StateOf(ops[0]).(stateMigrator); ok {
		// entries of an operator this one replaced, converted before they are routed (window_slice_migrate.go)
		if es, err = m.migrateState(es); err != nil {
			return err
		}
	}
	per := make([][]stateEntry, len(ops))
	router, _ := StateOf(ops[0]).(stateRouter)
	var rk, buf []byte
	for _, e := range es {
		if len(e.key) == 0 {
			for i := range per {
				per[i] = append(per[i], e)
			}
			continue
		}
		rk = e.key
		if router != nil {
			// subtasks routed by part of the state key (window_proctime.go)
			if buf, err = router.routeKey(buf[:0], e); err != nil {
				return err
			}
			rk = buf
		}
		i := owner(rk)
		per[i] = append(per[i], e)
	}
	for i, op := range ops {
		st := StateOf(op)
		if st == nil {
			return fmt.Errorf("subtask %d has no snapshottable state", i)
		}
		if i < len(metas) && metas[i] != nil {
			per[i] = withMetas(per[i], metas[i])
		}
		if err := st.RestoreState(entriesReader(per[i])); err != nil {
			return fmt.Errorf("subtask %d of %d: %w", i+1, len(ops), err)
		}
	}
	splitLate(ops) // late_rows.go
	return nil
}
