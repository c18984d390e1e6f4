package filesystem_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/state"
)

// TestKillAndRestore runs datagen (a sequence) → filesystem (parquet, partitioned) with checkpoints every
// 100 ms in a real sql-client process, kills it with SIGKILL at random moments, restarts it from its latest
// checkpoint each time and lets the last run finish. The files then hold every id exactly once.
func TestKillAndRestore(t *testing.T) {
	const n = 24000
	dir := t.TempDir()
	bin := filepath.Join(dir, "sql-client")
	build := exec.Command("go", "build", "-o", bin, "github.com/sluicesql/sluice/cmd/sql-client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sql-client: %v\n%s", err, out)
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
	run := func(k int) *client {
		script := body
		if p, err := state.Latest(ckpts); err == nil && p != "" {
			script = fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", p) + script
		}
		f := filepath.Join(dir, fmt.Sprintf("run-%d.sql", k))
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		return startClient(t, bin, f)
	}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	kills := 0
	for k := 0; k < 4; k++ {
		c := run(k)
		time.Sleep(time.Duration(300+rng.IntN(600)) * time.Millisecond)
		if c.exited() {
			t.Fatalf("sql-client ended before the kill:\n%s", c.output())
		}
		c.kill()
		kills++
	}
	if p, err := state.Latest(ckpts); err != nil || p == "" {
		t.Fatalf("no checkpoint after %d runs (%v): the kills did not test a restore", kills, err)
	}
	c := run(99)
	select {
	case <-c.done:
	case <-time.After(40 * time.Second):
		c.kill()
		t.Fatalf("the last run did not finish:\n%s", c.output())
	}
	if c.err != nil || !strings.Contains(c.output(), "Complete execution") {
		t.Fatalf("the last run failed (%v):\n%s", c.err, c.output())
	}
	tbl := table(t, fmt.Sprintf(`CREATE TABLE out (id BIGINT, v STRING, p STRING) PARTITIONED BY (p) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'parquet')`, data))
	ids := readIDs(t, tbl)
	checkExactly(t, ids, n)
	t.Logf("%d kills, %d rows exactly once", kills, n)
}

type client struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (c *client) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *client) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func startClient(t *testing.T, bin, script string) *client {
	c := &client{done: make(chan struct{})}
	c.cmd = exec.Command(bin, "-f", script)
	c.cmd.Stdout, c.cmd.Stderr = c, c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	return c
}

func (c *client) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *client) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}
