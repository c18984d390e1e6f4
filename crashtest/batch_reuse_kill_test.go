package crashtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// TestBatchReusedScanKill: batch jobs over one reused scan of a directory of JSON files (orders, 8 files,
// read by the scan's 2 tasks) into the filesystem sink written by 2 tasks, at parallelism 2:
//   - q4: Nexmark q4's shape, two aggregates of the table joined: the branches' projections fused into the
//     scan's tasks (engine/batch_fuse.go: each writes its own partitioned files), two keyed aggregate stages,
//     a keyed join stage;
//   - mixed: a join of the table with itself (x.id = y.user_id) and a UNION ALL of the table in the same
//     stage, 2 tasks reading two partitionings and the round-robin one (engine/batch_mixed.go), then an
//     aggregate.
//
// Killed with SIGKILL in turn at a random moment once the job started (mostly the scan stage), while each of
// the later stages runs, and while the sink tasks write; where each kill came is named by the stages whose
// files were being written (the stages running), and counted. A killed batch job is rerun from scratch:
// every stage runs again. What a kill leaves in the sink is nothing visible, the whole result (the commit had
// finished: removed, as a user forgets a finished job), or a begun commit that the next run completes
// writing no rows. The last run: each user's exact count and total, once, no hidden file or run record left.
func TestBatchReusedScanKill(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, insert string
		groups       map[int]string // stage id → the name of its group in the kill moments
		later        []string       // the groups after the scan's that kills are aimed at, in order
		double       bool           // each user's rows come twice (the join and the union), totals of every amount
	}{
		{"q4", `INSERT INTO totals SELECT a.user_id, a.cnt, b.total FROM
  (SELECT user_id, COUNT(*) AS cnt FROM orders GROUP BY user_id) a JOIN
  (SELECT user_id, SUM(amount) AS total FROM orders WHERE amount > 3 GROUP BY user_id) b ON a.user_id = b.user_id;`,
			map[int]string{1: scanGroup, 2: scanGroup, 4: scanGroup, 3: "the aggregate stages", 5: "the aggregate stages", 6: "the join stage"},
			[]string{"the aggregate stages", "the join stage"}, false},
		{"mixed", `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM (
  SELECT x.user_id, y.amount FROM orders x JOIN orders y ON x.id = y.user_id UNION ALL SELECT user_id, amount FROM orders) GROUP BY user_id;`,
			map[int]string{1: scanGroup, 2: scanGroup, 3: scanGroup, 4: "the join and union stage", 5: "the aggregate stage"},
			[]string{"the join and union stage", "the aggregate stage"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reusedScanKill(t, tc.insert, tc.groups, tc.later, tc.double)
		})
	}
}

// scanGroup names the kill moments in the scan stage and its fused branches.
const scanGroup = "the scan stage and its fused branches"

