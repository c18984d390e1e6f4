package filesystem

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// Source subtasks (connectors.ParallelSource), as Flink's FileSource splits its reading: every file is one
// split, and a split belongs to one subtask (here the subtask a hash of the file's path relative to 'path'
// names, so that a monitored directory's new files are assigned without a coordinator; Flink hands splits to
// the readers that ask). Each subtask reads its files in name order. The position is one for the source:
// the files read completely and the rows pushed of each file being read, so a checkpoint taken at one
// parallelism restores at any other (a file half read resumes in the subtask that owns it now).
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
// restored one, as Run did; it is set again once every subtask of the run returned.
type subtaskRun struct {
	n, started, ended int
}

// fileOwner is the subtask among n that reads the file at rel.
func fileOwner(rel string, n int) int {
	if n < 2 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(rel))
	return int(h.Sum32() % uint32(n))
}

// RunSubtask reads the files subtask i of n owns (Run is subtask 0 of 1), then, when monitoring, looks for
// new files every monitor interval.
func (s *source) RunSubtask(ctx context.Context, out changelog.Output, i, n int) error {
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
		s.run = subtaskRun{n: n}
	}
	s.run.started++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.run.ended++
		if s.run.ended >= s.run.n && s.run.started >= s.run.n {
			s.run = subtaskRun{}
		}
		s.mu.Unlock()
	}()
	sp := s.fileSplits(i, n)
	var own []dataFile
	for {
		files, err := s.list()
		if err != nil {
			return err
		}
		own = own[:0]
		s.mu.Lock()
		for _, f := range files {
			if fileOwner(f.rel, n) == i && !s.done[f.rel] {
				own = append(own, f)
			}
		}
		s.mu.Unlock()
		for k, f := range own {
			next := ""
			if k+1 < len(own) {
				next = own[k+1].rel
			}
			s.mu.Lock()
			skip := s.reading[f.rel]
			s.mu.Unlock()
			if err := s.readFile(ctx, f, skip, out, sp, next); err != nil {
				return err
			}
		}
		if !s.unbounded {
			return nil
		}
		if err := sp.tick(out); err != nil {
			return err
		}
		t := time.NewTimer(s.s.monitor)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
