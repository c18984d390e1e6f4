package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createTopic creates topic with the number of partitions given (the broker's auto-created topics have
// the cluster's default).
func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Topics {
		if r.ErrorCode != 0 {
			t.Fatalf("create topic %s: error code %d", topic, r.ErrorCode)
		}
	}
}

// TestBatchUnionKafkaExactlyOnceKill: a UNION ALL of two bounded kafka topics (orders, 4 partitions, and
// returns, 2 partitions: the source stage runs as 3 tasks, task i reading subtask i of each scan that has
// one, engine/batch_tasks.go) into kafka with 'sink.delivery-guarantee' = 'exactly-once' written by 3 sink
// tasks (one transaction each), the broker answering produce requests and EndTxn slowly. Killed with
// SIGKILL while the union's source stage runs and while the sink tasks write, in turn, and once between two
// of the 3 commits (checked: some transactions committed, some open; the commit intent recorded), then run
// to the end. A read_committed consumer must see every row of both topics exactly once: a run killed
// before its commit intent leaves open transactions that the next run aborts; the one killed during its
// commits is completed by the next run, which writes nothing itself.
func TestBatchUnionKafkaExactlyOnceKill(t *testing.T) {
	t.Parallel()
	const n, m = 150000, 60000 // orders ids 0..n-1, returns ids n..n+m-1
	addr, cluster := brokerCluster(t, 4)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	produce(t, addr, "orders", orders(0, n, 50))
	createTopic(t, addr, "returns", 2)
	produce(t, addr, "returns", orders(n, m, 50))
	produces := sinkProduces(cluster, 50*time.Millisecond)
	endTxns := slowEndTxn(cluster, time.Second) // the kill aimed between commits needs a window a loaded machine cannot miss
	sql := batchKafkaScript(addr, tmp, `CREATE TABLE returns (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'returns', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE eo (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'eo', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'properties.batch.size' = '65536',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-union');`,
		`INSERT INTO eo SELECT id, user_id, amount FROM orders UNION ALL SELECT id, user_id, -amount FROM returns;`)
	// What the run started last did: the job directories before it, its sink's produce requests and the
	// EndTxn requests.
	var old map[string]bool
	var p0, e0 int64
	var leftIntent bool // a killed run's commit intent was there when the run started: it completes that run
	begin := func() {
		old, p0, e0 = jobDirNames(tmp), produces.Load(), endTxns.Load()
		leftIntent, _ = commitIntent(t, tmp)
	}
	started := func() bool { return len(newDirs(tmp, old)) > 0 }
	// The kill between two commits; the one after it comes at a random moment of the run completing it (that
	// run writes nothing: it may end before its kill, finishing the job).
	commitKill := max(*kills-2, 0)
	aim := func(k int) killAim {
		switch {
		case k == commitKill:
			return killAim{name: "between two commits", reached: func() bool {
				i, _ := commitIntent(t, tmp)
				return i && endTxns.Load() > e0
			}, within: 150 * time.Millisecond}
		case k%2 == 1 && k < commitKill:
			return killAim{name: "the sink tasks writing", reached: func() bool { return produces.Load() > p0 }, within: 100 * time.Millisecond}
		}
		if k > commitKill { // the run completing the killed one: at any moment
			return killAim{name: "the run started", reached: started, within: 300 * time.Millisecond}
		}
		return killAim{name: "the source stage writing", reached: func() bool { return sourceWriting(newDirs(tmp, old)) }, within: 100 * time.Millisecond}
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
		case started():
			return "source stage"
		}
		return "starting"
	}
	intents := 0
	moments, early, out := batchKills{sql: sql, dir: dir, aim: aim, begin: begin, where: where, finished: true, after: func(k int, moment string) {
		if k == commitKill {
			open, closed := openTxns(t, addr, "crash-union-0-1", "crash-union-1-1", "crash-union-2-1")
			t.Logf("run %d killed during its commits (%s): %d transactions committed, %d open", k+1, moment, closed, open)
			if moment != "commits" || open == 0 || closed == 0 {
				t.Fatalf("run %d: the kill aimed between two commits came at %s, with %d transactions committed and %d open", k+1, moment, closed, open)
			}
		}
		if i, _ := commitIntent(t, tmp); i {
			intents++
		}
	}}.run(t)
	seen := countIDs(t, consume(t, addr, "eo", true))
	lost, dups := 0, 0
	for i := 0; i < n+m; i++ {
		switch c := seen[i]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	completed := strings.Contains(out, "this run writes nothing")
	t.Logf("%d kills (per moment: %v; %d runs ended before their kill), %d left a commit intent; the last run completed a killed commit: %v; %d rows: %d lost, %d duplicated",
		total(moments), moments, early, intents, completed, n+m, lost, dups)
	if lost > 0 || dups > 0 || len(seen) != n+m {
		t.Fatalf("union into exactly-once kafka after %d kills: %d of %d rows lost, %d duplicated, %d distinct ids\nlast client output:\n%s",
			total(moments), lost, n+m, dups, len(seen), indent(out))
	}
	if *kills >= 3 && (moments["source stage"] == 0 || moments["sink tasks writing"] == 0 || intents == 0) {
		t.Fatalf("the kills came at %v, %d left a commit intent: want kills in the source stage, while the sink tasks write and during the commits", moments, intents)
	}
	if _, record := commitIntent(t, tmp); record {
		t.Fatal("the run that ended left its commit record in 'io.tmp.dirs'")
	}
}

