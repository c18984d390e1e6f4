package engine

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOverBatchFailedJobLeavesNoRuns: a batch OVER whose rows outgrow 'table.exec.resource.sort.memory'
// spills sorted runs into 'io.tmp.dirs'; when the job fails upstream before the OVER's end (a division by
// zero at id 2900, after the OVER has spilled the rows before it), the OVER never sorts its runs, and none of
// its files stays in the directory: the sort unlinks each run as it writes it (exec/sort.go).
func TestOverBatchFailedJobLeavesNoRuns(t *testing.T) {
	tmp := t.TempDir()
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
SET 'table.exec.resource.sort.memory' = '16 kb';
CREATE TABLE big (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000', 'scan.parallelism' = '1');
CREATE TABLE sink (id BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id, SUM(q) OVER (PARTITION BY p ORDER BY o ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING)
FROM (SELECT id, MOD(id, 2) AS p, MOD(id, 101) AS o, 100 / (id - 2900) AS q FROM big);
`, tmp)
	res := execAll(ctx, t, s, script)
	if err := s.WaitJobs(ctx); err != nil {
		res += "job error: " + errText(err) + "\n"
	}
	if !strings.Contains(res, "job error: ") || !strings.Contains(strings.ToLower(res), "zero") {
		t.Fatalf("want the job to fail with the division by zero, got:\n%s", res)
	}
	var left []string
	_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".run") || strings.HasSuffix(p, ".spill")) {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("the failed job left %d spill files in 'io.tmp.dirs': %v", len(left), left)
	}
}
