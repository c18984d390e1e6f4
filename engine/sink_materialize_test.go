package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// produceLiveChangelog writes a random debezium-json changelog of n changes of ids below ids to topic (every
// id's changes in one partition, so in order) and returns the rows alive at the end.
func produceLiveChangelog(t *testing.T, addr, topic string, rng *rand.Rand, n, ids int, row func(id int) map[string]any) map[int]map[string]any {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	live := map[int]map[string]any{}
	var recs []*kgo.Record
	for range n {
		id := rng.Intn(ids)
		before := live[id]
		var msg map[string]any
		switch {
		case before == nil:
			live[id] = row(id)
			msg = map[string]any{"before": nil, "after": live[id], "op": "c"}
		case rng.Intn(4) == 0:
			delete(live, id)
			msg = map[string]any{"before": before, "after": nil, "op": "d"}
		default:
			live[id] = row(id)
			msg = map[string]any{"before": before, "after": live[id], "op": "u"}
		}
		v, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(id % 4), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return live
}

// TestSinkMaterializeJoinParallelism is issue 13's case: a regular join on seller into upsert-kafka keyed by
// the auction id, where auctions change their seller (so an auction's -D leaves the join's subtask of the
// old seller and its +I the subtask of the new one), over 4-partition changelogs. With the
// SinkUpsertMaterializer (AUTO) the compacted output equals the join of the final rows at parallelism 1 and
// 3 (at 3 behind an exchange on id whose subtasks write the sink; and with the exchange turned off, one
// instance after the fork-join GROUP BY and the join). Without it (NONE) at parallelism 3 the
// test logs how many keys end wrong: the order between subtasks decides it.
func TestSinkMaterializeJoinParallelism(t *testing.T) {
	defer func() { noExchange = false }()
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(13))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima"}
	persons := produceLiveChangelog(t, addr, "person", rng, 2000, 300, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	auctions := produceLiveChangelog(t, addr, "auction", rng, 4000, 700, func(id int) map[string]any {
		return map[string]any{"id": id, "seller": rng.Intn(350), "price": rng.Intn(100)} // the seller changes
	})
	jobs := []struct {
		insert string
		left   bool
	}{
		{`INSERT INTO jn_SUFFIX SELECT a.id, a.price, p.city FROM auction a JOIN person p ON a.seller = p.id`, false},
		{`INSERT INTO jn_SUFFIX SELECT a.id, a.price, p.city FROM auction a LEFT JOIN person p ON a.seller = p.id`, true},
	}
	for qi, jb := range jobs {
		want := map[string]string{}
		for id, a := range auctions {
			city := "null"
			if p := persons[a["seller"].(int)]; p != nil {
				city = fmt.Sprintf("%q", p["city"])
			} else if !jb.left {
				continue
			}
			want[fmt.Sprintf(`{"id":%d}`, id)] = fmt.Sprintf(`{"id":%d,"price":%d,"city":%s}`, id, a["price"], city)
		}
		if len(want) < 200 {
			t.Fatalf("%s: too few rows to compare: %d", jb.insert, len(want))
		}
		for _, run := range []struct {
			par    int
			mode   string
			forkJn bool // the exchange turned off: the GROUP BY forks and joins, the rest is one instance
		}{{1, "AUTO", false}, {3, "AUTO", false}, {3, "AUTO", true}, {3, "NONE", false}} {
			noExchange = run.forkJn
			suffix := fmt.Sprintf("m%dp%d%s%v", qi, run.par, run.mode, run.forkJn)
			s := exchangeSession(t, run.par)
			execScript(t, s, strings.ReplaceAll(strings.ReplaceAll(exchangeTables+exchangeSinkTables, "ADDR", addr), "SUFFIX", suffix)+
				fmt.Sprintf("SET 'table.exec.sink.upsert-materialize' = '%s';", run.mode))
			mats, encs := sinkMaterializersBuilt.Load(), sinkEncodersBuilt.Load()
			st, err := sql.ParseStatement(strings.ReplaceAll(jb.insert, "SUFFIX", suffix))
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Execute(context.Background(), st)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, run.par, err)
			}
			if err := res.Job.Wait(context.Background()); err != nil {
				t.Fatalf("%s at parallelism %d: %v", jb.insert, run.par, err)
			}
			noExchange = false
			materialized := run.par > 1 && run.mode == "AUTO" && !run.forkJn
			if n := sinkMaterializersBuilt.Load() - mats; materialized != (n == 1) {
				t.Fatalf("%s at parallelism %d, %s: %d materializers built behind an exchange", jb.insert, run.par, run.mode, n)
			}
			if n := sinkEncodersBuilt.Load() - encs; (run.par > 1 && !run.forkJn) != (n == 1) {
				t.Fatalf("%s at parallelism %d, %s: %d keyed sink encoders built", jb.insert, run.par, run.mode, n)
			}
			got := upsertTable(t, addr, "jn_"+suffix)
			wrong := 0
			for k, v := range want {
				if got[k] != v {
					wrong++
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					wrong++
				}
			}
			if run.mode == "NONE" {
				t.Logf("%s at parallelism 3 without the materializer: %d of %d keys wrong (%d rows)", jb.insert, wrong, len(want), len(got))
				continue
			}
			if wrong > 0 {
				t.Fatalf("%s at parallelism %d: %d keys wrong; %d rows, want %d", jb.insert, run.par, wrong, len(got), len(want))
			}
		}
	}
}

