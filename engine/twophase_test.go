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
	"github.com/sluicesql/sluice/state"
)

// twoPhaseSettings turn on two-phase aggregation (a mini-batch is applied every 200 rows, 100 ms, at a
// watermark and at the end of input).
const twoPhaseSettings = `SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.allow-latency' = '100 ms';
SET 'table.exec.mini-batch.size' = '200'; SET 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE'; `

// twoPhaseQueries are two-phase GROUP BYs over a 4-partition changelog (debezium-json: retractions) and an
// append stream (MIN and MAX split over insert-only input only).
var twoPhaseQueries = []string{
	`SELECT city, COUNT(*), SUM(id), AVG(id), COUNT(name) FROM person GROUP BY city`,
	`SELECT name, city, COUNT(*), SUM(id) FROM person WHERE id > 20 GROUP BY name, city`,
	`SELECT user_id, COUNT(*), SUM(amount), MIN(id), MAX(id), AVG(amount) FROM ow GROUP BY user_id`,
	`SELECT amount, user_id / 3, COUNT(*), MAX(id) FROM ow WHERE amount < 5 GROUP BY amount, user_id / 3`,
	// a Top-N over the global aggregate: its keyed subtasks route into the Top-N's exchange
	`SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY amount ORDER BY n DESC, user_id) AS rn
  FROM (SELECT user_id, amount, COUNT(*) AS n FROM ow WHERE id % 3 <> 0 OR user_id < 10 GROUP BY user_id, amount)) WHERE rn <= 3`,
	// oc's JSON is decoded into columns (no computed column), which the chained locals combine as columns
	`SELECT user_id, COUNT(*), SUM(amount), MIN(id), MAX(amount), AVG(id), COUNT(amount) FROM oc WHERE amount < 6 GROUP BY user_id`,
	`SELECT COUNT(*), SUM(id), MAX(id), MIN(amount) FROM oc`,
	// keyless: the locals' partials go through Exchange(single) to one global aggregate (with retractions)
	`SELECT COUNT(*), SUM(id), AVG(id), COUNT(name) FROM person`,
	`SELECT COUNT(*), SUM(amount), MIN(id), MAX(id) FROM ow WHERE amount < 5`,
}

// TestTwoPhaseParallelismProperty runs two-phase GROUP BYs at parallelism 1 and 3 and compares the
// materialized results: at 3 the local aggregates run in the source subtasks and the global one behind a
// hash exchange on the group keys.
func TestTwoPhaseParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(29))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima", "Kyiv", "Quito"}
	produceChangelog(t, addr, "person", rng, 4000, 400, func(id int) map[string]any {
		return map[string]any{"id": id, "name": []string{"a", "b", "c", "d"}[rng.Intn(4)], "city": cities[rng.Intn(len(cities))]}
	})
	produceExchangeOrders(t, addr, "ord", 0, 5000)
	tables := strings.ReplaceAll(exchangeTables+opsTables+`CREATE TABLE oc (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
`, "ADDR", addr) + twoPhaseSettings
	for _, q := range twoPhaseQueries {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built, chained, cols := exchangesBuilt.Load(), twoPhaseBuilt.Load(), localColumnBatches.Load()
			rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", q, par, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s at parallelism %d: materialize: %v", q, par, err)
				}
			}
			got := sortedLines(m.Rows())
			n, c := exchangesBuilt.Load()-built, twoPhaseBuilt.Load()-chained
			wantX := int64(1)
			if strings.Contains(q, "ROW_NUMBER") {
				wantX = 2
			}
			if (par > 1) != (n == wantX) || (par > 1) != (c == 1) {
				t.Fatalf("%s at parallelism %d: %d exchanges, %d chained two-phase aggregates built", q, par, n, c)
			}
			keyless := !strings.Contains(q, "GROUP BY")
			// oc and ow are decoded into columns (ow's computed column, TO_TIMESTAMP_LTZ of a BIGINT, has a
			// kernel); person's debezium changelog takes rows
			columnar := strings.Contains(q, "FROM oc") || strings.Contains(q, "FROM ow")
			if cb := localColumnBatches.Load() - cols; par > 1 && (cb > 0) != columnar {
				t.Fatalf("%s at parallelism %d: the chained locals took %d columnar batches", q, par, cb)
			}
			if par > 1 {
				if !keyless {
					explainsHashExchange(t, s, q)
				}
				explainsTwoPhase(t, s, q)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 && !keyless || want == "" {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.3000s\nwant:\n%.3000s", q, par, got, want)
			}
		}
	}
}

