package crashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The filesystem source with per-file watermarks (connectors/filesystem/splits.go) killed at random moments:
// a monitored directory of CSV files read by 2 source subtasks (every file a split of its own, its queued
// successor holding the subtask's watermark back) into TUMBLE counts → exactly-once Kafka, so that a window
// written twice is seen. The files are written before the first run, in rounds of 1000 rows (row i at 10i
// ms: round r holds windows 10r .. 10r+9 of 1 s): the round's second half (the lead file, r%05d-a.csv) sorts
// before its first half (the lag file, r%05d-b.csv), which lags 5 s behind it, more than the WATERMARK's 1
// s. A subtask that owns both reads the lead first: the lag file, queued, must hold the watermark back. A
// last file far ahead closes every window. The runs are killed while they read (a restore resumes the files
// read in part, skips those read, and restores the union's watermark and the windows' state).
//
// Files that appear while the job runs are not part of it: at parallelism 2 they lose rows that parallelism
// 1 keeps (the subtasks scan the directory each on its own clock and one without files is idle in the union;
// when the other reads a later file before the idle one has found its earlier file, the union's watermark
// passes that file's rows, and the subtask that then finds it counts again only once it has caught up, as
// Flink's StatusWatermarkValve does). Such a test (a round of two files every 90 ms, lag file first, monitor
// interval 200 ms) lost 55 and 105 of about 500 windows, and 10 of 400 with both files of a round on one
// subtask.

// fsRound is the rows per round, fsRounds the rounds.
const fsRound, fsRounds = 1000, 800

// fsFile writes rows lo..hi-1 (id, t = 10 id) as name under dir, by rename (a monitoring source never reads a
// file in part).
func fsFile(dir, name string, lo, hi int) error {
	var b strings.Builder
	for i := lo; i < hi; i++ {
		fmt.Fprintf(&b, "%d,%d\n", i, linearTS(i))
	}
	tmp := filepath.Join(dir, "."+name)
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// fsPreload writes the rounds and the closing file under dir, and returns a feeder that adds nothing (its
// count is the rounds).
func fsPreload(t *testing.T, dir string) *feeder {
	for r := range fsRounds {
		if err := fsFile(dir, fmt.Sprintf("r%05d-a.csv", r), r*fsRound+fsRound/2, (r+1)*fsRound); err != nil {
			t.Fatal(err)
		}
		if err := fsFile(dir, fmt.Sprintf("r%05d-b.csv", r), r*fsRound, r*fsRound+fsRound/2); err != nil {
			t.Fatal(err)
		}
	}
	if err := fsFile(dir, "zzzzzz.csv", (fsRounds+100)*fsRound, (fsRounds+100)*fsRound+1); err != nil {
		t.Fatal(err)
	}
	f := &feeder{stop: make(chan struct{}), done: make(chan struct{}), n: fsRounds}
	go func() {
		<-f.stop
		close(f.done)
	}()
	return f
}

// TestFilesystemWatermarkKill: at parallelism 2 in every run.
func TestFilesystemWatermarkKill(t *testing.T) {
	s := scenario{
		tables: []string{`CREATE TABLE ev (id BIGINT, t BIGINT, ts AS TO_TIMESTAMP_LTZ(t, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'filesystem', 'path' = 'TESTDIR/in', 'format' = 'csv', 'source.monitor-interval' = '200 ms');`,
			eoSink("wins", "ws TIMESTAMP(3), cnt BIGINT, total BIGINT")},
		insert: `INSERT INTO wins SELECT window_start, COUNT(*), SUM(id)
  FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;`,
		parallelism: []int{2},
		topic:       "wins",
		key:         []string{"ws"},
		val:         []string{"cnt", "total"},
		want: func(rounds int) map[string]expect {
			want := map[string]expect{}
			for w := 0; w < rounds*fsRound/100; w++ {
				lo := 100 * w
				want[row(int64(w)*1000)] = expect{row(100, 100*lo+4950), true}
			}
			return want
		},
	}
	pre := s.runFed(t, 94, func(_, dir string) *feeder {
		in := filepath.Join(dir, "in")
		if err := os.Mkdir(in, 0o755); err != nil {
			t.Fatal(err)
		}
		return fsPreload(t, in)
	})
	if pre.lost == 0 {
		t.Fatal("every window was written before the last run: the kills came after the files were read")
	}
}
