package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
	fmtbuiltin "github.com/sluicesql/sluice/formats/builtin"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// table parses a CREATE TABLE statement into a catalog table.
func table(t testing.TB, ddl string) *catalog.Table {
	t.Helper()
	stmts, err := sql.ParseScript(ddl)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := catalog.New().CreateTable(stmts[0].(*sql.CreateTable))
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func connCtx(tbl *catalog.Table, batch bool) connectors.Context {
	return connectors.Context{Table: tbl, Options: tbl.Options, Formats: fmtbuiltin.Registry(), Batch: batch,
		Session: map[string]string{"table.local-time-zone": "UTC"}}
}

func openSink(t testing.TB, tbl *catalog.Table) changelog.Output {
	t.Helper()
	sk, err := filesystem.NewFactory().CreateSink(connCtx(tbl, false))
	if err != nil {
		t.Fatal(err)
	}
	out, err := sk.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pushRange pushes rows (id, 'p<id%3>') for ids in [from, to).
func pushRange(t testing.TB, out changelog.Output, from, to int) {
	t.Helper()
	b := &changelog.Batch{}
	for i := from; i < to; i++ {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), types.StringValue(fmt.Sprintf("v%d", i)), types.StringValue(fmt.Sprintf("p%d", i%3))})
		if b.Len() == 7 || i == to-1 {
			if err := out.Push(b); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
}

// readIDs reads the table with the connector's bounded source and returns the ids with their counts.
func readIDs(t testing.TB, tbl *catalog.Table) map[int64]int {
	t.Helper()
	src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
	if err != nil {
		t.Fatal(err)
	}
	c := &idCollector{ids: map[int64]int{}}
	if err := src.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ids
}

type idCollector struct {
	ids map[int64]int
	bad []string
}

func (c *idCollector) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		id := r.Vals[0].I
		c.ids[id]++
		if r.Vals[1].S != fmt.Sprintf("v%d", id) || r.Vals[2].S != fmt.Sprintf("p%d", id%3) {
			c.bad = append(c.bad, fmt.Sprint(r.Vals))
		}
	}
	return nil
}
func (c *idCollector) Watermark(int64) error { return nil }
func (c *idCollector) End() error            { return nil }

// checkExactly fails unless ids holds 0..n-1 exactly once each.
func checkExactly(t *testing.T, ids map[int64]int, n int) {
	t.Helper()
	var missing, dup []int64
	for i := 0; i < n; i++ {
		switch ids[int64(i)] {
		case 0:
			missing = append(missing, int64(i))
		case 1:
		default:
			dup = append(dup, int64(i))
		}
	}
	if len(ids) > n || len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("%d distinct ids, want %d; missing %v; duplicated %v", len(ids), n, missing, dup)
	}
}

// TestCrashAndRestore simulates a crash at every interesting point of the two-phase commit: the sink's run
// stops without End or Abort (as a killed process), the next run restores the checkpoint's state and the
// source replays the rows after the checkpoint. Readers see every row exactly once, and no in-progress
// file of the crashed run survives the restore.
func TestCrashAndRestore(t *testing.T) {
	for _, format := range []string{"parquet", "csv", "json", "avro"} {
		for _, crash := range []string{"after-precommit", "after-commit", "before-any-checkpoint"} {
			t.Run(format+"/"+crash, func(t *testing.T) {
				dir := t.TempDir()
				tbl := table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) PARTITIONED BY (p)
					WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s', 'sink.partition-commit.policy.kind' = 'success-file')`, dir, format))
				ctx := context.Background()
				out := openSink(t, tbl)
				ck := out.(connectors.CheckpointedSink)
				if err := ck.Restore(ctx, nil, 0); err != nil {
					t.Fatal(err)
				}
				var state []byte
				var id int64
				restoreAt := 0 // the source position of the checkpoint restored
				if crash != "before-any-checkpoint" {
					pushRange(t, out, 0, 100)
					st1, err := ck.PreCommit(ctx, 1)
					if err != nil {
						t.Fatal(err)
					}
					if err := ck.Commit(ctx, 1); err != nil {
						t.Fatal(err)
					}
					pushRange(t, out, 100, 250)
					state, id, restoreAt = st1, 1, 100
					st2, err := ck.PreCommit(ctx, 2)
					if err != nil {
						t.Fatal(err)
					}
					state, id, restoreAt = st2, 2, 250
					if crash == "after-commit" {
						if err := ck.Commit(ctx, 2); err != nil {
							t.Fatal(err)
						}
					}
				}
				pushRange(t, out, restoreAt, restoreAt+80) // written after the checkpoint, then the crash
				// Readers never see rows that no checkpoint committed.
				for i, n := range readIDs(t, tbl) {
					if i >= int64(restoreAt) || n != 1 || crash == "after-precommit" && i >= 100 {
						t.Fatalf("before the restore a reader sees id %d (%d times)", i, n)
					}
				}

				out2 := openSink(t, tbl)
				ck2 := out2.(connectors.CheckpointedSink)
				if err := ck2.Restore(ctx, state, id); err != nil {
					t.Fatal(err)
				}
				pushRange(t, out2, restoreAt, 400)
				if _, err := ck2.PreCommit(ctx, id+1); err != nil {
					t.Fatal(err)
				}
				if err := ck2.Commit(ctx, id+1); err != nil {
					t.Fatal(err)
				}
				pushRange(t, out2, 400, 500)
				if err := out2.End(); err != nil {
					t.Fatal(err)
				}
				checkExactly(t, readIDs(t, tbl), 500)
				var inprogress, success []string
				_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
					if strings.Contains(p, ".inprogress.") && crash != "before-any-checkpoint" {
						inprogress = append(inprogress, p)
					}
					if filepath.Base(p) == "_SUCCESS" {
						success = append(success, filepath.Base(filepath.Dir(p)))
					}
					return nil
				})
				if len(inprogress) > 0 {
					t.Errorf("in-progress files left: %v", inprogress)
				}
				sort.Strings(success)
				if fmt.Sprint(success) != "[p=p0 p=p1 p=p2]" {
					t.Errorf("success files in %v", success)
				}
			})
		}
	}
}

// TestRestoreOlderCheckpoint: restoring a checkpoint older than the latest committed one (a savepoint taken
// earlier) replays rows that later files already hold, but never overwrites those files: the counter of new
// part files continues after every existing file of the prefix.
func TestRestoreOlderCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tbl := table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json')`, dir))
	ctx := context.Background()
	out := openSink(t, tbl)
	ck := out.(connectors.CheckpointedSink)
	pushRange(t, out, 0, 100)
	st1, err := ck.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pushRange(t, out, 100, 200)
	if _, err := ck.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := ck.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	out2 := openSink(t, tbl)
	if err := out2.(connectors.CheckpointedSink).Restore(ctx, st1, 1); err != nil {
		t.Fatal(err)
	}
	pushRange(t, out2, 100, 300)
	if err := out2.End(); err != nil {
		t.Fatal(err)
	}
	ids := readIDs(t, tbl)
	for i := int64(0); i < 300; i++ {
		want := 1
		if i >= 100 && i < 200 {
			want = 2 // committed by checkpoint 2 and replayed after the restore of checkpoint 1
		}
		if ids[i] != want {
			t.Fatalf("id %d read %d times, want %d", i, ids[i], want)
		}
	}
}