// explainsTwoPhase checks that EXPLAIN q plans the local aggregate under the exchange (hash, or single
// without keys) under the global one.
func explainsTwoPhase(t *testing.T, s *Session, q string) {
	t.Helper()
	text := explainText(t, s, q)
	g := strings.Index(text, "GlobalGroupAggregate")
	x, l := -1, -1
	if g >= 0 {
		x = strings.Index(text[g:], "Exchange(distribution=[hash[")
		if !strings.Contains(q, "GROUP BY") {
			x = strings.Index(text[g:], "Exchange(distribution=[single])")
		}
		l = strings.Index(text[g:], "LocalGroupAggregate")
	}
	if g < 0 || x < 0 || l < x || strings.Contains(text[g:g+l], "Calc(") {
		t.Fatalf("EXPLAIN %s: not GlobalGroupAggregate over Exchange(hash) over LocalGroupAggregate:\n%s", q, text)
	}
}

// TestTwoPhaseRescaleSavepoint runs a two-phase GROUP BY at parallelism 2, stops it with a savepoint,
// restores at 3, then at 1, with more input each time: the outputs are exact (the locals' partials were
// flushed into the global state at each cut, the global state redistributed by key). The last batch of every
// run is applied by the mini-batch ticker (no watermark, no end of input).
func TestTwoPhaseRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	n := 0
	savepoint := ""
	for _, par := range []int{2, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 1500)
		n += 1500
		chained := twoPhaseBuilt.Load()
		j := startOpsJob(t, addr, par, savepoint, twoPhaseSettings, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`)
		if c := twoPhaseBuilt.Load() - chained; (par > 1) != (c == 1) {
			t.Fatalf("parallelism %d: %d chained two-phase aggregates built", par, c)
		}
		waitUpsert(t, addr, "totals", totalsWant(n))
		var err error
		if savepoint, err = j.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := j.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestTwoPhaseKeylessRescaleSavepoint: a keyless two-phase aggregate (locals in the source subtasks,
// Exchange(single), one global) into upsert-kafka, stopped with a savepoint at parallelism 2, restored at 3
// and then at 1 with more input each time: the totals are exact.
func TestTwoPhaseKeylessRescaleSavepoint(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	n := 0
	savepoint := ""
	for _, par := range []int{2, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 1500)
		n += 1500
		chained := twoPhaseBuilt.Load()
		j := startOpsJob(t, addr, par, savepoint, twoPhaseSettings, `INSERT INTO totals SELECT CAST(1 AS BIGINT), COUNT(*), SUM(amount) FROM p`)
		if c := twoPhaseBuilt.Load() - chained; (par > 1) != (c == 1) {
			t.Fatalf("parallelism %d: %d chained two-phase aggregates built", par, c)
		}
		total := 0
		for i := range n {
			total += i % 7
		}
		waitUpsert(t, addr, "totals", map[string]string{`{"user_id":1}`: fmt.Sprintf(`{"user_id":1,"cnt":%d,"total":%d}`, n, total)})
		var err error
		if savepoint, err = j.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := j.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestTwoPhaseNoLeak cancels a running two-phase job at parallelism 3: no goroutine stays behind.
func TestTwoPhaseNoLeak(t *testing.T) {
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, 2000)
	base := runtime.NumGoroutine()
	j := startOpsJob(t, addr, 3, "", twoPhaseSettings, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`)
	waitUpsert(t, addr, "totals", totalsWant(2000))
	j.Cancel()
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := settledGoroutines(base); n > base {
		t.Fatalf("%d goroutines after the cancelled job, %d before:\n%s", n, base, goroutines())
	}
}

