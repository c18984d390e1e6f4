package filesystem_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
)

// The batch sink's whole-or-nothing commit (sink_commit.go): runs killed before, during and after their
// commit (simulated in this process: the run's files and record stay, its lock goes), and what the next
// sink opened on the path does with them.

const commitRows = 3000

func commitTable(t *testing.T, dir string) *catalog.Table {
	return table(t, fmt.Sprintf(`CREATE TABLE out (id BIGINT, v STRING, p STRING) PARTITIONED BY (p) WITH (
  'connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', 'sink.rolling-policy.file-size' = '2kb',
  'sink.partition-commit.policy.kind' = 'success-file')`, dir))
}

// openBatch opens the table's sink as a batch job's whose statement has the given identity; the buffer
// gets its notices.
func openBatch(t *testing.T, tbl *catalog.Table, identity string) (changelog.Output, *bytes.Buffer) {
	t.Helper()
	out, notices, err := tryOpenBatch(tbl, identity)
	if err != nil {
		t.Fatal(err)
	}
	return out, notices
}

func tryOpenBatch(tbl *catalog.Table, identity string) (changelog.Output, *bytes.Buffer, error) {
	notices := &bytes.Buffer{}
	ctx := connCtx(tbl, true)
	ctx.Stderr = notices
	sk, err := filesystem.NewFactory().CreateSink(ctx)
	if err != nil {
		return nil, nil, err
	}
	sk.(connectors.RunIdentitySink).SetRunIdentity(identity)
	out, err := sk.Open(context.Background())
	return out, notices, err
}

// dirState lists the sink directory: visible part files, hidden part files, run records in the staging
// area, and success files.
type dirState struct{ visible, hidden, records, success int }

func stateOf(t *testing.T, dir string) dirState {
	t.Helper()
	var st dirState
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir() && name == ".sluice-staging":
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					st.records++
				}
			}
			return fs.SkipDir
		case d.IsDir():
		case name == "_SUCCESS":
			st.success++
		case strings.HasPrefix(name, ".part-"):
			st.hidden++
		case strings.HasPrefix(name, "part-"):
			st.visible++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func end(t *testing.T, out changelog.Output) {
	t.Helper()
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
}

// checkTimes fails unless ids holds 0..n-1 exactly times each.
func checkTimes(t *testing.T, ids map[int64]int, n, times int) {
	t.Helper()
	bad := 0
	for i := 0; i < n; i++ {
		if ids[int64(i)] != times {
			bad++
		}
	}
	if bad > 0 || len(ids) != n {
		t.Fatalf("%d distinct ids (want %d), %d of them not there %d times", len(ids), n, bad, times)
	}
}

// TestBatchCommitRollForward: a run killed after its manifest with none, half or all of its files renamed.
// The next sink opened on the path (here a streaming one) completes the commit (every row once, success
// files written) and keeps the record; opening another is a no-op; the rerun of the same statement writes
// no rows and removes the record; the run after it appends again.
func TestBatchCommitRollForward(t *testing.T) {
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
			if files < 10 {
				t.Fatalf("the run wrote %d files, want several", files)
			}
			st := stateOf(t, dir)
			if st.visible != min(renamed, files) || st.hidden != files-st.visible || st.records != 1 || st.success != 0 {
				t.Fatalf("after the kill: %+v, want %d of %d files visible, 1 record, no success file", st, min(renamed, files), files)
			}

			for i := 0; i < 2; i++ { // a second roll forward finds nothing to do
				notices := &bytes.Buffer{}
				ctx := connCtx(tbl, false)
				ctx.Stderr = notices
				sk, err := filesystem.NewFactory().CreateSink(ctx)
				if err != nil {
					t.Fatal(err)
				}
				o, err := sk.Open(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				end(t, o)
				if got := stateOf(t, dir); got != (dirState{visible: files, records: 1, success: 3}) {
					t.Fatalf("after roll forward %d: %+v, want every file visible, the record kept, 3 success files", i+1, got)
				}
				wantNotice := i == 0 && renamed < files
				if got := strings.Contains(notices.String(), "completed the commit"); got != wantNotice {
					t.Fatalf("roll forward %d: notice %q, want one: %v", i+1, notices, wantNotice)
				}
				checkExactly(t, readIDs(t, tbl), commitRows)
			}

			rerun, notices := openBatch(t, tbl, "A")
			if !strings.Contains(notices.String(), "this run writes no rows") {
				t.Fatalf("the rerun's notice: %q", notices)
			}
			pushRange(t, rerun, 0, commitRows)
			end(t, rerun)
			if got := stateOf(t, dir); got != (dirState{visible: files, success: 3}) {
				t.Fatalf("after the rerun: %+v, want only the killed run's files, no record", got)
			}
			checkExactly(t, readIDs(t, tbl), commitRows)

			next, notices := openBatch(t, tbl, "A")
			pushRange(t, next, 0, commitRows)
			end(t, next)
			if notices.Len() > 0 {
				t.Fatalf("a run after the rerun: notice %q", notices)
			}
			checkTimes(t, readIDs(t, tbl), commitRows, 2)
		})
	}
}

