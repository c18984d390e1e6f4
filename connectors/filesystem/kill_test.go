package filesystem_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/sluicesql/sluice/state"
)

// TestKillAndRestore runs datagen (a sequence) → filesystem (parquet, partitioned) with checkpoints every
// 100 ms in a real sql-client process, kills it with SIGKILL at random moments, restarts it from its latest
// checkpoint each time and lets the last run finish. The files then hold every id exactly once.
func TestKillAndRestore(t *testing.T) {
	const n = 24000
	dir := t.TempDir()
	bin, err := proctest.BuildClient(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, ckpts := filepath.Join(dir, "data"), filepath.Join(dir, "ckpts")
	body := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = '%s';
SET 'table.dml-sync' = 'true';
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
  'fields.id.end' = '%d', 'rows-per-second' = '4000');
CREATE TABLE out (id BIGINT, v STRING, p STRING) PARTITIONED BY (p) WITH ('connector' = 'filesystem', 'path' = '%s',
  'format' = 'parquet', 'sink.partition-commit.policy.kind' = 'success-file');
INSERT INTO out SELECT id, CONCAT('v', CAST(id AS STRING)), CONCAT('p', CAST(MOD(id, 3) AS STRING)) FROM gen;
`, ckpts, n-1, data)
	run := func() *proctest.Client {
		script := body
		if p, err := state.Latest(ckpts); err == nil && p != "" {
			script = fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", p) + script
		}
		return proctest.Start(t, bin, dir, script)
	}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	kills := 0
	for k := 0; k < 4; k++ {
		c := run()
		time.Sleep(time.Duration(300+rng.IntN(600)) * time.Millisecond)
		if c.Exited() {
			t.Fatalf("sql-client ended before the kill:\n%s", c.Output())
		}
		c.Kill()
		kills++
	}
	if p, err := state.Latest(ckpts); err != nil || p == "" {
		t.Fatalf("no checkpoint after %d runs (%v): the kills did not test a restore", kills, err)
	}
	c := run()
	ended, err := c.Wait(40 * time.Second)
	if !ended {
		t.Fatalf("the last run did not finish:\n%s", c.Output())
	}
	if err != nil || !strings.Contains(c.Output(), "Complete execution") {
		t.Fatalf("the last run failed (%v):\n%s", err, c.Output())
	}
	tbl := table(t, fmt.Sprintf(`CREATE TABLE out (id BIGINT, v STRING, p STRING) PARTITIONED BY (p) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'parquet')`, data))
	ids := readIDs(t, tbl)
	checkExactly(t, ids, n)
	t.Logf("%d kills, %d rows exactly once", kills, n)
}
