package engine

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
)

// keyedQueries are plans with keyed operators after keyed operators, and Calcs after keyed operators, over
// multi-partition changelogs (retractions at every level). exchanges is the number of exchanges built at
// parallelism 3, keyed the keyed → keyed ones, forward the forward chains after keyed subtasks.
var keyedQueries = []struct {
	q                         string
	exchanges, keyed, forward int64
}{
	// Nexmark q4's shape: join → GROUP BY → GROUP BY
	{`SELECT city, COUNT(*), SUM(mx), MIN(mx) FROM (SELECT p.city, a.seller, MAX(a.price) AS mx FROM auction a JOIN person p ON a.seller = p.id GROUP BY p.city, a.seller) GROUP BY city`, 3, 2, 0},
	// GROUP BY → ROW_NUMBER Top-N
	{`SELECT * FROM (SELECT city, name, cnt, ROW_NUMBER() OVER (PARTITION BY city ORDER BY cnt DESC, name) AS rn FROM (SELECT city, name, COUNT(*) AS cnt FROM person GROUP BY city, name)) WHERE rn <= 2`, 2, 1, 1},
	// GROUP BY → Calc (forward chain) → the result
	{`SELECT seller, cnt * 2, total + 1 FROM (SELECT seller, COUNT(*) AS cnt, SUM(price) AS total FROM auction GROUP BY seller) WHERE cnt > 1`, 1, 0, 1},
	// GROUP BY → Calc → GROUP BY (the count of sellers by their count of auctions)
	{`SELECT cnt, COUNT(*), SUM(total) FROM (SELECT seller, COUNT(*) AS cnt, SUM(price) + 1 AS total FROM auction GROUP BY seller) GROUP BY cnt`, 2, 1, 0},
}

// TestKeyedExchangeParallelismProperty runs the keyedQueries at parallelism 1 and 3 and compares the
// materialized results; at 3 the keyed subtasks must have sent straight into the next exchange.
func TestKeyedExchangeParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(14))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima", "Kyiv", "Quito"}
	produceChangelog(t, addr, "person", rng, 3000, 400, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(30)), "city": cities[rng.Intn(len(cities))]}
	})
	produceChangelog(t, addr, "auction", rng, 5000, 900, func(id int) map[string]any {
		seller := any(rng.Intn(450))
		if rng.Intn(20) == 0 {
			seller = nil
		}
		return map[string]any{"id": id, "seller": seller, "price": rng.Intn(100)}
	})
	tables := strings.ReplaceAll(exchangeTables, "ADDR", addr)
	for _, kq := range keyedQueries {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			x0, k0, f0 := exchangesBuilt.Load(), keyedExchangesBuilt.Load(), forwardChainsBuilt.Load()
			rows, _, err := queryRows(context.Background(), s, kq.q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", kq.q, par, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s at parallelism %d: materialize: %v", kq.q, par, err)
				}
			}
			got := sortedLines(m.Rows())
			x, k, f := exchangesBuilt.Load()-x0, keyedExchangesBuilt.Load()-k0, forwardChainsBuilt.Load()-f0
			if par == 1 {
				if x+k+f != 0 {
					t.Fatalf("%s at parallelism 1: %d exchanges, %d keyed → keyed, %d forward chains built", kq.q, x, k, f)
				}
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", kq.q, want)
				}
				continue
			}
			if x != kq.exchanges || k != kq.keyed || f != kq.forward {
				t.Fatalf("%s at parallelism %d: %d exchanges, %d keyed → keyed, %d forward chains built; want %d, %d, %d",
					kq.q, par, x, k, f, kq.exchanges, kq.keyed, kq.forward)
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%s\nwant:\n%s", kq.q, par, got, want)
			}
		}
	}
}

const keyedJobTables = `
CREATE TABLE lvl (amount BIGINT, users BIGINT, orders BIGINT, PRIMARY KEY (amount) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'lvl', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`

// keyedInsert is a two-level plan: GROUP BY user_id, amount → Calc → GROUP BY amount → Calc → upsert-kafka.
const keyedInsert = `INSERT INTO lvl SELECT amount, users, orders - 1 FROM (SELECT amount, COUNT(*) AS users, SUM(cnt) AS orders
FROM (SELECT user_id, amount, COUNT(*) + 1 AS cnt FROM o GROUP BY user_id, amount) GROUP BY amount)`

