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
	t.Parallel()
	batchKill(t, 0, 3, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
}

// TestBatchStageKillParallel: the same at 'parallelism.default' = 2 and 3 with two keyed stages (GROUP BY
// user_id, amount, then GROUP BY user_id) running as P tasks each over hash-partitioned files, the source
// stage as P tasks over the 4 partitions; killed 8 times (at random moments once the job's directory
// exists: the source tasks or the keyed tasks running), then run again to the end with the same
// parallelism. A killed batch job is rerun from scratch: the committed files must hold each user's totals
// exactly once, and no job directory may be left.
func TestBatchStageKillParallel(t *testing.T) {
	t.Parallel()
	for _, p := range []int{2, 3} {
		t.Run(fmt.Sprintf("P%d", p), func(t *testing.T) {
			t.Parallel()
			batchKill(t, p, *kills, `INSERT INTO totals SELECT user_id, SUM(c), SUM(s) FROM
  (SELECT user_id, amount, COUNT(*) AS c, SUM(amount) AS s FROM orders GROUP BY user_id, amount) GROUP BY user_id;`)
		})
	}
}

// batchKill runs insert (orders → totals) at parallelism par (0: the default), killed nkills times, then to
// the end, and checks the sink's committed files and 'io.tmp.dirs'.
func batchKill(t *testing.T, par, nkills int, insert string) {
	const users, n = 300, 400000
	addr := broker(t, 4)
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "out")
	for i := 0; i < n; i += 50000 {
		produce(t, addr, "orders", orders(i, 50000, users))
	}
	setPar := ""
	if par > 0 {
		setPar = fmt.Sprintf(`SET 'parallelism.default' = '%d';`, par)
	}
	sql := script(addr, `SET 'execution.runtime-mode' = 'batch';`, setPar,
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(out)+`', 'format' = 'json');`,
		insert)
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
	// The expectation, and the rows of the committed (visible) files: lost, duplicated and wrong users.
	cnt, sum := make([]int, users), make([]int, users)
	for i := 0; i < n; i++ {
		cnt[i%users]++
		sum[i%users] += i % 7
	}
	tally := func() (lost, dups, wrong, hidden int, example string) {
		seen := map[string]int{}
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
		for u := 0; u < users; u++ {
			switch n := seen[row(u)]; {
			case n == 0:
				lost++
			case n > 1:
				dups += n - 1
			}
		}
		return lost, dups, wrong, hidden, example
	}
	// visible lists the committed files of the sink.
	visible := func() []string {
		var names []string
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	// late counts the runs whose job had committed its output when the kill came (it ended between the
	// check and the kill, or before the kill in phase 3): their files must hold the whole result, once; they are removed, as the job
	// completed (a rerun would append a second result, as Flink's INSERT INTO a filesystem table does).
	late, early := 0, 0
	// The kills of a parallel run aim at its phases in turn: k%4 = 0 a source stage running (the job's
	// directory exists), 1 and 2 stage 2 and 3 writing their subpartition files (stage-<n>-<task>-<part>),
	// 3 the sink stage starting (every file of stage 3 complete) or writing its hidden in-progress file.
	// phases counts the kills per phase.
	phases := make([]int, 4)
	hiddenOut := func() int {
		n := 0
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				n++
			}
		}
		return n
	}
	killed := map[string]bool{} // the job directories present when a run was killed
	for k := 0; k < nkills; k++ {
		c := proctest.Start(t, clientBin, dir, sql)
		phase, hidden0 := 0, hiddenOut()
		if par > 0 {
			phase = k % 4
		}
		// reached reports that the run's job is in the phase: its (new) directory exists, and in it the
		// files of the phase's stage, or a new hidden file in the sink's directory.
		reached := func() bool {
			for d := range jobDirs() {
				if killed[d] {
					continue
				}
				switch phase {
				case 0:
					return true
				case 1, 2:
					m, _ := filepath.Glob(filepath.Join(tmp, d, fmt.Sprintf("stage-%d-*-*.arrow*", phase+1)))
					return len(m) > 0
				case 3: // every task of stage 3 wrote its file: the sink stage starts
					m, _ := filepath.Glob(filepath.Join(tmp, d, "stage-3-*-*.arrow"))
					return len(m) == par || hiddenOut() > hidden0
				}
			}
			return false
		}
		deadline := time.Now().Add(60 * time.Second)
		ok := reached()
		for !ok && !c.Exited() && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
			ok = reached() // once seen: phase 3's files are gone again when the run commits
		}
		// A run that ended before the phase was seen (a loaded machine, the tests running in parallel) is
		// checked and aimed at again below, as one that ended before its kill.
		if !ok && !c.Exited() {
			t.Fatalf("run %d: the batch job did not reach phase %d in 60 s:\n%s", k+1, phase, indent(c.Output()))
		}
		switch phase {
		case 0:
			time.Sleep(randomDelay(rng, time.Millisecond, 150*time.Millisecond))
		case 1, 2:
			time.Sleep(randomDelay(rng, 0, 20*time.Millisecond))
		case 3:
			time.Sleep(randomDelay(rng, 0, 3*time.Millisecond))
		}
		// A run may end before the kill (the sink stage is short, and a fast machine ends the others in
		// milliseconds): its output is checked as late below, and the kill is tried again (at most 3 times per run).
		ended := c.Exited()
		if ended && phase != 3 {
			if early++; early > 3*nkills {
				t.Fatalf("run %d: the batch job ended before the kill %d times (give it more input):\n%s", k+1, early, indent(c.Output()))
			}
		}
		for d := range jobDirs() {
			killed[d] = true
		}
		if !ended {
			phases[phase]++
		} else if phase != 3 {
			k-- // aim at this phase again
		}
		c.Kill()
		// A run killed during its commit leaves its commit manifest (the sink's record under
		// .sluice-staging): the next sink on the path would finish that commit and its rerun write nothing.
		// Such a run counts as late too: its files are removed with its record, as a user forgets a run.
		begun, _ := filepath.Glob(filepath.Join(out, ".sluice-staging", "*", "manifest.json"))
		if vis := visible(); len(vis) > 0 || len(begun) > 0 {
			if lost, dups, wrong, _, example := tally(); len(begun) == 0 && (lost > 0 || dups > 0 || wrong > 0) {
				t.Fatalf("run %d, killed in phase %d: its committed files are partial: %d lost, %d duplicated, %d wrong (%s)", k+1, phase, lost, dups, wrong, example)
			}
			late++
			for _, f := range vis {
				if err := os.Remove(filepath.Join(out, f)); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range begun {
				if err := os.RemoveAll(filepath.Dir(m)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	start := time.Now()
	c := proctest.Start(t, clientBin, dir, sql)
	if ended, err := c.Wait(90 * time.Second); !ended || err != nil {
		t.Fatalf("the rerun did not end well (ended %v, %v):\n%s", ended, err, indent(c.Output()))
	}
	if strings.Contains(c.Output(), "[ERROR]") {
		t.Fatalf("the rerun failed:\n%s", indent(c.Output()))
	}
	lost, dups, wrong, hidden, example := tally()
	left := jobDirs()
	stray := len(left) // the successful run's own directory, or killed runs' directories it did not sweep
	t.Logf("%d kills mid-stage (per phase: source, stage 2, stage 3, sink: %v), then a full run (%v): %d users, %d lost, %d duplicated, %d wrong; %d hidden files of killed attempts in the sink directory, %d killed runs had committed the whole result; %d job directories of killed processes swept, %d left in 'io.tmp.dirs'",
		nkills, phases, time.Since(start).Round(time.Millisecond), users, lost, dups, wrong, hidden, late, len(killed), stray)
	if lost > 0 || dups > 0 || wrong > 0 || stray > 0 {
		t.Fatalf("batch rerun after kills: %d lost, %d duplicated, %d wrong (%s), %d job directories left in 'io.tmp.dirs' (the killed runs' ones must be swept)\nrerun output:\n%s",
			lost, dups, wrong, example, stray, indent(c.Output()))
	}
}
