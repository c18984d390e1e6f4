package filesystem

import (
	"context"
	"fmt"
	"time"
)

// The split enumerator (Flink's FileSource: one enumerator lists the directory and hands file splits to the
// readers that ask). One enumerator serves every subtask of a run: it lists the directory, and a subtask
// that is free asks it for the next file, so files are balanced over the subtasks by how fast they read,
// and no subtask reads a file the others have not been told about.
//
// Rounds. The files of one listing are a round, handed out in name order; the next listing comes once every
// file of the round has been read and the monitor interval has passed since (as one subtask reads: list,
// read everything, wait the interval, list again). A round's last file in name order, its closing file, is
// handed out only once every other file of the round has been read, and a subtask reading any other file
// of the round holds its watermark back (splits.go: a split without rows while the file is read). So the
// watermark passes no row of a round before the whole round except its closing file has been read, and then
// advances with the closing file's rows alone: what is late is the same at every parallelism as with one
// subtask — a row behind the watermark that the files of earlier listings produced, or, in the closing
// file, behind the watermark of that file's own earlier rows. (An idle timeout can let a held subtask's
// watermark go ahead, at every parallelism: splits.go.)
//
// Without a WATERMARK there is nothing to hold back: the closing file is handed out as the others are.
//
// A subtask that has nothing to read waits, after an empty push that marks it idle in the subtasks' union.
// A subtask that fails stops the run: the others return its error instead of waiting (for a file the failed
// one may never finish).
//
// Batch (restart_subtask.go): the engine runs a failed source task again alone, so a failing subtask does not
// stop the others, and a subtask returns as soon as every file has been handed out, without waiting for the
// files the others are reading (a task that waited for them could wait for a task that waits for its own
// rerun). The enumerator remembers which subtask each file went to; RestartSubtask hands the failed
// subtask's files out again, before the files not handed out yet.
//
// The enumerator's state is not checkpointed on its own: the source's position (the files read completely,
// and the rows pushed of every file being read) is what a restore needs, as a file discovered but not yet
// read completely is listed again (and resumes after the rows already pushed, in whichever subtask it is
// handed to now). Assignments are not part of it, so it restores at any parallelism.
type enumerator struct {
	s *source
	// closeAlone: the closing file waits for the round's other files (only when a split listener tracks
	// watermarks; without a WATERMARK every file of a round is read in parallel).
	closeAlone bool

	// changed is closed (and replaced) on every change a waiting subtask may wait for.
	changed chan struct{}

	round    []dataFile      // the files of the current listing, in name order
	next     int             // the first file of round not handed out yet
	reading  int             // files handed out and not read completely
	again    []dataFile      // files handed out again after a subtask's restart (batch; restart_subtask.go)
	owner    map[string]int  // batch: the subtask each file of the run was handed to
	busy     map[string]bool // batch: the files handed out and not read completely
	closer   string          // the rel of the current round's closing file
	listed   bool            // the directory was listed in this run
	roundEnd time.Time       // when the last round was read completely
	err      error           // a subtask failed
}

func newEnumerator(s *source) *enumerator {
	e := &enumerator{s: s, closeAlone: s.splits != nil || len(s.subSplits) > 0, changed: make(chan struct{})}
	if s.batch {
		e.owner, e.busy = map[string]int{}, map[string]bool{}
	}
	return e
}

// broadcast wakes every waiting subtask (s.mu held).
func (e *enumerator) broadcast() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// nextFile hands subtask i its next file and the rows of it already pushed, and whether it is its round's
// closing file. ok is false when a bounded source has read everything (batch: has handed out everything).
// Before it first waits, it calls idle (without the lock), which marks the subtask idle.
func (e *enumerator) nextFile(ctx context.Context, i int, idle func() error) (df dataFile, skip int64, closing, ok bool, err error) {
	s := e.s
	idled := false
	for {
		s.mu.Lock()
		var due time.Time     // the next listing, when waiting for it
		if len(e.again) > 0 { // in name order: the closing file, if there, is last
			df = e.again[0]
			closing = df.rel == e.closer
			if !closing || e.reading == 0 || !e.closeAlone {
				e.again = e.again[1:]
				e.handOut(df, i)
				skip = s.reading[df.rel]
				s.mu.Unlock()
				return df, skip, closing, true, nil
			}
		} else if e.next < len(e.round) {
			last := e.next == len(e.round)-1
			if !last || e.reading == 0 || !e.closeAlone {
				df = e.round[e.next]
				e.next++
				e.handOut(df, i)
				skip = s.reading[df.rel]
				s.mu.Unlock()
				return df, skip, last, true, nil
			}
		} else if e.listed && s.batch {
			s.mu.Unlock()
			return dataFile{}, 0, false, false, nil
		} else if e.reading == 0 {
			due = e.roundEnd.Add(e.s.s.monitor)
			if e.listed && !s.unbounded {
				s.mu.Unlock()
				return dataFile{}, 0, false, false, nil
			}
			if !e.listed || !time.Now().Before(due) {
				err := e.list()
				s.mu.Unlock()
				if err != nil {
					return dataFile{}, 0, false, false, err
				}
				continue
			}
		}
		if e.err != nil { // nothing to wait for: the file awaited may never be read
			err := e.err
			s.mu.Unlock()
			return dataFile{}, 0, false, false, err
		}
		changed := e.changed
		s.mu.Unlock()
		if !idled {
			idled = true
			if err := idle(); err != nil {
				return dataFile{}, 0, false, false, err
			}
			continue // the state may have changed while idle pushed
		}
		var wait <-chan time.Time
		var t *time.Timer
		if !due.IsZero() {
			t = time.NewTimer(time.Until(due))
			wait = t.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-wait:
		}
		if t != nil {
			t.Stop()
		}
		if err := ctx.Err(); err != nil {
			return dataFile{}, 0, false, false, err
		}
	}
}

// list starts a round with the files not read completely yet (s.mu held).
func (e *enumerator) list() error {
	files, err := e.s.list()
	if err != nil {
		return err
	}
	e.round, e.next, e.listed, e.closer = e.round[:0], 0, true, ""
	for _, f := range files {
		if !e.s.done[f.rel] {
			e.round = append(e.round, f)
		}
	}
	if len(e.round) > 0 {
		e.closer = e.round[len(e.round)-1].rel
	}
	if len(e.round) == 0 {
		e.roundEnd = time.Now()
	}
	e.broadcast()
	return nil
}

// handOut counts file df as being read by subtask i (s.mu held).
func (e *enumerator) handOut(df dataFile, i int) {
	e.reading++
	if e.owner != nil {
		e.owner[df.rel] = i
		e.busy[df.rel] = true
	}
}

// fileRead says that a file handed out has been read completely.
func (e *enumerator) fileRead(rel string) {
	s := e.s
	s.mu.Lock()
	e.reading--
	if e.busy != nil {
		delete(e.busy, rel)
	}
	if e.reading == 0 && e.next == len(e.round) {
		e.roundEnd = time.Now()
	}
	e.broadcast()
	s.mu.Unlock()
}

// fail stops the run: subtask i returned err. In batch the engine runs the failed subtask again alone
// (RestartSubtask), or cancels the others when it gives up: the others run on.
func (e *enumerator) fail(i int, err error) {
	s := e.s
	s.mu.Lock()
	if e.err == nil && !s.batch {
		e.err = fmt.Errorf("filesystem source: subtask %d failed: %w", i, err)
		e.broadcast()
	}
	s.mu.Unlock()
}
