package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
)

// Forward stages chained into their producer (Flink chains the Calcs of a reused source's branches into the
// source's task, each branch with a result partition of its own). A forward stage (batch_forward.go: row-wise
// operators over a reused result, as many tasks as that result's stage; or one task over a one-task result)
// whose only input is one stage P is fused into P: task i of P runs the forward stage's task i too, P's rows handed through a fanout to each
// fused stage's operators, and each fused stage writes its own files, partitioned for its own consumer (the
// consumer's key: one hash partitioning per consumer), as it would running alone. P writes its own result
// only when a stage that is not fused into it reads it. So a reused source's rows are no longer written
// once whole and read again by every branch: the branches' (projected, filtered) rows are written once each.
//
// The Collect stage of a SELECT (batch_select.go) is fused likewise into a one-task input stage in ORDER BY
// order (a Sort or Top-N under Calcs) that nobody else reads: the client gets the sort task's output directly
// instead of a file of it written and read back. Its failover stays exact: a failed attempt (of the sort or
// of the collect) reruns the sort task, which sorts the same input files read in the same order again, and
// the rows the client has are skipped (the query fails, as before, when an input was computed again since).
//
// A fused stage keeps its id, tasks, files and StageAttempts (one per attempt of its producer task; the
// rows it read are the rows its operators were given). Failover: a failed attempt of P's task i (in P's
// operators or in a fused stage's) discards every file of the attempt and runs task i again alone (from its
// inputs' files, or the start of its own splits), the fused stages' task i with it; a consumer that finds a
// fused stage's file gone runs P's task again.

// planFusion marks the forward stages fused into their producer, and the producers that need no file of
// their own.
func (sj *stagedJob) planFusion() {
	for _, st := range sj.stages {
		if !st.rowWise || st.path == "" || len(st.inputs) == 0 || !st.forward && len(st.tasks) > 1 {
			continue // not row-wise, a sink or the collect stage, no input, not forward
		}
		p := st.inputs[0]
		ok := p.fusedInto == nil && p.path != "" && len(p.tasks) == len(st.tasks) && p.parts <= 1
		for _, in := range st.inputs {
			ok = ok && in == p
		}
		if ok {
			st.fusedInto = p
			p.fused = append(p.fused, st)
		}
	}
	for _, st := range sj.stages {
		if _, ok := st.root.(*batchCollect); ok && len(st.inputs) == 1 {
			if p := st.inputs[0]; p.fusedInto == nil && len(p.tasks) == 1 && reads(sj, p) == 1 && sortedRoot(p.root) {
				st.fusedInto = p
				p.fused = append(p.fused, st)
			}
		}
	}
	read := map[*batchStage]bool{}
	for _, st := range sj.stages {
		for _, in := range st.inputs {
			if st.fusedInto != in && st.readsPrimary(in) {
				read[in] = true
			}
		}
	}
	for _, st := range sj.stages {
		st.noFile = (len(st.fused) > 0 || len(st.hashed) > 0) && !read[st]
	}
}

// fusedPart is the share of a fused stage in one attempt of its producer's task.
type fusedPart struct {
	tk  *stageTask // the fused stage's task
	run *stageRun  // its writers and the rows its operators were given (its g is the producer's)
}

// buildFused builds the fused stages' operators of task tk into run's graph, each writing its own files; it
// returns the output that P's root is to be built with (a fanout into every fused stage's branches, and P's
// own files when it has them), or own when nothing is fused.
func (sj *stagedJob) buildFused(run *stageRun, tk *stageTask, attempt int, own changelog.Output) (changelog.Output, error) {
	st := tk.st
	if len(st.fused) == 0 {
		return own, nil
	}
	b := run.g.stage
	f := &fanout{}
	if own != nil {
		f.outs = append(f.outs, own)
	}
	for _, fs := range st.fused {
		ftk := fs.tasks[tk.index]
		fr := &stageRun{g: run.g}
		var out changelog.Output // none for a fused collect stage
		if fs.path != "" {
			var err error
			if out, err = sj.newStageOutput(fr, ftk); err != nil {
				return nil, err
			}
		}
		run.fused = append(run.fused, fusedPart{tk: ftk, run: fr})
		b.fusing, b.fuseRoot = &fusedBranch{g: run.g, tk: ftk, run: fr, attempt: attempt, outs: &f.outs}, fs.root
		err := run.g.build(fs.root, out, sj.job)
		if err == nil {
			err, b.err = b.err, nil // of a fused collect task
		}
		b.fusing, b.fuseRoot = nil, nil
		if err != nil {
			return nil, fmt.Errorf("stage %d (%s): %w", fs.id, fs.name, err)
		}
	}
	return f, nil
}

