package filesystem

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/connectors"
)

var _ connectors.SubtaskRestarter = (*source)(nil)

// RestartSubtask forgets the files the enumerator handed subtask i of n in the current run, those it read
// and the one it was reading (back to the restored position: a file the position had read completely was
// never handed out, one it was reading resumes after the rows the position pushed), and hands them out
// again, before the files not handed out yet, to whichever subtask asks first: the rerun of subtask i, or
// another one still running. The other subtasks' files stay read. It counts the failed run out of the
// current run's subtasks, so that the next RunSubtask joins the current run (and its enumerator) instead of
// starting a new one, which would forget every subtask's progress; when the run had ended, it is taken up
// again with the files of subtask i alone to read.
//
// Only in the batch runtime mode, where the engine calls it (in streaming, a failed subtask stops the run
// and the job restores from a checkpoint).
func (s *source) RestartSubtask(i, n int) error {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("filesystem source: subtask %d of %d does not exist", i, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil { // no run yet, or read again from the start: the next one starts from the restored position
		return nil
	}
	e := s.run.enum
	if e == nil {
		return nil
	}
	if !s.batch {
		return fmt.Errorf("filesystem source: subtask %d of %d cannot run again alone in streaming mode", i, n)
	}
	if s.run.started == 0 { // the run had ended: take it up again for subtask i
		s.run = subtaskRun{n: n, started: n, ended: n, enum: e}
	} else if s.run.n != n {
		return fmt.Errorf("filesystem source: subtask %d of %d restarted in a run of %d subtasks", i, n, s.run.n)
	}
	s.run.started--
	s.run.ended--
	p := s.restored
	for _, df := range e.round {
		if o, ok := e.owner[df.rel]; !ok || o != i {
			continue
		}
		delete(e.owner, df.rel)
		if e.busy[df.rel] {
			delete(e.busy, df.rel)
			e.reading--
		}
		delete(s.done, df.rel)
		delete(s.reading, df.rel)
		if p != nil {
			if p.Cur == df.rel {
				s.reading[df.rel] = p.Rows
			} else if rows, ok := p.Reading[df.rel]; ok {
				s.reading[df.rel] = rows
			}
		}
		at, _ := slices.BinarySearchFunc(e.again, df.rel, func(a dataFile, rel string) int { return strings.Compare(a.rel, rel) })
		e.again = slices.Insert(e.again, at, df)
	}
	e.broadcast()
	return nil
}
