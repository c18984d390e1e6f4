package engine

import "os"

// Intermediate results freed once consumed (Flink releases a blocking result partition when all its
// consumers have finished). A staged job used to keep every stage's files until it ended, so a job of many
// stages held all their results on disk at once. A stage's files are now removed, while the job runs, as
// soon as no stage can read them again:
//
//   - every stage that reads them has finished (a stage fused into it is fed in memory and reads none), and
//   - none of those readers can run again. A finished stage runs again only when a consumer of its result
//     finds one of its files gone (ensure, batch_tasks.go): it then reads its inputs' files again. So a
//     result is kept while a reader's own result (or that of a stage fused into the reader: the reader's
//     tasks write it) still has a reader that has not finished.
//
// In a chain of stages the files of the stage two before the one running are gone: the directory holds
// the results being read and the ones behind them that a lost file would need. When two files are lost
// along a chain (a result and the input its producer would read again), the producer of the older one
// runs again too, from its own inputs or sources, as when a file is gone anyway.

// stageFinished records that stage st ran to its end (flushFailure, batch_flush.go: a sink stage that
// finished wrote its rows) and removes the files no stage can read any more.
func (sj *stagedJob) stageFinished(st *batchStage) {
	sj.mu.Lock()
	if sj.finished == nil {
		sj.finished, sj.freed = map[*batchStage]bool{}, map[*batchStage]bool{}
	}
	sj.finished[st] = true
	var free []*batchStage
	for _, x := range sj.stages {
		if x.path != "" && sj.finished[x] && !sj.freed[x] && !sj.resultNeeded(x) {
			sj.freed[x] = true
			free = append(free, x)
		}
	}
	sj.mu.Unlock()
	for _, x := range free {
		x.removeFiles()
	}
	if stageFreedHook != nil {
		stageFreedHook(st, free)
	}
}

// stageFreedHook, when set by a test, is called after stage st finished with the stages whose files were
// removed then. It is nil in production.
var stageFreedHook func(st *batchStage, freed []*batchStage)

// resultNeeded reports whether a stage may still read x's files (under sj.mu): a reader has not finished, or
// may run again.
func (sj *stagedJob) resultNeeded(x *batchStage) bool {
	for _, c := range sj.readers(x) {
		if !sj.finished[c] {
			return true
		}
		// c runs again when a reader of its result, or of a result its tasks write for a stage fused into
		// it, finds a file gone: it would read x again.
		for _, y := range append([]*batchStage{c}, c.fused...) {
			for _, d := range sj.readers(y) {
				if !sj.finished[d] {
					return true
				}
			}
		}
	}
	return false
}

// readers are the stages that read x's files: those with x among their inputs, other than the stages fused
// into x.
func (sj *stagedJob) readers(x *batchStage) []*batchStage {
	var rs []*batchStage
	for _, c := range sj.stages {
		if c.fusedInto == x {
			continue
		}
		for _, in := range c.inputs {
			if in == x {
				rs = append(rs, c)
				break
			}
		}
	}
	return rs
}

// removeFiles removes the files of every task of x (every slot: its ordinary result and its extra
// partitionings, batch_reuse.go).
func (x *batchStage) removeFiles() {
	for t := range x.tasks {
		for s := range x.slots() {
			_ = os.Remove(x.slotFile(t, s))
		}
	}
}
