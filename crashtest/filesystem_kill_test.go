package crashtest

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The filesystem source with per-file watermarks (connectors/filesystem/splits.go) killed at random moments:
// a monitored directory of CSV files read by 2 source subtasks (every file a split of its own, its queued
// successor holding the subtask's watermark back) into TUMBLE counts → exactly-once Kafka, so that a window
// written twice is seen. Files come in rounds of 1000 rows (row i at 10i ms: round r holds windows
// 10r .. 10r+9 of 1 s): the round's second half (the lead file, r%05d-a*.csv) sorts before its first half
// (the lag file, r%05d-b*.csv), which lags 5 s behind it, more than the WATERMARK's 1 s; a subtask that
// reads the lead first must not let the watermark pass the lag file's rows (the lag file is renamed in
// first, so that no directory scan sees the lead without it). fsPreload rounds are written before the first
// run (their files split between the subtasks: the subtasks read in parallel, each holding its watermark
// until its last file); then a round every ~90 ms while the runs are killed, both files on subtask 0 (so
// windows close and are committed during the runs, and a run that did not restore would write them again);
// at the end a file far ahead closes every window.
//
// Files that appear while the job runs, on both subtasks, lose rows that parallelism 1 keeps (the subtasks
// scan the directory each on its own clock and one without files is idle in the union; when the other
// reads a later file before the idle one has found its earlier file, the union's watermark passes that
// file's rows, and the subtask that then finds it counts again only once it has caught up, as Flink's
// StatusWatermarkValve does). Such a test (a round of two files every 90 ms, monitor interval 200 ms) lost
// 55 and 105 of about 500 windows with the files of a round split between the subtasks, and 10 of 400 with
// both on one subtask and the rounds alternating.

// fsRound is the rows per round, fsPreload the rounds written before the first run.
const fsRound, fsPreload = 1000, 300

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

// fsRoundFiles writes round r: its lag file, then its lead file. With own, their names end in a suffix that
// makes subtask 0 of 2 their owner (connectors/filesystem.fileOwner: FNV-1a of the name, modulo the
// subtasks).
func fsRoundFiles(dir string, r int, own bool) error {
	name := func(kind string) string {
		if !own {
			return fmt.Sprintf("r%05d-%s.csv", r, kind)
		}
		for k := 0; ; k++ {
			n := fmt.Sprintf("r%05d-%s%d.csv", r, kind, k)
			h := fnv.New32a()
			h.Write([]byte(n))
			if h.Sum32()%2 == 0 {
				return n
			}
		}
	}
	if err := fsFile(dir, name("b"), r*fsRound, r*fsRound+fsRound/2); err != nil {
		return err
	}
	return fsFile(dir, name("a"), r*fsRound+fsRound/2, (r+1)*fsRound)
}

// fsFeed writes the preloaded rounds, then a round on subtask 0 every ~90 ms until stopped (n counts the
// rounds), then the closing file.
func fsFeed(t *testing.T, dir string) *feeder {
	for r := range fsPreload {
		if err := fsRoundFiles(dir, r, false); err != nil {
			t.Fatal(err)
		}
	}
	return ticker(t, fsPreload, func(n int) (int, error) {
		time.Sleep(80 * time.Millisecond)
		return 1, fsRoundFiles(dir, n, true)
	}, func(n int) error {
		return fsFile(dir, "zzzzzz.csv", (n+100)*fsRound, (n+100)*fsRound+1)
	})
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
		return fsFeed(t, in)
	})
	if pre.lost == 0 || pre.rows == 0 {
		t.Fatalf("%d windows written before the last run, %d missing: the kills came before any window closed or after every one did", pre.rows, pre.lost)
	}
}
