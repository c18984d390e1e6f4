package filesystem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
)

// writeCSVFiles writes files f00.csv, f01.csv, ... of rows rows each under dir: ids 0..files*rows-1, in the
// columns of pushRange's table (id, 'v<id>', 'p<id%3>').
func writeCSVFiles(t *testing.T, dir string, files, rows int) {
	t.Helper()
	for f := range files {
		var b strings.Builder
		for i := f * rows; i < (f+1)*rows; i++ {
			fmt.Fprintf(&b, "%d,v%d,p%d\n", i, i, i%3)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func csvTable(dir string) string {
	return fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv')`, dir)
}

// stopAfter collects ids, and fails the push after batches batches (0: never): its rows are not taken, and
// the source does not advance its position over them.
type stopAfter struct {
	idCollector
	batches int
	slow    time.Duration // sleep before every push
	start   func()        // called before the first push (runSubtasks: waits until every subtask pushed or returned)
}

var errStop = errors.New("stop")

func (c *stopAfter) Push(b *changelog.Batch) error {
	if c.start != nil {
		c.start()
	}
	time.Sleep(c.slow)
	if c.batches > 0 {
		if c.batches--; c.batches == 0 {
			return errStop
		}
	}
	return c.idCollector.Push(b)
}

// runSubtasks runs the source's n subtasks side by side, each into its own collector. A subtask's first push
// waits until every subtask has pushed or returned, so that one subtask cannot take every file before the
// others start (the enumerator hands files to the subtask that asks).
func runSubtasks(t *testing.T, src connectors.Source, n, stop int, slow ...time.Duration) []*stopAfter {
	t.Helper()
	ps, ok := src.(connectors.ParallelSource)
	if !ok {
		t.Fatal("the filesystem source does not run as subtasks")
	}
	if got := ps.Subtasks(n); got != n {
		t.Fatalf("Subtasks(%d) = %d", n, got)
	}
	outs := make([]*stopAfter, n)
	errs := make([]error, n)
	var wg, started sync.WaitGroup
	started.Add(n)
	for i := range n {
		var once sync.Once
		arrive := func() { once.Do(started.Done) }
		outs[i] = &stopAfter{idCollector: idCollector{ids: map[int64]int{}}, batches: stop}
		if i < len(slow) {
			outs[i].slow = slow[i]
		}
		outs[i].start = func() {
			arrive()
			started.Wait()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer arrive()
			errs[i] = ps.RunSubtask(context.Background(), outs[i], i, n)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !(stop > 0 && errors.Is(err, errStop)) {
			t.Fatalf("subtask %d of %d: %v", i, n, err)
		}
	}
	return outs
}

// TestSubtasksSplitTheFiles reads 12 files with 3 subtasks: every row once, every file by one subtask, and
// every subtask reads some.
func TestSubtasksSplitTheFiles(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 12, 100)
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), false))
	if err != nil {
		t.Fatal(err)
	}
	all := map[int64]int{}
	for i, c := range runSubtasks(t, src, 3, 0) {
		if len(c.bad) > 0 {
			t.Fatalf("subtask %d: bad rows %v", i, c.bad)
		}
		if len(c.ids) == 0 {
			t.Fatalf("subtask %d read no file", i)
		}
		files := map[int64]bool{}
		for id, n := range c.ids {
			all[id] += n
			files[id/100] = true
		}
		for f := range files {
			for id := f * 100; id < (f+1)*100; id++ {
				if c.ids[id] != 1 {
					t.Fatalf("subtask %d read file %d in part: id %d %d times", i, f, id, c.ids[id])
				}
			}
		}
	}
	checkExactly(t, all, 1200)
}

