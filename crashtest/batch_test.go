package crashtest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// TestBatchStageKill: a BATCH job (bounded kafka → GROUP BY, a blocking exchange, so the job runs in stages
// whose intermediate results are files in 'io.tmp.dirs' → filesystem json) is killed while a stage runs,
// several times; then it is run again to the end. As in Flink, a killed batch job is rerun from scratch:
// the sink's committed files must then hold each user's exact totals once (the killed attempts' files stay
// hidden in-progress files that readers skip), and the successful run must leave no intermediate result
// behind: kill -9 runs no clean-up, but the killed jobs' directories in 'io.tmp.dirs' are unlocked, and the
// next batch job removes them, so at the end 'io.tmp.dirs' is empty.
func TestBatchStageKill(t *testing.T) {
	const users, n = 300, 400000
	addr := broker(t, 4)
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "out")
	for i := 0; i < n; i += 50000 {
		produce(t, addr, "orders", orders(i, 50000, users))
	}
	sql := script(addr, `SET 'execution.runtime-mode' = 'batch';`,
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(out)+`', 'format' = 'json');`,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
	rng := rand.New(rand.NewPCG(50, uint64(time.Now().UnixNano())))
	jobDirs := func() map[string]bool {
		m := map[string]bool{}
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "sluice-job-") {
				m[e.Name()] = true
			}
		}
		return m
	}
	killed := map[string]bool{} // the job directories present when a run was killed
	for k := 0; k < min(*kills, 3); k++ {
		c := proctest.Start(t, clientBin, dir, sql)
		// Kill the run at a random moment after its staged job made its directory (a stage runs).
		made := func() bool {
			for d := range jobDirs() {
				if !killed[d] {
					return true
				}
			}
			return false
		}
		if !waitFor(30*time.Second, func() bool { return made() || c.Exited() }) || c.Exited() {
			t.Fatalf("run %d: the batch job made no directory in 'io.tmp.dirs' (or ended first):\n%s", k+1, indent(c.Output()))
		}
		time.Sleep(randomDelay(rng, time.Millisecond, 150*time.Millisecond))
		if c.Exited() {
			t.Fatalf("run %d: the batch job ended before the kill (give it more input):\n%s", k+1, indent(c.Output()))
		}
		for d := range jobDirs() {
			killed[d] = true
		}
		c.Kill()
	}
	start := time.Now()
	c := proctest.Start(t, clientBin, dir, sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil {
		t.Fatalf("the rerun did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	if strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the rerun failed:\n%s", indent(c.Output()))
	}
	// The expectation, and the rows of the committed (visible) files.
	cnt, sum := make([]int, users), make([]int, users)
	for i := 0; i < n; i++ {
		cnt[i%users]++
		sum[i%users] += i % 7
	}
	seen := map[string]int{}
	wrong, hidden, example := 0, 0, ""
	files, _ := os.ReadDir(out)
	for _, f := range files {
		if strings.HasPrefix(f.Name(), ".") || strings.HasPrefix(f.Name(), "_") {
			hidden++
			continue
		}
		fh, err := os.Open(filepath.Join(out, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			k, v := fields(t, sc.Bytes(), []string{"user_id"}), fields(t, sc.Bytes(), []string{"cnt", "total"})
			seen[k]++
			var u int
			if _, err := fmt.Sscan(k, &u); err != nil || u < 0 || u >= users || v != row(cnt[u], sum[u]) {
				wrong++
				example = "user " + k + ": " + v
			}
		}
		fh.Close()
	}
	lost, dups := 0, 0
	for u := 0; u < users; u++ {
		switch n := seen[row(u)]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	left := jobDirs()
	stray := len(left) // the successful run's own directory, or killed runs' directories it did not sweep
	t.Logf("%d kills mid-stage, then a full run (%v): %d users, %d lost, %d duplicated, %d wrong; %d hidden files of killed attempts in the sink directory; %d job directories of killed processes swept, %d left in 'io.tmp.dirs'",
		min(*kills, 3), time.Since(start).Round(time.Millisecond), users, lost, dups, wrong, hidden, len(killed), stray)
	if lost > 0 || dups > 0 || wrong > 0 || stray > 0 {
		t.Fatalf("batch rerun after kills: %d lost, %d duplicated, %d wrong (%s), %d job directories left in 'io.tmp.dirs' (the killed runs' ones must be swept)\nrerun output:\n%s",
			lost, dups, wrong, example, stray, indent(c.Output()))
	}
}
