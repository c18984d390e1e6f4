package crashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The filesystem source with per-file watermarks (connectors/filesystem/splits.go) killed at random moments:
// a monitored directory of CSV files read by 2 source subtasks (one enumerator hands every file to the
// subtask that asks: enumerator.go) into TUMBLE counts → exactly-once Kafka, so that a window written twice
// is seen. Files come in rounds of 1000 rows (row i at 10i ms: round r holds windows 10r .. 10r+9 of 1 s): the
// round's second half (the lead file, r%05d-a.csv) sorts before its first half (the lag file, r%05d-b.csv),
// which lags 5 s behind it, more than the WATERMARK's 1 s; the subtask that reads the lead must not let the
// watermark pass the lag file's rows, whichever subtask reads those (the lag file is renamed in first, so that
// no directory scan sees the lead without it). fsPreload rounds are written before the first run; then a
// round every ~90 ms while the runs are killed (so windows close and are committed during the runs, and a run
// that did not restore would write them again); at the end a file far ahead closes every window.
//
// Until the enumerator, the subtasks listed the directory each on its own clock and owned files by a hash of
// their names, and files that appeared while the job ran lost rows that parallelism 1 keeps when a round was
// split between the subtasks (55 and 105 of about 500 windows; this test wrote the rounds during the runs
// with names that put both files on subtask 0). Now every round goes to whichever subtask asks.

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

// fsRoundFiles writes round r: its lag file, then its lead file.
func fsRoundFiles(dir string, r int) error {
	if err := fsFile(dir, fmt.Sprintf("r%05d-b.csv", r), r*fsRound, r*fsRound+fsRound/2); err != nil {
		return err
	}
	return fsFile(dir, fmt.Sprintf("r%05d-a.csv", r), r*fsRound+fsRound/2, (r+1)*fsRound)
}

// fsFeed writes the preloaded rounds, then a round every ~90 ms until stopped (n counts the rounds), then the
// closing file.
func fsFeed(t *testing.T, dir string) *feeder {
	for r := range fsPreload {
		if err := fsRoundFiles(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	return ticker(t, fsPreload, func(n int) (int, error) {
		time.Sleep(80 * time.Millisecond)
		return 1, fsRoundFiles(dir, n)
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
