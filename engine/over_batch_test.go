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

// TestOverBatchSpill: a batch OVER whose rows exceed 'table.exec.resource.sort.memory' spills into the job's
// directory under the first of 'io.tmp.dirs' (testdata/over shows that its results equal the in-memory
// ones; exec's TestSortedOverSpillDirError the OVER aggregate's error naming the directory and the option). A pipelined
// batch job makes that directory when it is submitted (engine/batch_jobdir.go), so a first 'io.tmp.dirs'
// that cannot take files fails the INSERT at once, naming the directory and the option, whatever the budget
// (it failed when the OVER aggregate spilled, or with the default budget when the sink's stage wrote its
// file, before).
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
	for _, mem := range []string{"16 kb", "128 mb"} {
		if res := run(mem); strings.Contains(res, "job submitted") || !strings.Contains(res, file) || !strings.Contains(res, "'io.tmp.dirs'") {
			t.Errorf("sort memory %s, 'io.tmp.dirs' %s: want the INSERT refused naming the directory and 'io.tmp.dirs', got:\n%s", mem, bad, res)
		}
	}
}