// parityWant is the expected output of the savepoint test's job after orders 0..n-1: every order of a user
// with an odd number of orders, with that number.
func parityWant(n int) map[string]string {
	cnt := map[int]int{}
	for i := range n {
		cnt[i%37]++
	}
	want := map[string]string{}
	for i := range n {
		if c := cnt[i%37]; c%2 == 1 {
			want[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Sprintf(`{"id":%d,"user_id":%d,"p_amount":%d}`, i, i%37, c)
		}
	}
	return want
}

// TestSinkMaterializeRescaleSavepoint runs a join with an aggregate whose rows come and go (HAVING an odd
// count) into upsert-kafka keyed by the order id, at parallelism 2, stops it with a savepoint, restores at 3,
// then at 1, with a few more orders each time (about one per user, so most users' rows are deleted or
// re-inserted right after a restore): the outputs are exact, so the materializer's rows per key were
// restored at every parallelism (a -D of a row it lost would leave the row in the topic).
func TestSinkMaterializeRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	insert := `INSERT INTO joined SELECT o.id, o.user_id, c.cnt FROM o JOIN
  (SELECT user_id, COUNT(*) AS cnt FROM p GROUP BY user_id HAVING COUNT(*) % 2 = 1) c ON o.user_id = c.user_id`
	n, savepoint := 0, ""
	for _, par := range []int{2, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 45)
		n += 45
		s := exchangeSession(t, par)
		script := strings.ReplaceAll(exchangeJobTables, "ADDR", addr)
		if savepoint != "" {
			script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
		}
		execScript(t, s, script)
		mats := sinkMaterializersBuilt.Load()
		st, err := sql.ParseStatement(insert)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		if m := sinkMaterializersBuilt.Load() - mats; (par > 1) != (m == 1) {
			t.Fatalf("parallelism %d: %d materializers behind an exchange", par, m)
		}
		waitUpsert(t, addr, "joined", parityWant(n))
		if savepoint, err = res.Job.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestSinkKeyedShuffleForce: 'table.exec.sink.keyed-shuffle' = FORCE routes an insert-only input by the
// sink's primary key through keyed subtasks that pass the rows unchanged and write the sink; the compacted
// output is every order. NONE (and AUTO) build no such exchange.
func TestSinkKeyedShuffleForce(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 600)
	want := map[string]string{}
	for i := range 600 {
		want[fmt.Sprintf(`{"id":%d}`, i)] = fmt.Sprintf(`{"id":%d,"user_id":%d,"p_amount":%d}`, i, i%37, i%7)
	}
	for _, mode := range []string{"FORCE", "AUTO"} {
		s := exchangeSession(t, 3)
		execScript(t, s, strings.ReplaceAll(strings.ReplaceAll(exchangeJobTables, "ADDR", addr), "'joined'", "'joined_"+mode+"'")+
			fmt.Sprintf("SET 'table.exec.sink.keyed-shuffle' = '%s';", mode))
		mats := sinkMaterializersBuilt.Load()
		st, err := sql.ParseStatement(`INSERT INTO joined SELECT id, user_id, amount FROM p`)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if m := sinkMaterializersBuilt.Load() - mats; (mode == "FORCE") != (m == 1) {
			t.Fatalf("%s: %d keyed shuffles built", mode, m)
		}
		waitUpsert(t, addr, "joined_"+mode, want)
		res.Job.Cancel()
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}
}
