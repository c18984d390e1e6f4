package filesystem_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
)

// hookOutput collects ids and calls hook before taking every batch (its error fails the push).
type hookOutput struct {
	idCollector
	pushes int
	hook   func(push int) error
}

func (o *hookOutput) Push(b *changelog.Batch) error {
	o.pushes++
	if o.hook != nil {
		if err := o.hook(o.pushes); err != nil {
			return err
		}
	}
	return o.idCollector.Push(b)
}

func newHookOutput(hook func(int) error) *hookOutput {
	return &hookOutput{idCollector: idCollector{ids: map[int64]int{}}, hook: hook}
}

func batchRestarter(t *testing.T, dir string) connectors.SubtaskRestarter {
	t.Helper()
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), true))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := src.(connectors.SubtaskRestarter)
	if !ok {
		t.Fatal("the filesystem source does not restart one subtask")
	}
	return r
}

// TestRestartSubtaskWhileOthersRead (batch): subtask 1 fails in the middle of a file while subtask 0 is held
// in its first file. Subtask 0 does not fail with it; after RestartSubtask(1, 2) the rerun of subtask 1
// reads the files the failed run read (the half-read one from its first row) and the files not handed out
// yet, and returns without waiting for subtask 0's file; then subtask 0 finishes its one file. The two
// successful runs read every row once.
func TestRestartSubtaskWhileOthersRead(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 6, 3000) // several batches a file
	src := batchRestarter(t, dir)
	started, release := make(chan struct{}), make(chan struct{})
	out0 := newHookOutput(func(push int) error {
		if push == 1 {
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
				return errors.New("subtask 1 did not run again while subtask 0 was reading")
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	var err0 error
	wg.Add(1)
	go func() {
		defer wg.Done()
		err0 = src.RunSubtask(context.Background(), out0, 0, 2)
	}()
	failed := newHookOutput(func(push int) error {
		if push == 1 {
			<-started // subtask 0 has a file of its own
		}
		if push == 5 { // in its second file (1024 rows a batch)
			return errStop
		}
		return nil
	})
	if err := src.RunSubtask(context.Background(), failed, 1, 2); !errors.Is(err, errStop) {
		t.Fatalf("subtask 1: %v, want the push's error", err)
	}
	if len(failed.ids) == 0 {
		t.Fatal("subtask 1 read nothing before it failed")
	}
	if err := src.RestartSubtask(1, 2); err != nil {
		t.Fatal(err)
	}
	rerun := newHookOutput(nil)
	done := make(chan error, 1)
	go func() { done <- src.RunSubtask(context.Background(), rerun, 1, 2) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("subtask 1 again: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rerun of subtask 1 waited for subtask 0")
	}
	close(release)
	wg.Wait()
	if err0 != nil {
		t.Fatalf("subtask 0 failed: %v", err0)
	}
	for id := range failed.ids {
		if rerun.ids[id] != 1 {
			t.Fatalf("id %d, read by the failed run, was read %d times by the rerun", id, rerun.ids[id])
		}
	}
	if len(out0.ids) != 3000 {
		t.Fatalf("subtask 0 read %d rows, want its one file's 3000", len(out0.ids))
	}
	all := maps.Clone(out0.ids)
	for id, n := range rerun.ids {
		all[id] += n
	}
	checkExactly(t, all, 18000)
}

// TestRestartSubtaskAfterTheRun (batch): both subtasks finished, from a restored position (a file read, one
// half read); then the result of each is lost in turn: RestartSubtask(i, 2) and RunSubtask(i, 2) read the
// same rows subtask i read the first time, and no other (not the position's file read, nor the half-read
// file's rows before the position, nor the other subtask's files).
func TestRestartSubtaskAfterTheRun(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 6, 3000)
	src := batchRestarter(t, dir)
	if err := src.(connectors.Checkpointed).RestorePosition([]byte(`{"done":["f00.csv"],"cur":"f01.csv","rows":1500}`)); err != nil {
		t.Fatal(err)
	}
	first := make([]*hookOutput, 2)
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(2)
	errs := make([]error, 2)
	for i := range 2 {
		var once sync.Once
		arrive := func() { once.Do(started.Done) }
		first[i] = newHookOutput(func(int) error { arrive(); started.Wait(); return nil })
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer arrive()
			errs[i] = src.RunSubtask(context.Background(), first[i], i, 2)
		}()
	}
	wg.Wait()
	all := map[int64]int{}
	for i, c := range first {
		if errs[i] != nil {
			t.Fatalf("subtask %d: %v", i, errs[i])
		}
		if len(c.ids) == 0 {
			t.Fatalf("subtask %d read nothing", i)
		}
		for id, n := range c.ids {
			all[id] += n
		}
	}
	if len(all) != 18000-4500 {
		t.Fatalf("read %d rows, want the 13500 after the position", len(all))
	}
	for i, c := range first {
		if err := src.RestartSubtask(i, 2); err != nil {
			t.Fatal(err)
		}
		again := newHookOutput(nil)
		if err := src.RunSubtask(context.Background(), again, i, 2); err != nil {
			t.Fatalf("subtask %d again: %v", i, err)
		}
		if len(again.ids) != len(c.ids) || !maps.Equal(again.ids, c.ids) {
			t.Fatalf("subtask %d read %d rows again, want the same %d rows as its first run", i, len(again.ids), len(c.ids))
		}
	}
}

// TestRestartSubtaskRefusedInStreaming: in streaming mode a failed subtask stops the run (the job restores
// from a checkpoint), so RestartSubtask after a run is refused rather than reading files twice.
func TestRestartSubtaskRefusedInStreaming(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 2, 10)
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), false))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), newHookOutput(nil)); err != nil {
		t.Fatal(err)
	}
	if err := src.(connectors.SubtaskRestarter).RestartSubtask(0, 1); err == nil {
		t.Fatal("RestartSubtask in streaming mode: no error")
	}
}
