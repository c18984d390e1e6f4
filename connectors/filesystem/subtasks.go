package filesystem

import (
	"context"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Source subtasks (connectors.ParallelSource), as Flink's FileSource splits its reading: every file is one
// split, which one enumerator for all subtasks hands to the subtask that asks (enumerator.go). The position
// is one for the source: the files read completely and the rows pushed of each file being read, so a
// checkpoint taken at one parallelism restores at any other (a file half read resumes in the subtask it is
// handed to now, after the rows already pushed).
//
// A table with a WATERMARK reads as subtasks too: every file is a split with a watermark of its own (splits.go).

var _ connectors.ParallelSource = (*source)(nil)

// Subtasks is def (the job's parallelism); 1 when one split listener tracks the watermarks of every file
// (SetSplitListener: a source read by several branches). With SetSubtaskSplitListeners every subtask has its
// own (splits.go).
func (s *source) Subtasks(def int) int {
	if s.splits != nil {
		return 1
	}
	return max(def, 1)
}

// subtaskRun counts the subtasks of the current run: the first one to start (re)sets the position from the
// restored one, as Run did; it is set again once every subtask of the run returned (keeping the enumerator
// of the run that ended, for RestartSubtask).
type subtaskRun struct {
	n, started, ended int
	enum              *enumerator // hands out the files (enumerator.go)
}

// RunSubtask reads the files the enumerator hands subtask i of n (Run is subtask 0 of 1), until a bounded
// source has read every file, or, when monitoring, until ctx ends (enumerator.go).
func (s *source) RunSubtask(ctx context.Context, out changelog.Output, i, n int) (err error) {
	if n < 1 || i < 0 || i >= n {
		return fmt.Errorf("filesystem source: subtask %d of %d does not exist", i, n)
	}
	s.mu.Lock()
	if s.run.started == 0 || s.done == nil {
		s.done, s.reading = map[string]bool{}, map[string]int64{}
		if p := s.restored; p != nil {
			for _, f := range p.Done {
				s.done[f] = true
			}
			if p.Cur != "" {
				s.reading[p.Cur] = p.Rows
			}
			for f, rows := range p.Reading {
				s.reading[f] = rows
			}
		}
		s.run = subtaskRun{n: n, enum: newEnumerator(s)}
	}
	s.run.started++
	enum := s.run.enum
	s.mu.Unlock()
	defer func() {
		if err != nil {
			enum.fail(i, err)
		}
		s.mu.Lock()
		s.run.ended++
		if s.run.ended >= s.run.n && s.run.started >= s.run.n {
			s.run = subtaskRun{enum: s.run.enum} // RestartSubtask may take the run up again
		}
		s.mu.Unlock()
	}()
	sp := s.fileSplits(i, n)
	idle := func() error { return sp.tick(out) }
	for {
		df, skip, closing, ok, err := enum.nextFile(ctx, i, idle)
		if err != nil || !ok {
			return err
		}
		if err := s.readFile(ctx, df, skip, out, sp, !closing); err != nil {
			return err
		}
		enum.fileRead(df.rel)
	}
}