// TestSubtasksRestoreAtAnotherParallelism stops 2 subtasks in the middle of their files (3000 rows a file:
// several batches), takes the position, and restores it at 3 subtasks, then at 1: every row exactly once.
func TestSubtasksRestoreAtAnotherParallelism(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 6, 3000)
	ddl := csvTable(dir)
	all := map[int64]int{}
	var pos []byte
	for _, step := range []struct{ n, stop int }{{2, 4}, {3, 3}, {1, 0}} {
		src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, ddl), false))
		if err != nil {
			t.Fatal(err)
		}
		cp := src.(connectors.Checkpointed)
		if err := cp.RestorePosition(pos); err != nil {
			t.Fatal(err)
		}
		for _, c := range runSubtasks(t, src, step.n, step.stop) {
			for id, k := range c.ids {
				all[id] += k
			}
		}
		if pos, err = cp.SnapshotPosition(); err != nil {
			t.Fatal(err)
		}
		if step.stop > 0 {
			var p struct {
				Done    []string         `json:"done"`
				Cur     string           `json:"cur"`
				Reading map[string]int64 `json:"reading"`
			}
			if err := json.Unmarshal(pos, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Reading) < 2 {
				t.Fatalf("after %d subtasks stopped: position %s, want several files being read", step.n, pos)
			}
		}
	}
	checkExactly(t, all, 18000)
}

// TestSubtasksTakeFilesByDemand: the enumerator hands files to the subtasks that ask, so a subtask whose
// output is slow (200 ms a push) reads at most 3 of 30 files and the two fast ones the rest (a hash of the
// names gave each about a third), and every row is read once.
func TestSubtasksTakeFilesByDemand(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 30, 100)
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), false))
	if err != nil {
		t.Fatal(err)
	}
	all := map[int64]int{}
	files := make([]int, 3)
	for i, c := range runSubtasks(t, src, 3, 0, 200*time.Millisecond) {
		for id, n := range c.ids {
			all[id] += n
		}
		files[i] = len(c.ids) / 100
	}
	checkExactly(t, all, 3000)
	if files[0] > 3 || files[1]+files[2] < 27 {
		t.Fatalf("files read per subtask %v: want the slow subtask 0 to read at most 3, the fast ones the rest", files)
	}
}

// TestSubtasksRestoreOldPositions restores positions in the forms written before the enumerator (one file
// being read in cur and rows, and several in reading, as the subtasks owning files by a hash of their names
// wrote them) at 3 subtasks: the rows after the position exactly once, none before it.
func TestSubtasksRestoreOldPositions(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 6, 3000)
	for _, tc := range []struct {
		pos  string
		skip map[int64]int64 // file: rows read before the position
	}{
		{`{"done":["f00.csv","f03.csv"],"cur":"f01.csv","rows":1500}`, map[int64]int64{0: 3000, 3: 3000, 1: 1500}},
		{`{"done":["f00.csv"],"reading":{"f02.csv":2048,"f04.csv":1024}}`, map[int64]int64{0: 3000, 2: 2048, 4: 1024}},
	} {
		src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), false))
		if err != nil {
			t.Fatal(err)
		}
		if err := src.(connectors.Checkpointed).RestorePosition([]byte(tc.pos)); err != nil {
			t.Fatal(err)
		}
		all := map[int64]int{}
		for _, c := range runSubtasks(t, src, 3, 0) {
			for id, n := range c.ids {
				all[id] += n
			}
		}
		for id := int64(0); id < 18000; id++ {
			want := 1
			if id%3000 < tc.skip[id/3000] {
				want = 0
			}
			if all[id] != want {
				t.Fatalf("position %s: id %d read %d times, want %d", tc.pos, id, all[id], want)
			}
		}
	}
}

// TestSubtasksReadTheClosingFileInParallel: without a WATERMARK a round's last file is handed out at once, so
// 2 subtasks read 2 files side by side (runSubtasks: each subtask's first push waits until the other pushed
// or returned; a subtask left waiting for the last file would hang it).
func TestSubtasksReadTheClosingFileInParallel(t *testing.T) {
	dir := t.TempDir()
	writeCSVFiles(t, dir, 2, 100)
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, csvTable(dir)), false))
	if err != nil {
		t.Fatal(err)
	}
	all := map[int64]int{}
	for i, c := range runSubtasks(t, src, 2, 0) {
		if len(c.ids) != 100 {
			t.Fatalf("subtask %d read %d rows, want one file's 100", i, len(c.ids))
		}
		for id, n := range c.ids {
			all[id] += n
		}
	}
	checkExactly(t, all, 200)
}
