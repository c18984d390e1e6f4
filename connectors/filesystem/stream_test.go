package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// TestMonitoringSource: with 'source.monitor-interval' a streaming SELECT picks up files that appear later
// (committed by renaming, as the sink does) and never reads hidden in-progress files.
func TestMonitoringSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		tmp := filepath.Join(dir, ".tmp-"+name)
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("part-a", "1,a\n2,b\n")
	if err := os.WriteFile(filepath.Join(dir, ".part-x.inprogress.y"), []byte("99,hidden\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := engine.NewSession(engine.Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stmts, err := sql.ParseScript(fmt.Sprintf(`CREATE TABLE t (id INT, name STRING) WITH ('connector' = 'filesystem',
		'path' = '%s', 'format' = 'csv', 'source.monitor-interval' = '50 ms');
		SELECT id, name FROM t;`, dir))
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
	next := func() string {
		r, ok := q.Next(ctx)
		if !ok {
			t.Fatalf("the query ended: %v", q.Err())
		}
		return fmt.Sprintf("%d %s", r.Vals[0].I, r.Vals[1].S)
	}
	got := []string{next(), next()}
	write("part-b", "3,c\n")
	got = append(got, next())
	write("part-c", "4,d\n")
	got = append(got, next())
	if fmt.Sprint(got) != "[1 a 2 b 3 c 4 d]" {
		t.Fatalf("rows %v", got)
	}
}

// TestPartitionTimeCommit: with the partition-time trigger a partition gets its success file once a
// completed checkpoint saw a watermark past the partition's time plus the delay.
func TestPartitionTimeCommit(t *testing.T) {
	dir := t.TempDir()
	tbl := table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, dt STRING, h STRING) PARTITIONED BY (dt, h)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json',
		'sink.partition-commit.trigger' = 'partition-time', 'sink.partition-commit.delay' = '1 h',
		'partition.time-extractor.timestamp-pattern' = '$dt $h:00:00',
		'sink.partition-commit.policy.kind' = 'success-file,metastore', 'sink.partition-commit.success-file.name' = '_DONE')`, dir))
	out := openSink(t, tbl)
	ck := out.(connectors.CheckpointedSink)
	ctx := context.Background()
	b := &changelog.Batch{}
	for i, p := range [][2]string{{"2024-05-01", "10"}, {"2024-05-01", "11"}, {"2024-05-01", "12"}} {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), types.StringValue(p[0]), types.StringValue(p[1])})
	}
	if err := out.Push(b); err != nil {
		t.Fatal(err)
	}
	ms := func(s string) int64 {
		v, _ := time.Parse("2006-01-02 15:04", s)
		return v.UnixMilli()
	}
	done := func() string {
		var ds []string
		for _, h := range []string{"10", "11", "12"} {
			if _, err := os.Stat(filepath.Join(dir, "dt=2024-05-01", "h="+h, "_DONE")); err == nil {
				ds = append(ds, h)
			}
		}
		return fmt.Sprint(ds)
	}
	steps := []struct {
		wm   string
		want string
	}{
		{"2024-05-01 10:59", "[]"},
		{"2024-05-01 11:00", "[10]"},
		{"2024-05-01 12:30", "[10 11]"},
	}
	for i, st := range steps {
		if err := out.Watermark(ms(st.wm)); err != nil {
			t.Fatal(err)
		}
		id := int64(i + 1)
		if _, err := ck.PreCommit(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := done(); got != "[]" && i == 0 {
			t.Fatalf("committed before the checkpoint completed: %s", got)
		}
		if err := ck.Commit(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := done(); got != st.want {
			t.Fatalf("watermark %s: success files in %s, want %s", st.wm, got, st.want)
		}
	}
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
	if got := done(); got != "[10 11 12]" {
		t.Fatalf("at the end: %s", got)
	}
}

// TestRollingBySize: a small file size rolls many files; all of them are committed and hold every row.
func TestRollingBySize(t *testing.T) {
	dir := t.TempDir()
	tbl := table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, v STRING, p STRING) WITH ('connector' = 'filesystem', 'path' = '%s',
		'format' = 'csv', 'sink.rolling-policy.file-size' = '1 kb')`, dir))
	out := openSink(t, tbl)
	pushRange(t, out, 0, 1000)
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) < 10 {
		t.Fatalf("%d files, want at least 10 of about 1 kb", len(ents))
	}
	checkExactly(t, readIDs(t, tbl), 1000)
}

// TestStreamingWithoutCheckpoints: an unbounded streaming job without checkpointing makes its files visible
// at the engine's flush cycle (5 s), and a cancelled job commits what it wrote.
func TestStreamingWithoutCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s, err := engine.NewSession(engine.Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stmts, err := sql.ParseScript(fmt.Sprintf(`CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
		'fields.id.start' = '0', 'fields.id.end' = '100000000', 'rows-per-second' = '200');
		CREATE TABLE out (id BIGINT, v STRING, p STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		INSERT INTO out SELECT id, CONCAT('v', CAST(id AS STRING)), CONCAT('p', CAST(MOD(id, 3) AS STRING)) FROM gen;`, dir))
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	tbl := table(t, fmt.Sprintf(`CREATE TABLE out (id BIGINT, v STRING, p STRING) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv')`, dir))
	deadline := time.Now().Add(12 * time.Second)
	for len(readIDs(t, tbl)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no committed rows after 12 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	job.Cancel()
	_ = job.Wait(ctx)
	ids := readIDs(t, tbl)
	n := len(ids)
	checkExactly(t, ids, n)
	if n < 1000 {
		t.Fatalf("only %d rows after the cancel", n)
	}
}