// TestBatchCommitOtherStatement: a run of another statement completes a killed run's commit and appends
// its own rows; the killed run's record stays for its own rerun, which writes nothing.
func TestBatchCommitOtherStatement(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	if _, err := filesystem.KillBatchOutputInCommit(out, 3); err != nil {
		t.Fatal(err)
	}
	other, notices := openBatch(t, tbl, "B")
	if !strings.Contains(notices.String(), "completed the commit") {
		t.Fatalf("notice %q", notices)
	}
	pushRange(t, other, commitRows, 2*commitRows)
	end(t, other)
	checkExactly(t, readIDs(t, tbl), 2*commitRows)
	if st := stateOf(t, dir); st.records != 1 || st.hidden != 0 {
		t.Fatalf("%+v: want the killed run's record kept, no hidden file", st)
	}
	rerun, _ := openBatch(t, tbl, "A")
	pushRange(t, rerun, 0, commitRows)
	end(t, rerun)
	checkExactly(t, readIDs(t, tbl), 2*commitRows)
	if st := stateOf(t, dir); st.records != 0 || st.hidden != 0 {
		t.Fatalf("%+v: want no record, no hidden file", st)
	}
}

// TestBatchCommitKilledBeforeCommit: a run killed while writing leaves nothing visible; the next sink
// opened on the path removes its hidden files and record, and the rerun writes every row once.
func TestBatchCommitKilledBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	filesystem.KillBatchOutput(out)
	if st := stateOf(t, dir); st.visible != 0 || st.hidden < 10 || st.records != 1 {
		t.Fatalf("after the kill: %+v, want nothing visible, the hidden files, 1 record", st)
	}
	rerun, notices := openBatch(t, tbl, "A")
	if st := stateOf(t, dir); st.hidden != 0 || st.records != 1 || notices.Len() > 0 {
		t.Fatalf("after the rerun opened: %+v (notice %q), want the killed run's files and record removed", st, notices)
	}
	pushRange(t, rerun, 0, commitRows)
	end(t, rerun)
	checkExactly(t, readIDs(t, tbl), commitRows)
	if st := stateOf(t, dir); st.hidden != 0 || st.records != 0 || st.success != 3 {
		t.Fatalf("after the rerun: %+v", st)
	}
}

// TestBatchCommitLiveRunKept: the record of a run still writing (its lock held) is not taken over: a
// second run of the same statement meanwhile is no rerun, both append.
func TestBatchCommitLiveRunKept(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	first, _ := openBatch(t, tbl, "A")
	pushRange(t, first, 0, commitRows)
	second, notices := openBatch(t, tbl, "A")
	if notices.Len() > 0 {
		t.Fatalf("notice %q", notices)
	}
	pushRange(t, second, 0, commitRows)
	end(t, second)
	end(t, first)
	checkTimes(t, readIDs(t, tbl), commitRows, 2)
	if st := stateOf(t, dir); st.hidden != 0 || st.records != 0 {
		t.Fatalf("%+v", st)
	}
}

