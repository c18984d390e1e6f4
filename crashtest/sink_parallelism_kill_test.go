package crashtest

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// Sinks with a parallelism of their own ('sink.parallelism' differing from their input's; engine/
// exchange_sink.go): the sink runs as that many subtasks behind a rebalance or hash exchange, fed by source
// subtasks, by keyed subtasks, or from under the graph lock by an input that runs as one instance. Killed
// with SIGKILL at random moments and restored from the latest checkpoint, the output must be exact; with
// several values of 'sink.parallelism' the runs alternate between them, so every restore reads a checkpoint
// written at another sink parallelism (a checkpoint restores as a savepoint does: 'execution.savepoint.path').

// sinkParKill runs scenario s as scenario.run does, with "SINKPAR" in its tables replaced by sinkPars[k %
// len] in run k (the last run included).
func sinkParKill(t *testing.T, seed uint64, s *scenario, sinkPars []int) {
	t.Parallel()
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	bodies := make([][]string, len(sinkPars))
	for i, n := range sinkPars {
		body := append([]string{
			`SET 'execution.checkpointing.interval' = '200 ms';`,
			`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
			`SET 'table.local-time-zone' = 'UTC';`,
		}, s.settings...)
		for _, tb := range s.tables {
			body = append(body, strings.ReplaceAll(tb, "SINKPAR", strconv.Itoa(n)))
		}
		bodies[i] = append(body, s.insert)
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, parallelism: s.parallelism}
	next := func() *proctest.Client {
		r.body = bodies[r.runs%len(bodies)]
		return r.start()
	}
	f := feed(t, addr, "orders", 0, s.users)
	lo, hi := 150*time.Millisecond, 1200*time.Millisecond
	for k := 0; k < *kills; k++ { // as restarts.kill, with the body of run k
		before := latestCheckpoint(ckpts)
		c := next()
		d := randomDelay(rng, lo, hi)
		if k%2 == 0 && k < *kills-1 {
			waitFor(30*time.Second, func() bool { return c.Exited() || latestCheckpoint(ckpts) != before })
			d -= lo
		}
		time.Sleep(d)
		if c.Exited() {
			t.Fatalf("sql-client ended by itself:\n%s", indent(c.Output()))
		}
		c.Kill()
	}
	total := f.end()
	want := s.want(total)
	required := 0
	for _, w := range want {
		if w.required {
			required++
		}
	}
	c := next()
	defer c.Kill()
	var got tally
	waitFor(60*time.Second, func() bool {
		got = s.compare(t, addr, want)
		return got.lost == 0 && (got.wrong == 0 || !s.upsert)
	})
	t.Logf("'sink.parallelism' %v, %d kills (%d runs restored from a checkpoint, the last included), %d orders, %d rows required, %d read: %d lost, %d duplicated, %d wrong",
		sinkPars, *kills, r.restored, total, required, got.rows, got.lost, got.dups, got.wrong)
	if got.lost > 0 || got.dups > 0 || got.wrong > 0 || got.unordered > 0 {
		t.Fatalf("after %d kills: %d rows lost, %d duplicated, %d wrong, %d out of order (%s)\nlast client output:\n%s",
			*kills, got.lost, got.dups, got.wrong, got.unordered, got.example, indent(c.Output()))
	}
	if strings.Contains(c.Output(), "'sink.parallelism'") {
		t.Fatalf("the last run warned about 'sink.parallelism':\n%s", indent(c.Output()))
	}
	if required == 0 {
		t.Fatal("the expectation requires no row: the scenario tests nothing")
	}
	r.checkRestored()
}

// eoFiltered is orders → filter → exactly-once kafka 'eo' with 'sink.parallelism' = SINKPAR at parallelism
// par: every order whose amount is not 3 once in the committed output.
func eoFiltered(par int) *scenario {
	return &scenario{
		users: 50,
		tables: []string{eventOrders("orders", "id * 10"), `CREATE TABLE eo (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'eo', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-eo', 'sink.parallelism' = 'SINKPAR');`},
		insert:      `INSERT INTO eo SELECT id, user_id, amount FROM orders WHERE amount <> 3;`,
		parallelism: []int{par},
		topic:       "eo",
		key:         []string{"id"},
		val:         []string{"user_id", "amount"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for i := 0; i < total; i++ {
				if i%7 != 3 {
					want[row(i)] = expect{row(i%50, i%7), true}
				}
			}
			return want
		},
	}
}

// TestSinkParallelismEOKill: 2 source subtasks → rebalance → 3 exactly-once kafka sink subtasks: nothing
// lost, nothing duplicated (read_committed).
func TestSinkParallelismEOKill(t *testing.T) { sinkParKill(t, 71, eoFiltered(2), []int{3}) }

// TestSinkParallelismEOKillRescale: the same with 'sink.parallelism' 3, 1, 4 in turn (each restore reads a
// checkpoint written at another sink parallelism).
func TestSinkParallelismEOKillRescale(t *testing.T) {
	sinkParKill(t, 72, eoFiltered(2), []int{3, 1, 4})
}

// upsertTotals is GROUP BY user_id (at parallelism par, or a keyless aggregate with keyless) → upsert-kafka
// 'totals' with 'sink.parallelism' = SINKPAR: the compacted table holds every user's exact totals.
func upsertTotals(par int, keyless bool) *scenario {
	const users = 60
	s := &scenario{
		users: users,
		tables: []string{eventOrders("orders", "id * 10"), `CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, last_id BIGINT,
  PRIMARY KEY (user_id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'totals',
  'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json', 'sink.parallelism' = 'SINKPAR');`},
		insert:      `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount), MAX(id) FROM orders GROUP BY user_id;`,
		parallelism: []int{par},
		topic:       "totals",
		upsert:      true,
		key:         []string{"user_id"},
		val:         []string{"cnt", "total", "last_id"},
		want: func(total int) map[string]expect {
			cnt, sum, last := make([]int, users), make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
				last[i%users] = i
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u], last[u]), true}
			}
			return want
		},
	}
	if keyless {
		s.insert = `INSERT INTO totals SELECT CAST(0 AS BIGINT), COUNT(*), SUM(amount), MAX(id) FROM orders;`
		s.want = func(total int) map[string]expect {
			sum := 0
			for i := 0; i < total; i++ {
				sum += i % 7
			}
			return map[string]expect{row(0): {row(total, sum, total-1), true}}
		}
	}
	return s
}