// lvlWant is keyedInsert's table after orders 0..n-1 (user_id = id % 37, amount = id % 7).
func lvlWant(n int) map[string]string {
	users, orders := map[int]map[int]bool{}, map[int]int{}
	for i := range n {
		a := i % 7
		if users[a] == nil {
			users[a] = map[int]bool{}
		}
		users[a][i%37] = true
		orders[a]++
	}
	want := map[string]string{}
	for a, us := range users {
		// every (user, amount) group adds 1 to the sum: taken off again by the last Calc but for the first
		want[fmt.Sprintf(`{"amount":%d}`, a)] = fmt.Sprintf(`{"amount":%d,"users":%d,"orders":%d}`, a, len(us), orders[a]+len(us)-1)
	}
	return want
}

// startKeyedJob runs insert at parallelism par (restored from savepoint when set) and checks that it runs
// as two exchanges, the first sending into the second, and forward chains after keyed subtasks.
func startKeyedJob(t *testing.T, addr string, par int, savepoint, insert string, forward int64) *Job {
	t.Helper()
	s := exchangeSession(t, par)
	script := strings.ReplaceAll(exchangeJobTables+keyedJobTables, "ADDR", addr)
	if savepoint != "" {
		script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
	}
	execScript(t, s, script)
	x0, k0, f0 := exchangesBuilt.Load(), keyedExchangesBuilt.Load(), forwardChainsBuilt.Load()
	st, err := sql.ParseStatement(insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	x, k, f := exchangesBuilt.Load()-x0, keyedExchangesBuilt.Load()-k0, forwardChainsBuilt.Load()-f0
	if par > 1 && (x != 2 || k != 1 || f != forward) || par == 1 && x+k+f != 0 {
		t.Fatalf("parallelism %d: %d exchanges, %d keyed → keyed, %d forward chains built", par, x, k, f)
	}
	return res.Job
}

// TestKeyedExchangeRescaleSavepoint runs the two-level plan at parallelism 2, stops it with a savepoint,
// restores at 3 (stopped with --drain), then at 1, with more input each time: the upsert-kafka output is
// exact, so both levels' state was cut with the sources' positions (multi-level quiesce) and redistributed.
func TestKeyedExchangeRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	n := 0
	savepoint := ""
	for _, par := range []int{2, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 1500)
		n += 1500
		j := startKeyedJob(t, addr, par, savepoint, keyedInsert, 1)
		waitUpsert(t, addr, "lvl", lvlWant(n))
		var err error
		if savepoint, err = j.Stop(context.Background(), dir, par == 3); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := j.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestKeyedExchangeNoLeak cancels a running two-level job and fails another in the forward chain between
// the two exchanges (an integer division by zero after the first aggregate): no goroutine is left.
func TestKeyedExchangeNoLeak(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 2000)
	s := exchangeSession(t, 3)
	execScript(t, s, strings.ReplaceAll(exchangeJobTables+keyedJobTables, "ADDR", addr))
	base := runtime.NumGoroutine()
	j := startKeyedJob(t, addr, 3, "", keyedInsert, 1)
	waitUpsert(t, addr, "lvl", lvlWant(2000))
	j.Cancel()
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the cancelled job, %d before:\n%s", n, base, goroutines())
	}
	j = startKeyedJob(t, addr, 3, "", `INSERT INTO lvl SELECT cnt, COUNT(*), SUM(user_id) FROM (SELECT user_id, COUNT(*) / (COUNT(*) - 20) AS cnt FROM o GROUP BY user_id) GROUP BY cnt`, 0)
	err := j.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("the job ended with %v, want a division by zero", err)
	}
	if n := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the failed job, %d before:\n%s", n, base, goroutines())
	}
}

// TestKeyedExchangeQuiesce closes the gate and quiesces a running two-level job many times while rows flow:
// every time, both exchanges must be idle afterwards (the upstream one is waited for first, and the pass
// repeats), which is what lets the checkpoint snapshot the keyed state with no row in flight.
func TestKeyedExchangeQuiesce(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 60000)
	j := startKeyedJob(t, addr, 3, "", keyedInsert, 1)
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	// Quiesce back to back until the job has read every row (at least 300 times): on a fast machine the
	// 60,000 rows flow in a few tens of milliseconds, so a pause between quiesces would let most of them pass
	// unobserved.
	busy := 0
	deadline := time.Now().Add(30 * time.Second)
	n := 0
	for ; n < 300 || j.Metrics().RowsIn < 60000 && time.Now().Before(deadline); n++ {
		g.gate.Lock()
		err := g.quiesce(false)
		for _, r := range g.exchanges {
			if !r.x.Idle() {
				t.Errorf("%s has data in flight after quiesce", r.name)
			}
		}
		g.gate.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if m := j.Metrics(); m.RowsIn > 0 && m.RowsIn < 60000 {
			busy++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d quiesces, %d of them while rows flowed", n, busy)
	if busy < 10 {
		t.Fatalf("only %d of the quiesces were taken while rows flowed", busy)
	}
	waitUpsert(t, addr, "lvl", lvlWant(60000))
}