// fusedBranch is the fused stage being built: where its operators reach the producer's root, their input
// joins the producer's fanout (counted as the fused stage's rows read).
type fusedBranch struct {
	g       *graph
	tk      *stageTask
	run     *stageRun
	attempt int
	outs    *[]changelog.Output
}

// fuseInput handles node n of a fused stage's build: its root is built here (not read from its file), and
// the producer's root becomes one more output of the producer's fanout.
func (b *stageBuild) fuseInput(n planner.Node, out changelog.Output) (handled, ok bool) {
	if b.fusing == nil {
		return false, false
	}
	if n == b.fuseRoot {
		b.fuseRoot = nil
		if c, ok := n.(*batchCollect); ok {
			b.err = b.collectTask(b.fusing.g, c) // the client reads the sort task's output directly
			return true, true
		}
		return true, false // built as usual
	}
	if n == b.st.root {
		*b.fusing.outs = append(*b.fusing.outs, &stageInput{tk: b.fusing.tk, run: b.fusing.run, attempt: b.fusing.attempt, out: out})
		return true, true
	}
	return false, false
}

// endFused records the outcome of a producer attempt for the fused stages' tasks.
func (sj *stagedJob) endFused(run *stageRun, err error) {
	for _, fp := range run.fused {
		if err != nil {
			for _, w := range fp.run.outs {
				w.discard()
			}
		}
		tk := fp.tk
		sj.log = append(sj.log, StageAttempt{Stage: tk.st.id, Task: tk.index, Tasks: len(tk.st.tasks), Name: tk.st.name,
			Attempt: tk.attempts, RowsRead: fp.run.rows.Load(), Err: err})
		if err == nil {
			tk.written = tk.written[:0]
			for _, w := range fp.run.outs {
				tk.written = append(tk.written, w.rows)
			}
		}
	}
}

// producer is the stage whose tasks compute st's files: st's producer when st is fused into it, else st.
func (st *batchStage) producer() *batchStage {
	if st.fusedInto != nil {
		return st.fusedInto
	}
	return st
}

// reads is the number of stages' edges that read st's result.
func reads(sj *stagedJob, st *batchStage) int {
	n := 0
	for _, c := range sj.stages {
		for _, in := range c.inputs {
			if in == st {
				n++
			}
		}
	}
	return n
}

// sortedRoot reports a stage result that is in the order of an ORDER BY: a Sort or a Top-N (ORDER BY ...
// LIMIT), under Calcs.
func sortedRoot(n planner.Node) bool {
	for {
		switch x := n.(type) {
		case *planner.Sort, *planner.TopN:
			return true
		case *planner.Calc:
			n = x.Input
		default:
			return false
		}
	}
}

// branchError is the failure of a fused stage's operators (or its files) in an attempt of its producer's
// task: the notices name the fused stage that failed, and the producer's task that reruns with it. Its text
// is the failure's own.
type branchError struct {
	tk  *stageTask // the fused stage's task
	err error
}

func (e *branchError) Error() string { return e.err.Error() }
func (e *branchError) Unwrap() error { return e.err }

// branchErr marks err as a failure of the fused stage whose rows s counts (s of a fused branch); other
// errors, and errors already marked, pass unchanged.
func (s *stageInput) branchErr(err error) error {
	if err == nil || s.tk.st.fusedInto == nil {
		return err
	}
	var be *branchError
	if errors.As(err, &be) {
		return err
	}
	return &branchError{tk: s.tk, err: err}
}

// failedWhat names what failed in a notice: the fused stage, within its producer's task (what), when err is
// a fused stage's failure; else what.
func failedWhat(err error, what string) string {
	var be *branchError
	if !errors.As(err, &be) {
		return what
	}
	st := be.tk.st
	return fmt.Sprintf("stage %d (%s)%s (fused into %s)", st.id, st.name, be.tk.what(), what)
}

// withFused says which fused stages rerun with producer st's task when a fused stage failed (err).
func withFused(st *batchStage, err error) string {
	var be *branchError
	if !errors.As(err, &be) || len(st.fused) == 0 {
		return ""
	}
	ids := make([]string, len(st.fused))
	for i, fs := range st.fused {
		ids[i] = fmt.Sprint(fs.id)
	}
	return fmt.Sprintf(" with its fused stages (%s), for stage %d", strings.Join(ids, ", "), be.tk.st.id)
}
