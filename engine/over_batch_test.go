package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOverBatchSpill: a batch OVER whose rows exceed 'table.exec.resource.sort.memory' spills into the first
// of 'io.tmp.dirs' (testdata/over shows that its results equal the in-memory ones): with a directory that
// cannot take files the job fails with the OVER aggregate's error naming it and the option, while with the
// default budget the OVER aggregate runs in memory (the sink's stage file fails there later instead).
func TestOverBatchSpill(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "spill")
	run := func(mem string) string {
		var out bytes.Buffer
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		script := fmt.Sprintf(`SET 'execution.runtime-mode' = 'batch';
SET 'execution.batch-shuffle-mode' = 'ALL_EXCHANGES_PIPELINED';
SET 'io.tmp.dirs' = '%s';
SET 'table.exec.resource.sort.memory' = '%s';
CREATE TABLE big (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000');
CREATE TABLE sink (id BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id, SUM(id) OVER (PARTITION BY p ORDER BY o) FROM (SELECT id, MOD(id, 2) AS p, MOD(id, 101) AS o FROM big);
`, bad, mem)
		res := execAll(ctx, t, s, script)
		if err := s.WaitJobs(ctx); err != nil {
			res += "job error: " + errText(err) + "\n"
		}
		return res
	}
	if res := run("16 kb"); !strings.Contains(res, "job error: ") || !strings.Contains(res, "OVER aggregate: ") ||
		!strings.Contains(res, bad) || !strings.Contains(res, "'io.tmp.dirs'") {
		t.Errorf("spilling into %s: want a job error of the OVER aggregate naming it and 'io.tmp.dirs', got:\n%s", bad, res)
	}
	// The sink's stage file fails later in the same directory: the OVER aggregate, in memory, does not.
	if res := run("128 mb"); strings.Contains(res, "OVER aggregate") || !strings.Contains(res, "batch stage for sink") {
		t.Errorf("in memory: want only the sink's stage failing, got:\n%s", res)
	}
}
