package crashtest

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// TestBatchPipelinedKill: a batch job that is not cut into stages ('execution.batch-shuffle-mode' =
// 'ALL_EXCHANGES_PIPELINED') materializes its sink's input in a file (sluice-stage-*.rows) while it reads a
// bounded 4-partition topic. Killed with SIGKILL while that file grows, 3 times, then run to the end under
// the same 'io.tmp.dirs': nothing may be left there. The file lives in the job's directory
// (sluice-job-<id>, engine/batch_jobdir.go), whose lock the kill releases, and the next batch job sweeps
// it; it was written into 'io.tmp.dirs' itself before, where every kill left one for good.
func TestBatchPipelinedKill(t *testing.T) {
	t.Parallel()
	const n = 400000
	addr := broker(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil { // (a pipelined job did not create it before)
		t.Fatal(err)
	}
	for i := 0; i < n; i += 50000 {
		produce(t, addr, "orders", orders(i, 50000, 300))
	}
	sql := script(addr, `SET 'execution.runtime-mode' = 'batch';`,
		`SET 'execution.batch-shuffle-mode' = 'ALL_EXCHANGES_PIPELINED';`,
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		`CREATE TABLE out_t (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'blackhole');`,
		`INSERT INTO out_t SELECT id, user_id, amount * 2 FROM orders WHERE amount > 0;`)
	// files lists every file under tmp, at any depth (relative names).
	files := func() []string {
		var out []string
		_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(tmp, p)
				out = append(out, rel)
			}
			return nil
		})
		return out
	}
	// rowsFiles lists the sink stage's files (anywhere under tmp: in a job directory or, before, beside them).
	rowsFiles := func() []string {
		var out []string
		for _, f := range files() {
			if strings.HasPrefix(filepath.Base(f), "sluice-stage-") && strings.HasSuffix(f, ".rows") {
				out = append(out, f)
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(51, uint64(time.Now().UnixNano())))
	killed, early := 0, 0
	seen := map[string]bool{} // the sink stage files of runs killed before
	for killed < 3 {
		c := proctest.Start(t, clientBin, dir, sql)
		fresh := func() bool {
			for _, f := range rowsFiles() {
				if !seen[f] {
					return true
				}
			}
			return false
		}
		if !waitFor(60*time.Second, func() bool { return fresh() || c.Exited() }) {
			t.Fatalf("kill %d: the job wrote no sink stage file in 60 s:\n%s", killed+1, indent(c.Output()))
		}
		time.Sleep(randomDelay(rng, 0, 30*time.Millisecond))
		if c.Exited() {
			if early++; early > 6 {
				t.Fatalf("the job ended before the kill %d times (give it more input):\n%s", early, indent(c.Output()))
			}
			continue
		}
		c.Kill()
		killed++
		left := rowsFiles()
		for _, f := range left {
			seen[f] = true
		}
		if len(left) == 0 {
			t.Fatalf("kill %d: no sink stage file under 'io.tmp.dirs' after the kill: the test tests nothing", killed)
		}
	}
	before := files()
	c := proctest.Start(t, clientBin, dir, sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil {
		t.Fatalf("the last run did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	if strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the last run failed:\n%s", indent(c.Output()))
	}
	left := files()
	t.Logf("%d kills while the sink stage's file grew (%d runs ended first); %d files under 'io.tmp.dirs' before the last run, %d after",
		killed, early, len(before), len(left))
	if len(left) > 0 {
		t.Fatalf("'io.tmp.dirs' holds %d files after the last run (the killed runs' must be swept, its own removed): %v\nlast run:\n%s",
			len(left), left, indent(c.Output()))
	}
}