// TestBatchCommitAbort: an aborted batch output leaves no file and no record.
func TestBatchCommitAbort(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	if err := out.(connectors.Aborter).Abort(); err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, dir); st != (dirState{}) {
		t.Fatalf("%+v, want nothing", st)
	}
}

// TestBatchCommitDamagedRecord: a damaged manifest or run record of a killed run stops the next sink with
// an error naming the file and the directory to remove; once removed, the sink opens.
func TestBatchCommitDamagedRecord(t *testing.T) {
	damage := map[string]func(t *testing.T, file string){
		"truncated manifest": func(t *testing.T, file string) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, data[:len(data)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"manifest outside the path": func(t *testing.T, file string) {
			if err := os.WriteFile(file, []byte(`{"files":[{"pending":"../x/.part-1","final":"../x/part-1"}]}`), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"run record not json": func(t *testing.T, file string) {
			if err := os.WriteFile(filepath.Join(filepath.Dir(file), "run.json"), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tbl := commitTable(t, dir)
			out, _ := openBatch(t, tbl, "A")
			pushRange(t, out, 0, commitRows)
			if _, err := filesystem.KillBatchOutputInCommit(out, 2); err != nil {
				t.Fatal(err)
			}
			records, _ := filepath.Glob(filepath.Join(dir, ".sluice-staging", "*", "manifest.json"))
			if len(records) != 1 {
				t.Fatalf("manifests %v", records)
			}
			damage(t, records[0])
			_, _, err := tryOpenBatch(tbl, "A")
			record := filepath.Dir(records[0])
			if err == nil || !strings.Contains(err.Error(), filepath.Dir(records[0])+string(filepath.Separator)) ||
				!strings.Contains(err.Error(), "is not readable") || !strings.Contains(strings.ToLower(err.Error()), "remove the directory '"+strings.ToLower(record)+"'") {
				t.Fatalf("error %v: want one naming the damaged file and the directory to remove", err)
			}
			if err := os.RemoveAll(record); err != nil {
				t.Fatal(err)
			}
			out, _ = openBatch(t, tbl, "A")
			end(t, out)
		})
	}
}

// TestBatchCommitResultRemoved: a committed file of a killed run removed before the next sink opened on
// the path: the roll forward stops, saying which file and what to remove; after that the rerun writes
// the whole result again.
func TestBatchCommitResultRemoved(t *testing.T) {
	dir := t.TempDir()
	tbl := commitTable(t, dir)
	out, _ := openBatch(t, tbl, "A")
	pushRange(t, out, 0, commitRows)
	if _, err := filesystem.KillBatchOutputInCommit(out, 1<<30); err != nil {
		t.Fatal(err)
	}
	visible, _ := filepath.Glob(filepath.Join(dir, "p=p1", "part-*"))
	if len(visible) == 0 {
		t.Fatal("no committed file")
	}
	if err := os.Remove(visible[0]); err != nil {
		t.Fatal(err)
	}
	_, _, err := tryOpenBatch(tbl, "A")
	if err == nil || !strings.Contains(err.Error(), visible[0]) || !strings.Contains(err.Error(), "remove the directory") {
		t.Fatalf("error %v: want one naming the removed file and the directory to remove", err)
	}
	records, _ := filepath.Glob(filepath.Join(dir, ".sluice-staging", "*"))
	for _, r := range records {
		if err := os.RemoveAll(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range mustGlob(t, filepath.Join(dir, "p=*", "part-*")) {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	rerun, _ := openBatch(t, tbl, "A")
	pushRange(t, rerun, 0, commitRows)
	end(t, rerun)
	checkExactly(t, readIDs(t, tbl), commitRows)
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
