package crashtest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	endTxns := slowEndTxn(cluster, 250*time.Millisecond)
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