// reusedScanKill runs insert (orders → totals) killed *kills times at the stages of groups, then to the end.
func reusedScanKill(t *testing.T, insert string, groups map[int]string, later []string, double bool) {
	const users, files, per = 20000, 8, 50000
	dir := t.TempDir()
	tmp, in, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "in"), filepath.Join(dir, "out")
	staging := filepath.Join(out, ".sluice-staging")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	cnt, sum := make([]int, users), make([]int, users)
	for f := range files {
		var b strings.Builder
		for id := f * per; id < (f+1)*per; id++ {
			u, amount := id%users, id%11
			fmt.Fprintf(&b, `{"id":%d,"user_id":%d,"amount":%d}`+"\n", id, u, amount)
			switch {
			case double: // the join gives each row once more (x.id = y.user_id: one x per y), the union once
				cnt[u] += 2
				sum[u] += 2 * amount
			case amount > 3:
				cnt[u]++
				sum[u] += amount
			default:
				cnt[u]++
			}
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("orders-%d.json", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sql := script("", `SET 'execution.runtime-mode' = 'batch';`, `SET 'parallelism.default' = '2';`,
		`SET 'io.tmp.dirs' = '`+tmp+`';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(in)+`', 'format' = 'json');`,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(out)+`', 'format' = 'json');`,
		insert)
	// look lists the sink directory: committed files, hidden files, run records and commit manifests.
	look := func() (visible []string, hidden map[string]bool, records, manifests int) {
		hidden = map[string]bool{}
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			switch {
			case e.Name() == filepath.Base(staging):
			case strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_"):
				hidden[e.Name()] = true
			default:
				visible = append(visible, e.Name())
			}
		}
		records, manifests = runRecords(staging)
		return visible, hidden, records, manifests
	}
	// tally counts the users of the committed files: lost, duplicated, wrong (unknown user, count or total).
	tally := func(visible []string) (lost, dups, wrong int, example string) {
		seen := make([]int, users)
		for _, name := range visible {
			fh, err := os.Open(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				k, v := fields(t, sc.Bytes(), []string{"user_id"}), fields(t, sc.Bytes(), []string{"cnt", "total"})
				u, err := strconv.Atoi(k)
				if err != nil || u < 0 || u >= users {
					wrong++
					example = sc.Text()
					continue
				}
				if v != row(cnt[u], sum[u]) {
					wrong++
					example = sc.Text()
				}
				seen[u]++
			}
			fh.Close()
		}
		for _, c := range seen {
			switch {
			case c == 0:
				lost++
			case c > 1:
				dups += c - 1
			}
		}
		return lost, dups, wrong, example
	}
	whole := func(what string, visible []string) {
		if lost, dups, wrong, example := tally(visible); lost > 0 || dups > 0 || wrong > 0 {
			t.Fatalf("%s: the committed files are not the whole result once: %d of %d users lost, %d duplicated, %d wrong (%s)", what, lost, users, dups, wrong, example)
		}
		for _, f := range visible {
			if err := os.Remove(filepath.Join(out, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var old map[string]bool
	var hidden0 map[string]bool
	begin := func() {
		old = jobDirNames(tmp)
		_, hidden0, _, _ = look()
	}
	// writing lists the stages with a file being written (.inprogress) in the run's job directory: the
	// stages running.
	writing := func() map[int]bool {
		ids := map[int]bool{}
		for _, d := range newDirs(tmp, old) {
			names, _ := filepath.Glob(filepath.Join(d, "stage-*.inprogress"))
			for _, n := range names {
				rest := strings.TrimPrefix(filepath.Base(n), "stage-")
				if i := strings.IndexAny(rest, "-."); i > 0 {
					if id, err := strconv.Atoi(rest[:i]); err == nil {
						ids[id] = true
					}
				}
			}
		}
		return ids
	}
	// stageGroup names the latest group with a stage running ("" when none is).
	stageGroup := func() string {
		top := 0
		for id := range writing() {
			if groups[id] != "" {
				top = max(top, id)
			}
		}
		return groups[top]
	}
	sinkWriting := func() bool {
		_, hidden, _, _ := look()
		for h := range hidden {
			if !hidden0[h] {
				return true
			}
		}
		return false
	}
	aim := func(k int) killAim {
		switch k % 4 {
		case 1, 2:
			g := later[k%4-1]
			return killAim{name: g, reached: func() bool { return stageGroup() == g }, within: 10 * time.Millisecond, poll: time.Millisecond}
		case 3:
			return killAim{name: "the sink tasks writing", reached: sinkWriting, within: 20 * time.Millisecond}
		}
		return killAim{name: "the job started", reached: func() bool { return len(newDirs(tmp, old)) > 0 }, within: 150 * time.Millisecond}
	}
	where := func() string {
		if ms, _ := filepath.Glob(filepath.Join(staging, "*", "manifest.json")); len(ms) > 0 {
			return "commit begun"
		}
		visible, _, _, _ := look()
		switch {
		case len(visible) > 0:
			return "after the commit"
		case sinkWriting():
			return "sink tasks writing"
		}
		if g := stageGroup(); g != "" {
			return g
		}
		return "between stages"
	}
	completed := 0
	after := func(k int, moment string) {
		visible, _, records, manifests := look()
		switch {
		case manifests > 0:
			if records != 1 {
				t.Fatalf("run %d killed in its commit: %d run records, want 1", k+1, records)
			}
			rerun := proctest.Start(t, clientBin, dir, sql)
			if ended, err := rerun.Wait(90 * time.Second); !ended || err != nil || strings.Contains(rerun.Output(), "[ERROR]") {
				t.Fatalf("the rerun after run %d did not end well (ended %v, %v):\n%s", k+1, ended, err, indent(rerun.Output()))
			}
			if !strings.Contains(rerun.Output(), "this run writes no rows") {
				t.Fatalf("the rerun after run %d, killed in its commit, did not say that it writes nothing:\n%s", k+1, indent(rerun.Output()))
			}
			visible, _, _, _ = look()
			whole(fmt.Sprintf("run %d killed in its commit, then rerun", k+1), visible)
			completed++
		case len(visible) > 0:
			whole(fmt.Sprintf("run %d killed (%s) after its commit", k+1, moment), visible)
		}
	}
	ended := func(k int) {
		visible, _, _, _ := look()
		whole(fmt.Sprintf("run %d, ended before its kill", k+1), visible)
	}
	moments, early, output := batchKills{sql: sql, dir: dir, aim: aim, begin: begin, where: where, after: after, ended: ended}.run(t)
	visible, hidden, records, _ := look()
	lost, dups, wrong, example := tally(visible)
	var at []string
	for m, n := range moments {
		at = append(at, fmt.Sprintf("%s: %d", m, n))
	}
	sort.Strings(at)
	t.Logf("%d kills (where: %s; %d runs ended before their kill), %d commits begun and completed by a rerun writing nothing; each rerun ran every stage again; last run: %d committed files, %d users: %d lost, %d duplicated, %d wrong; %d hidden files, %d run records left",
		total(moments), strings.Join(at, ", "), early, completed, len(visible), users, lost, dups, wrong, len(hidden), records)
	if lost > 0 || dups > 0 || wrong > 0 {
		t.Fatalf("reused scan into the filesystem after %d kills: %d of %d users lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s",
			total(moments), lost, users, dups, wrong, example, indent(output))
	}
	if len(hidden) > 0 || records > 0 {
		t.Fatalf("%d hidden files and %d run records left after the last run", len(hidden), records)
	}
	if left := newDirs(tmp, nil); len(left) > 0 {
		t.Fatalf("%d job directories left in 'io.tmp.dirs' (the killed runs' ones must be swept): %v", len(left), left)
	}
	stages := 0
	for _, g := range append([]string{scanGroup}, later...) {
		if moments[g] > 0 {
			stages++
		}
	}
	if *kills >= 4 && (stages < 2 || moments["sink tasks writing"]+moments["commit begun"]+moments["after the commit"] == 0) {
		t.Fatalf("the kills came at %v: want kills in at least two of the stages' groups, and at the sink", moments)
	}
}
