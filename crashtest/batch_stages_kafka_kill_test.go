package crashtest

import (
	"encoding/json"

	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBatchStagesKafkaExactlyOnceKill: Nexmark q4's shape over a bounded kafka topic (orders, 4 partitions,
// 20,000 users) at parallelism 2 — two aggregates of the table joined, so the job runs keyed middle stages
// (the scan's tasks with the branches' projections fused into them, two aggregate stages, a join stage,
// engine/batch_tasks.go) — into kafka with 'sink.delivery-guarantee' = 'exactly-once' written by 2 sink
// tasks (one transaction each), the broker answering produce requests and EndTxn slowly, and the
// aggregates' input sorts spilling ('table.exec.resource.sort.memory' = '256 kb'). Killed with SIGKILL in
// turn while the scan stage runs, while an aggregate stage runs, while the join stage runs, while the sink
// tasks write, and once between the two commits (checked: one transaction committed, one open), then run
// until a run ends. A killed batch job is rerun from scratch (every stage again); a read_committed consumer
// must see each user's row exactly once with its exact count and total: a run killed before its commit
// intent leaves open transactions that the next run aborts, the one killed during its commits is completed
// by the next run, which writes nothing itself. Nothing of the killed runs stays in 'io.tmp.dirs': no job
// directory, no sort run file (they spill into the job's directory, which the next run sweeps), no commit
// record.
func TestBatchStagesKafkaExactlyOnceKill(t *testing.T) {
	t.Parallel()
	const n, users = 200000, 20000
	addr, cluster := brokerCluster(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	produce(t, addr, "orders", orders(0, n, users))
	cnt, sum, big := make([]int, users), make([]int, users), make([]bool, users)
	for id := range n {
		u, amount := id%users, id%7
		cnt[u]++
		if amount > 3 {
			sum[u] += amount
			big[u] = true
		}
	}
	want := 0 // users with an amount above 3: the inner join drops the others
	for _, b := range big {
		if b {
			want++
		}
	}
	produces := sinkProduces(cluster, 50*time.Millisecond)
	// Each EndTxn is answered after 1 s: the kill aimed between the two (sequential) commits comes 0-150 ms
	// after the first, well inside the window even when a loaded machine (CI's race phase) delays the
	// polling and the kill by a few hundred ms (with 250 ms, the kill once came after both).
	endTxns := slowEndTxn(cluster, time.Second)
	sql := script(addr, `SET 'execution.runtime-mode' = 'batch';`, `SET 'parallelism.default' = '2';`,
		`SET 'io.tmp.dirs' = '`+tmp+`';`, `SET 'table.exec.resource.sort.memory' = '256 kb';`,
		`CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');`,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'properties.batch.size' = '16384',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-stages');`,
		`INSERT INTO totals SELECT a.user_id, a.cnt, b.total FROM
  (SELECT user_id, COUNT(*) AS cnt FROM orders GROUP BY user_id) a JOIN
  (SELECT user_id, SUM(amount) AS total FROM orders WHERE amount > 3 GROUP BY user_id) b ON a.user_id = b.user_id;`)
	// The stages (as crashtest TestBatchReusedScanKill's q4 over files): 1 the scan with the branches' Calcs
	// 2 and 4 fused into it, 3 and 5 the aggregates, 6 the join, 7 the sink.
	groups := map[int]string{1: "scan stage", 2: "scan stage", 4: "scan stage", 3: "aggregate stages", 5: "aggregate stages", 6: "join stage"}
	var old map[string]bool
	var p0, e0 int64
	var leftIntent bool // a killed run's commit intent was there when the run started: it completes that run
	begin := func() {
		old, p0, e0 = jobDirNames(tmp), produces.Load(), endTxns.Load()
		leftIntent, _ = commitIntent(t, tmp)
	}
	started := func() bool { return len(newDirs(tmp, old)) > 0 }
	// stageGroup names the latest group with a stage writing its files (.inprogress) in the run's job
	// directory ("" when none is).
	stageGroup := func() string {
		top := 0
		for _, d := range newDirs(tmp, old) {
			names, _ := filepath.Glob(filepath.Join(d, "stage-*.inprogress"))
			for _, nm := range names {
				rest := strings.TrimPrefix(filepath.Base(nm), "stage-")
				if i := strings.IndexAny(rest, "-."); i > 0 {
					if id, err := strconv.Atoi(rest[:i]); err == nil && groups[id] != "" {
						top = max(top, id)
					}
				}
			}
		}
		return groups[top]
	}
	commitKill := max(*kills-2, 0)
	aim := func(k int) killAim {
		switch {
		case k == commitKill:
			return killAim{name: "between two commits", reached: func() bool {
				i, _ := commitIntent(t, tmp)
				return i && endTxns.Load() > e0
			}, within: 150 * time.Millisecond}
		case k > commitKill: // the run completing the killed one: at any moment
			return killAim{name: "the run started", reached: started, within: 300 * time.Millisecond}
		}
		switch k % 4 {
		case 1:
			return killAim{name: "aggregate stages", reached: func() bool { return stageGroup() == "aggregate stages" }, within: 10 * time.Millisecond, poll: time.Millisecond}
		case 2:
			// The join stage is short: on a loaded machine the poll can miss it, and the run would end before
			// its kill; the sink tasks' first write (after the join) then counts as reached too.
			return killAim{name: "join stage", reached: func() bool { return stageGroup() == "join stage" || produces.Load() > p0 }, within: 10 * time.Millisecond, poll: time.Millisecond}
		case 3:
			return killAim{name: "the sink tasks writing", reached: func() bool { return produces.Load() > p0 }, within: 100 * time.Millisecond}
		}
		return killAim{name: "scan stage", reached: func() bool { return stageGroup() == "scan stage" }, within: 100 * time.Millisecond}
	}
	where := func() string {
		switch i, _ := commitIntent(t, tmp); {
		case leftIntent:
			return "completing a killed run's commits"
		case i && endTxns.Load() > e0:
			return "commits"
		case i:
			return "commit intent recorded"
		case produces.Load() > p0:
			return "sink tasks writing"
		}
		if g := stageGroup(); g != "" {
			return g
		}
		if started() {
			return "between stages"
		}
		return "starting"
	}
	intents, spilled := 0, 0
	moments, early, out := batchKills{sql: sql, dir: dir, aim: aim, begin: begin, where: where, finished: true, after: func(k int, moment string) {
		if k == commitKill {
			open, closed := openTxns(t, addr, "crash-stages-0-1", "crash-stages-1-1")
			t.Logf("run %d killed during its commits (%s): %d transactions committed, %d open", k+1, moment, closed, open)
			if moment != "commits" || open == 0 || closed == 0 {
				t.Fatalf("run %d: the kill aimed between two commits came at %s, with %d transactions committed and %d open", k+1, moment, closed, open)
			}
		}
		if i, _ := commitIntent(t, tmp); i {
			intents++
		}
		spilled += len(sortRuns(tmp))
	}}.run(t)
	// tally: each user's row once, with its count and total.
	seen := make([]int, users)
	lost, dups, wrong, example := 0, 0, 0, ""
	for _, r := range consume(t, addr, "totals", true) {
		var v struct{ UserID, Cnt, Total int }
		if err := json.Unmarshal(r.Value, &struct {
			UserID *int `json:"user_id"`
			Cnt    *int `json:"cnt"`
			Total  *int `json:"total"`
		}{&v.UserID, &v.Cnt, &v.Total}); err != nil || v.UserID < 0 || v.UserID >= users {
			wrong++
			example = string(r.Value)
			continue
		}
		if u := v.UserID; !big[u] || v.Cnt != cnt[u] || v.Total != sum[u] {
			wrong++
			example = string(r.Value)
		}
		seen[v.UserID]++
	}
	for u, c := range seen {
		switch {
		case c == 0 && big[u]:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	completed := strings.Contains(out, "this run writes nothing")
	t.Logf("%d kills (per moment: %v; %d runs ended before their kill), %d left a commit intent, %d sort run files left by the killed runs (each swept by the next run); the last run completed a killed commit: %v; %d users: %d lost, %d duplicated, %d wrong",
		total(moments), moments, early, intents, spilled, completed, want, lost, dups, wrong)
	if lost > 0 || dups > 0 || wrong > 0 {
		t.Fatalf("keyed stages into exactly-once kafka after %d kills: %d of %d users lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s",
			total(moments), lost, want, dups, wrong, example, indent(out))
	}
	if *kills >= 4 && (moments["scan stage"]+moments["aggregate stages"]+moments["join stage"] < 2 || moments["sink tasks writing"] == 0 || intents == 0) {
		t.Fatalf("the kills came at %v, %d left a commit intent: want kills in at least two of the stages' groups, while the sink tasks write and during the commits", moments, intents)
	}
	if _, record := commitIntent(t, tmp); record {
		t.Fatal("the run that ended left its commit record in 'io.tmp.dirs'")
	}
	if left := newDirs(tmp, nil); len(left) > 0 {
		t.Fatalf("%d job directories left in 'io.tmp.dirs' (the killed runs' ones must be swept): %v", len(left), left)
	}
	if runs := sortRuns(tmp); len(runs) > 0 {
		t.Fatalf("%d sort run files left in 'io.tmp.dirs' after the last run, e.g. %s", len(runs), runs[0])
	}
}

// sortRuns lists the sort run files under tmp: beside the job directories or in them.
func sortRuns(tmp string) []string {
	a, _ := filepath.Glob(filepath.Join(tmp, "sluice-sort-*"))
	b, _ := filepath.Glob(filepath.Join(tmp, "*", "sluice-sort-*"))
	return append(a, b...)
}