// TestBatchUnionFilesystemKill: a UNION ALL of a bounded kafka topic (orders, 4 partitions) and a directory
// of JSON files (6 files) as the source stage's 3 tasks, into the filesystem sink written by 3 tasks (hidden
// part files, committed whole or not at all through a commit manifest: connectors/filesystem/sink_commit.go).
// Killed with SIGKILL, in turn, while the source stage writes its files, while the sink tasks write, and as
// the commit's renames begin (the first file of the run's commit manifest is renamed). What a kill leaves is nothing visible, the
// whole result (the commit finished first: removed, as a user forgets a finished job), or a begun commit:
// the next run of the statement, run at once to the end, completes it and writes no rows. The last run goes
// to the end from what the kills left: every row of both sources exactly once, no hidden file or run record
// left.
func TestBatchUnionFilesystemKill(t *testing.T) {
	t.Parallel()
	const n, m, files = 100000, 60000, 6 // orders ids 0..n-1, the files' ids n..n+m-1
	addr := broker(t, 4)
	dir := t.TempDir()
	tmp, in, out := filepath.Join(dir, "tmp"), filepath.Join(dir, "in"), filepath.Join(dir, "out")
	staging := filepath.Join(out, ".sluice-staging")
	produce(t, addr, "orders", orders(0, n, 50))
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	for f := 0; f < files; f++ {
		var b strings.Builder
		for id := n + f*m/files; id < n+(f+1)*m/files; id++ {
			fmt.Fprintf(&b, `{"id":%d,"user_id":%d,"amount":%d}`+"\n", id, id%50, id%7)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("returns-%d.json", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sql := batchKafkaScript(addr, tmp, `CREATE TABLE returns (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(in)+`', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '`+fileURL(out)+`', 'format' = 'json', 'sink.rolling-policy.file-size' = '16kb');`,
		`INSERT INTO out_t SELECT id, user_id, amount FROM orders UNION ALL SELECT id, user_id, -amount FROM returns;`)
	// look lists the sink directory: committed files, hidden files, run records and commit manifests.
	look := func() (visible []string, hidden map[string]bool, records, manifests int) {
		hidden = map[string]bool{}
		ents, _ := os.ReadDir(out)
		for _, e := range ents {
			switch {
			case e.Name() == filepath.Base(staging):
			case strings.HasPrefix(e.Name(), "."):
				hidden[e.Name()] = true
			default:
				visible = append(visible, e.Name())
			}
		}
		records, manifests = runRecords(staging)
		return visible, hidden, records, manifests
	}
	// tally counts the ids of the committed files: lost, duplicated, wrong (unknown id or amount).
	tally := func(visible []string) (lost, dups, wrong int) {
		seen := make([]int, n+m)
		for _, name := range visible {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if line == "" {
					continue
				}
				var id, amount int
				if _, err := fmt.Sscan(fields(t, []byte(line), []string{"id"}), &id); err != nil || id < 0 || id >= n+m {
					wrong++
					continue
				}
				if _, err := fmt.Sscan(fields(t, []byte(line), []string{"amount"}), &amount); err != nil || (id < n && amount != id%7) || (id >= n && amount != -(id%7)) {
					wrong++
				}
				seen[id]++
			}
		}
		for _, c := range seen {
			switch {
			case c == 0:
				lost++
			case c > 1:
				dups += c - 1
			}
		}
		return lost, dups, wrong
	}
	// whole checks that the committed files hold every row once, then removes them (the job finished: the
	// next run starts from an empty table).
	whole := func(what string, visible []string) {
		if lost, dups, wrong := tally(visible); lost > 0 || dups > 0 || wrong > 0 {
			t.Fatalf("%s: the committed files are not the whole result once: %d of %d rows lost, %d duplicated, %d wrong", what, lost, n+m, dups, wrong)
		}
		for _, f := range visible {
			if err := os.Remove(filepath.Join(out, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var old map[string]bool
	var hidden0 map[string]bool
	var firstFinal string // the final name of the first file of the run's commit manifest
	begin := func() {
		old, hidden0, firstFinal = jobDirNames(tmp), func() map[string]bool { _, h, _, _ := look(); return h }(), ""
	}
	// renaming reports that the run's commit renames its files: its manifest is there (a glob of the small
	// staging area, cheap enough to poll every millisecond) and the first file it names is renamed (checked
	// without pause once the manifest is there: the renames take milliseconds).
	renaming := func() bool {
		if firstFinal == "" {
			ms, _ := filepath.Glob(filepath.Join(staging, "*", "manifest.json"))
			for _, f := range ms {
				var m struct{ Files []struct{ Final string } }
				if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &m) == nil && len(m.Files) > 0 {
					firstFinal = filepath.Join(out, m.Files[0].Final)
				}
			}
			if firstFinal == "" {
				return false
			}
		}
		for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); {
			if _, err := os.Lstat(firstFinal); err == nil {
				return true
			}
		}
		return true // the renames did not begin in 100 ms: kill at the commit as it is
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
		switch k % 3 {
		case 1:
			return killAim{name: "the sink tasks writing", reached: sinkWriting, within: 20 * time.Millisecond}
		case 2:
			return killAim{name: "the commit", reached: renaming, within: time.Microsecond, poll: time.Millisecond}
		}
		return killAim{name: "the source stage writing", reached: func() bool { return sourceWriting(newDirs(tmp, old)) }, within: 100 * time.Millisecond}
	}
	where := func() string {
		if ms, _ := filepath.Glob(filepath.Join(staging, "*", "manifest.json")); len(ms) > 0 { // first: cheap
			return "commit begun"
		}
		visible, _, _, _ := look()
		switch {
		case len(visible) > 0:
			return "after the commit"
		case sinkWriting():
			return "sink tasks writing"
		case sourceWriting(newDirs(tmp, old)):
			return "source stage"
		}
		return "starting"
	}
	completed, partial := 0, 0
	after := func(k int, moment string) {
		visible, _, records, manifests := look()
		switch {
		case manifests > 0:
			if lost, _, _ := tally(visible); lost > 0 {
				partial++ // part of the result visible: the rerun must add the rest alone
			}
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
			visible, _, records, _ = look()
			if records != 0 {
				t.Fatalf("the rerun after run %d left %d run records", k+1, records)
			}
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
	lost, dups, wrong := tally(visible)
	t.Logf("%d kills (per moment: %v; %d runs ended before their kill), %d commits begun (%d with part of the result visible) and completed by a rerun that wrote nothing; last run: %d committed files, %d rows: %d lost, %d duplicated, %d wrong; %d hidden files, %d run records left",
		total(moments), moments, early, completed, partial, len(visible), n+m, lost, dups, wrong, len(hidden), records)
	if lost > 0 || dups > 0 || wrong > 0 {
		t.Fatalf("union into the filesystem after %d kills: %d of %d rows lost, %d duplicated, %d wrong\nlast client output:\n%s",
			total(moments), lost, n+m, dups, wrong, indent(output))
	}
	if len(hidden) > 0 || records > 0 {
		t.Fatalf("%d hidden files and %d run records left after the last run", len(hidden), records)
	}
	if *kills >= 3 && (moments["source stage"] == 0 || moments["sink tasks writing"] == 0) {
		t.Fatalf("the kills came at %v: want kills in the source stage and while the sink tasks write", moments)
	}
	// The commit's renames take tens of milliseconds and the kill is aimed from outside the process by
	// polling the directory, so a kill lands inside the commit in most runs, not all (CI's race phase once
	// saw both commit-aimed kills land after it). What a kill in the commit must leave is asserted above
	// whenever one did; TestBatchSinkTasksKill and connectors/filesystem's roll-forward tests cover it too.
	if moments["commit begun"] == 0 {
		t.Logf("no kill landed inside the commit this time (kills at %v)", moments)
	}
}