// explainText returns EXPLAIN q's text.
func explainText(t *testing.T, s *Session, q string) string {
	t.Helper()
	st, err := sql.ParseStatement("EXPLAIN " + q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	text := res.Message
	for _, r := range res.Rows {
		for _, v := range r {
			text += v.Str()
		}
	}
	return text
}

// TestTwoPhaseCutFlushesLocals runs a two-phase GROUP BY whose mini-batches are never due (1 h, 1e6 rows) at
// parallelism 1, 3 and 2, stopping each run with a savepoint once every row was read. At every parallelism
// the locals' pending partials reach the global aggregate and the sink before the cut (at 1 the local under
// the graph lock, at 3 and 2 the chained locals), so every run ends with exact output and the savepoint's
// LocalGroupAggregate part holds no partials (its meta entry only).
func TestTwoPhaseCutFlushesLocals(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	n := 0
	savepoint := ""
	for _, par := range []int{1, 3, 2} {
		produceExchangeOrders(t, addr, "ord", n, 1200)
		n += 1200
		savepoint = runUntilCut(t, addr, par, savepoint, dir)
		waitUpsert(t, addr, "totals", totalsWant(n))
		if e := localPartEntries(t, savepoint); e != 1 {
			t.Fatalf("parallelism %d: the savepoint's LocalGroupAggregate part has %d entries, want 1 (no partials)", par, e)
		}
	}
}

// TestTwoPhaseRestoresPendingPartials: a savepoint whose LocalGroupAggregate part holds pending partials (as
// parallelism 1 wrote them before its local was flushed at the cut; noCutFlush) restores at parallelism 3
// and then 1 with exact output: the partials go into the first subtask's local and are applied by key.
func TestTwoPhaseRestoresPendingPartials(t *testing.T) {
	dir := t.TempDir()
	addr := exchangeBroker(t)
	n := 0
	savepoint := ""
	for i, par := range []int{1, 3, 1} {
		produceExchangeOrders(t, addr, "ord", n, 1200)
		n += 1200
		noCutFlush = i == 0
		savepoint = runUntilCut(t, addr, par, savepoint, dir)
		noCutFlush = false
		e := localPartEntries(t, savepoint)
		if i == 0 {
			if e != 1+37 {
				t.Fatalf("the savepoint without the flush has %d entries in its LocalGroupAggregate part, want 38 (37 keys' partials)", e)
			}
			continue
		}
		waitUpsert(t, addr, "totals", totalsWant(n))
		if e != 1 {
			t.Fatalf("parallelism %d: the savepoint's LocalGroupAggregate part has %d entries, want 1", par, e)
		}
	}
}

// runUntilCut runs the two-phase GROUP BY with mini-batches that are never due until it read every row,
// checks that nothing was written before the cut, and stops it with a savepoint (returned).
func runUntilCut(t *testing.T, addr string, par int, savepoint, dir string) string {
	t.Helper()
	settings := strings.NewReplacer("'100 ms'", "'1 h'", "'200'", "'1000000'").Replace(twoPhaseSettings)
	j := startOpsJob(t, addr, par, savepoint, settings, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM p GROUP BY user_id`)
	deadline := time.Now().Add(30 * time.Second)
	for j.Metrics().RowsIn < 1200 {
		if time.Now().After(deadline) {
			t.Fatalf("parallelism %d: %d rows read, want 1200", par, j.Metrics().RowsIn)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if j.Metrics().RowsOut != 0 {
		t.Fatalf("parallelism %d: %d rows out before the cut: the locals applied a batch that was not due", par, j.Metrics().RowsOut)
	}
	sp, err := j.Stop(context.Background(), dir, false)
	if err != nil {
		t.Fatalf("parallelism %d: stop: %v", par, err)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatalf("parallelism %d: %v", par, err)
	}
	return sp
}

// localPartEntries returns the number of entries of the savepoint's LocalGroupAggregate part.
func localPartEntries(t *testing.T, savepoint string) int64 {
	t.Helper()
	cp, err := state.Load(savepoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cp.Metadata.Parts {
		if strings.HasPrefix(p.Name, "LocalGroupAggregate") {
			return p.Entries
		}
	}
	t.Fatalf("%s: no LocalGroupAggregate part", savepoint)
	return 0
}
