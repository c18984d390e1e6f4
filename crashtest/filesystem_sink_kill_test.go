package crashtest

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFilesystemSinkKillParallel: the concurrent filesystem sink (engine/pipeline_sink.go: each of 2 source
// subtasks writes its own part files, part-<uuid>-<subtask>-<n>, outside the graph lock) under a streaming
// job with checkpoints every 200 ms, killed 8 times at random moments while orders are fed, each run
// restored from the latest checkpoint. At the end the committed files (not the hidden in-progress or
// pending ones) must hold every fed order exactly once; both subtasks must have committed files.
func TestFilesystemSinkKillParallel(t *testing.T) {
	t.Parallel()
	const users = 300
	addr := broker(t, 4)
	dir := t.TempDir()
	out, ckpts := filepath.Join(dir, "out"), filepath.Join(dir, "checkpoints")
	produce(t, addr, "orders", orders(0, 5000, users))
	body := []string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`,
		`CREATE TABLE sunk (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '` + fileURL(out) + `', 'format' = 'json',
  'sink.rolling-policy.file-size' = '16kb', 'sink.rolling-policy.rollover-interval' = '300 ms',
  'sink.rolling-policy.check-interval' = '100 ms');`,
		`INSERT INTO sunk SELECT id, user_id, amount * 2 FROM orders WHERE id >= 0;`,
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: []int{2}}
	f := feed(t, addr, "orders", 5000, users)
	rng := rand.New(rand.NewPCG(61, uint64(time.Now().UnixNano())))
	r.kill(rng, 150*time.Millisecond, 1200*time.Millisecond)
	total := f.end()

	// tally reads the committed files: ids seen more than once, ids of the fed range missing, rows whose
	// values are not the order's, and the subtasks that committed files.
	partName := regexp.MustCompile(`^part-[0-9a-f-]+-(\d+)-\d+`)
	type counts struct {
		rows, lost, dups, wrong int
		subtasks                map[string]bool
		hidden                  int
		example                 string
	}
	tally := func() counts {
		c := counts{subtasks: map[string]bool{}}
		seen := make([]int, total)
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
				c.hidden++
				continue
			}
			if m := partName.FindStringSubmatch(e.Name()); m != nil {
				c.subtasks[m[1]] = true
			}
			fh, err := os.Open(filepath.Join(out, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				c.rows++
				v := fields(t, sc.Bytes(), []string{"id", "user_id", "amount"})
				id, err := strconv.Atoi(strings.SplitN(v, "|", 2)[0])
				if err != nil || id < 0 || id >= total || v != row(id, id%users, 2*(id%7)) {
					c.wrong++
					c.example = e.Name() + ": " + v
					continue
				}
				seen[id]++
			}
			fh.Close()
		}
		for _, n := range seen {
			switch {
			case n == 0:
				c.lost++
			case n > 1:
				c.dups += n - 1
			}
		}
		return c
	}
	pre := tally()
	c := r.start()
	defer c.Kill()
	var got counts
	waitFor(60*time.Second, func() bool {
		got = tally()
		return got.lost == 0 || c.Exited()
	})
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d orders fed, %d missing before the last run; committed: %d rows, %d lost, %d duplicated, %d wrong; %d hidden files; subtasks with committed files: %d",
		*kills, r.restored, total, pre.lost, got.rows, got.lost, got.dups, got.wrong, got.hidden, len(got.subtasks))
	if got.lost > 0 || got.dups > 0 || got.wrong > 0 {
		t.Fatalf("after %d kills: %d orders lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s",
			*kills, got.lost, got.dups, got.wrong, got.example, indent(c.Output()))
	}
	if len(got.subtasks) < 2 {
		t.Fatalf("committed files of %d subtasks (want 2: the concurrent sink path at parallelism 2)", len(got.subtasks))
	}
	if r.restored < 2 || pre.lost == 0 || pre.rows == 0 {
		t.Fatalf("%d runs restored, %d orders committed and %d missing before the last run: the kills did not test a restore mid-stream", r.restored, pre.rows, pre.lost)
	}
}