// TestSinkParallelismUpsertKill: GROUP BY at parallelism 2 (keyed subtasks) → hash by user_id → 3
// upsert-kafka sink subtasks: the compacted totals are exact.
func TestSinkParallelismUpsertKill(t *testing.T) {
	sinkParKill(t, 73, upsertTotals(2, false), []int{3})
}

// TestSinkParallelismUpsertKillRescale: the same with 'sink.parallelism' 3, 2, 4 in turn (2: the keyed
// subtasks write the sink themselves; the others: the sink's own subtasks).
func TestSinkParallelismUpsertKillRescale(t *testing.T) {
	sinkParKill(t, 74, upsertTotals(2, false), []int{3, 2, 4})
}

// TestSinkParallelismLockFedKill: a GROUP BY at parallelism 1 (one instance under the graph lock) feeding
// 3, then 2 upsert-kafka sink subtasks from under the lock (engine/exchange_sink.go, buildLockFedSink).
func TestSinkParallelismLockFedKill(t *testing.T) {
	sinkParKill(t, 75, upsertTotals(1, false), []int{3, 2})
}

// TestSinkParallelismLockFedKeylessKill: a keyless aggregate at parallelism 2 (one instance) feeding 3
// upsert-kafka sink subtasks from under the lock.
func TestSinkParallelismLockFedKeylessKill(t *testing.T) {
	sinkParKill(t, 76, upsertTotals(2, true), []int{3})
}

// TestSinkParallelismLockFedEOKill: a deduplication (first row per id, insert-only) at parallelism 1, one
// instance under the graph lock, feeding 3 exactly-once kafka sink subtasks from under the lock (rebalance):
// every order whose amount is not 3 once in the committed output.
func TestSinkParallelismLockFedEOKill(t *testing.T) {
	s := eoFiltered(1)
	s.tables[0] = `CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT, proc AS PROCTIME()) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-dedup', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`
	s.insert = `INSERT INTO eo SELECT id, user_id, amount FROM (SELECT id, user_id, amount,
  ROW_NUMBER() OVER (PARTITION BY id ORDER BY proc) AS rn FROM orders WHERE amount <> 3) WHERE rn = 1;`
	sinkParKill(t, 77, s, []int{3})
}
