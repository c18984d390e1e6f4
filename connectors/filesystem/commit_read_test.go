package filesystem_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connectors/filesystem"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Readers honour the batch sink's commit manifests (commit_read.go): a run killed during its commit is
// read whole or not at all.

// rollForward opens a streaming sink on the table's path and ends it: it completes the commits of killed
// runs.
func rollForward(t *testing.T, dir string) {
	t.Helper()
	ctx := connCtx(commitTable(t, dir), false)
	ctx.Stderr = &bytes.Buffer{} // its notice
	sk, err := filesystem.NewFactory().CreateSink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sk.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	end(t, out)
}

// TestReadKilledCommit: a batch read of a path whose last run was killed during its commit shows none of
// its rows while some of its files are hidden, and every row once when they are all in place (renamed by
// the killed run itself, or by the roll forward of the next sink).
func TestReadKilledCommit(t *testing.T) {
	for _, kill := range []string{"before-renames", "mid-renames", "after-renames"} {
		t.Run(kill, func(t *testing.T) {
			dir := t.TempDir()
			tbl := commitTable(t, dir)
			out, _ := openBatch(t, tbl, "A")
			pushRange(t, out, 0, commitRows)
			renamed := map[string]int{"before-renames": 0, "mid-renames": 5, "after-renames": 1 << 30}[kill]
			files, err := filesystem.KillBatchOutputInCommit(out, renamed)
			if err != nil {
				t.Fatal(err)
			}
			if st := stateOf(t, dir); st.visible != min(renamed, files) || st.records != 1 {
				t.Fatalf("after the kill: %+v", st)
			}
			if renamed >= files {
				checkExactly(t, readIDs(t, tbl), commitRows)
			} else if ids := readIDs(t, tbl); len(ids) != 0 {
				t.Fatalf("the killed run's commit is not complete: read %d ids, want none", len(ids))
			}
			rollForward(t, dir)
			checkExactly(t, readIDs(t, tbl), commitRows)
		})
	}
}

// TestReadKilledCommitWithOtherRuns: the rows of other runs are read while a killed run's commit is
// hidden; the lookup source sees the same.
func TestReadKilledCommitWithOtherRuns(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	first, _ := openBatch(t, tbl, "A")
	pushRange(t, first, 0, commitRows)
	end(t, first)
	killed, _ := openBatch(t, tbl, "B")
	pushRange(t, killed, commitRows, 2*commitRows)
	if _, err := filesystem.KillBatchOutputInCommit(killed, 4); err != nil {
		t.Fatal(err)
	}
	checkExactly(t, readIDs(t, tbl), commitRows)

	lookupIDs := func() (int, int) {
		t.Helper()
		lk, err := filesystem.NewFactory().CreateLookup(connCtx(tbl, false), []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if err := lk.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer lk.Close()
		found := [2]int{}
		for i := 0; i < 2*commitRows; i++ {
			rows, err := lk.Lookup(context.Background(), []types.Value{types.IntValue(int64(i))}, nil)
			if err != nil {
				t.Fatal(err)
			}
			found[i/commitRows] += len(rows)
		}
		return found[0], found[1]
	}
	if a, b := lookupIDs(); a != commitRows || b != 0 {
		t.Fatalf("lookup: %d rows of the committed run, %d of the killed one; want %d and 0", a, b, commitRows)
	}
	rollForward(t, dir)
	checkExactly(t, readIDs(t, tbl), 2*commitRows)
	if a, b := lookupIDs(); a != commitRows || b != commitRows {
		t.Fatalf("lookup after the roll forward: %d and %d rows, want %d of each run", a, b, commitRows)
	}
}

// TestReadDamagedManifest: a damaged manifest stops the reader with an error naming the file and the
// directory to remove; once removed, the files renamed so far are read.
func TestReadDamagedManifest(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	if _, err := filesystem.KillBatchOutputInCommit(out, 2); err != nil {
		t.Fatal(err)
	}
	manifests := mustGlob(t, filepath.Join(dir, ".sluice-staging", "*", "manifest.json"))
	if len(manifests) != 1 {
		t.Fatalf("manifests %v", manifests)
	}
	if err := os.WriteFile(manifests[0], []byte(`{"files":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background(), &idCollector{ids: map[int64]int{}})
	record := filepath.Dir(manifests[0])
	if err == nil || !strings.Contains(err.Error(), manifests[0]) || !strings.Contains(err.Error(), "is not readable") ||
		!strings.Contains(err.Error(), "remove the directory '"+record+"'") {
		t.Fatalf("error %v: want one naming the damaged manifest and the directory to remove", err)
	}
	if err := os.RemoveAll(record); err != nil {
		t.Fatal(err)
	}
	if ids := readIDs(t, tbl); len(ids) == 0 || len(ids) >= commitRows {
		t.Fatalf("after the record's removal: %d ids, want those of the 2 files renamed", len(ids))
	}
}

// TestMonitorKilledCommit: a monitoring source does not read a killed run's files while its commit is not
// complete, and reads each of them once after the roll forward completes it. Marker files named after
// every part file (partition 'p=p9') tell where a listing's files end: a file of a listing is read before
// them.
func TestMonitorKilledCommit(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	if _, err := filesystem.KillBatchOutputInCommit(out, 5); err != nil {
		t.Fatal(err)
	}
	marker := func(n int) {
		t.Helper()
		p := filepath.Join(dir, "p=p9")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(p, fmt.Sprintf(".marker-%d", n))
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d,m%d\n", -n, n)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(p, fmt.Sprintf("zz-marker-%d", n))); err != nil {
			t.Fatal(err)
		}
	}
	marker(1)

	s, err := engine.NewSession(engine.Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stmts, err := sql.ParseScript(fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) PARTITIONED BY (p) WITH (
		'connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', 'source.monitor-interval' = '20 ms');
		SELECT id FROM t;`, dir))
	if err != nil {
		t.Fatal(err)
	}
	var res *engine.Result
	for _, st := range stmts {
		if res, err = s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	q := res.Query
	defer q.Close()
	ids := map[int64]int{}
	// readTo reads rows up to the marker n's row and returns how many rows of the killed run came.
	readTo := func(n int) int {
		t.Helper()
		rows := 0
		for {
			r, ok := q.Next(ctx)
			if !ok {
				t.Fatalf("the query ended: %v", q.Err())
			}
			id := r.Vals[0].I
			if id == int64(-n) {
				return rows
			}
			if id >= 0 {
				ids[id]++
				rows++
			}
		}
	}
	if got := readTo(1); got != 0 {
		t.Fatalf("before the commit completed: %d rows of the killed run, want none", got)
	}
	rollForward(t, dir)
	marker(2)
	readTo(2)
	marker(3)
	readTo(3)
	checkExactly(t, ids, commitRows)
}
