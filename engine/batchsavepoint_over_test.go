package engine

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// TestBatchSavepointOver: a BATCH run over the first rows of a topic writes a savepoint over OVER
// aggregates of every streaming kind (RANGE and ROWS, unbounded and bounded, LAG with a default); a
// STREAMING run restored from it reads the rest of the topic. The rows both runs print are exactly those of
// one streaming run over the whole topic: the batch run emits only the rows its streaming twin's watermark
// would have passed and saves the others, with each partition's aggregates, for the streaming run. The
// topic is cut inside a group of rows of equal time, so rows saved as pending meet their peers in the
// streaming run.
func TestBatchSavepointOver(t *testing.T) {
	kf := &kafkaFixture{t: t}
	defer kf.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Row i: key i % 3, v = i, time i / 6 seconds: two rows of each key per second.
	rows := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, `{"k":%d,"v":%d,"ts":"2024-01-01 00:%02d:%02d"}`+"\n", i%3, i, i/6/60, i/6%60)
		}
		return b.String()
	}
	ddl := func(bounded bool) string {
		bound := ""
		if bounded {
			bound = ", 'scan.bounded.mode' = 'latest-offset'"
		}
		return fmt.Sprintf(`CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = '%s', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'%s);
CREATE TABLE out (k BIGINT, v BIGINT, s BIGINT, sr BIGINT, c3 BIGINT, m BIGINT, l BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT k, v,
  SUM(v) OVER (PARTITION BY k ORDER BY ts),
  SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
  COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  MAX(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '3' SECOND PRECEDING AND CURRENT ROW),
  LAG(v, 5, -v) OVER (PARTITION BY k ORDER BY ts)
FROM ev;
`, kf.addr, bound)
	}
	// run runs script to its end (every source bounded) and returns the rows printed and the job's savepoint.
	run := func(script string) ([]string, string) {
		t.Helper()
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(script)
		if err != nil {
			t.Fatal(err)
		}
		var job *Job
		for _, st := range stmts {
			res, err := s.Execute(ctx, st)
			if err != nil {
				t.Fatalf("%v\nscript:\n%s", err, script)
			}
			if res.Job != nil {
				job = res.Job
			}
		}
		if err := job.Wait(ctx); err != nil {
			t.Fatalf("%v\noutput:\n%s", err, out.String())
		}
		var printed []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "+I[") {
				printed = append(printed, l)
			}
		}
		return printed, job.Savepoint()
	}
	kf.produce("ev", rows(0, 100)) // cut inside second 16 (rows 96 to 101)
	batch, sp := run(fmt.Sprintf("SET 'execution.runtime-mode' = 'batch';\nSET 'sluice.batch.savepoint-dir' = '%s';\n", t.TempDir()) + ddl(true))
	if sp == "" {
		t.Fatal("the batch run wrote no savepoint")
	}
	kf.produce("ev", rows(100, 200))
	restored, _ := run(fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", sp) + ddl(true))
	one, _ := run(ddl(true))
	// Time 16 s is the last second of the batch run's rows: its watermark is 14 s, so it emits the rows up
	// to 14 s (rows 0 to 89) and saves rows 90 to 99 as pending.
	if len(batch) != 90 || len(one) != 200 {
		t.Fatalf("the batch run printed %d rows, want 90 (those its watermark passes); one streaming run %d, want 200", len(batch), len(one))
	}
	got := slices.Concat(batch, restored)
	slices.Sort(got)
	slices.Sort(one)
	if !slices.Equal(got, one) {
		t.Fatalf("batch then restored streaming printed\n%s\nwant (one streaming run)\n%s", strings.Join(got, "\n"), strings.Join(one, "\n"))
	}
}
