package jdbc_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

func startKafka(t *testing.T) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// order i: customer i%6+1 (customer 6 does not exist), amount i%17+1.
func produceOrders(t *testing.T, addr string, from, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d,"cust":%d,"amount":%d}`, i, i%6+1, i%17+1))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

var regions = map[int]string{1: "north", 2: "north", 3: "south", 4: "south", 5: "west"}

func createCustomers(t *testing.T) {
	pgExec(t, "DROP TABLE IF EXISTS customers", "CREATE TABLE customers (id BIGINT PRIMARY KEY, name TEXT, region TEXT)",
		"INSERT INTO customers VALUES (1, 'ann', 'north'), (2, 'bob', 'north'), (3, 'cy', 'south'), (4, 'di', 'south'), (5, 'ed', 'west')")
}

// regionTotals is the expected result of the region aggregate over orders 0..n-1.
func regionTotals(n int) string {
	type agg struct{ sum, cnt int }
	m := map[string]*agg{}
	for i := 0; i < n; i++ {
		r, ok := regions[i%6+1]
		if !ok {
			continue
		}
		if m[r] == nil {
			m[r] = &agg{}
		}
		m[r].sum += i%17 + 1
		m[r].cnt++
	}
	var lines []string
	for r, a := range m {
		lines = append(lines, fmt.Sprintf("%s,%d,%d", r, a.sum, a.cnt))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

const pipelineTables = `
CREATE TABLE orders (id BIGINT, cust BIGINT, amount BIGINT, proc AS PROCTIME()) WITH ('connector' = 'kafka',
  'topic' = 'orders', 'properties.bootstrap.servers' = '${BROKER}', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'${BOUNDED});
CREATE TABLE customers (id BIGINT, name STRING, region STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}',
  'table-name' = 'customers', 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '100'${LOOKUP});
`

// Kafka → enrich with a PostgreSQL lookup join → upsert into PostgreSQL: a LEFT JOIN per order (customer 6
// is missing: NULL name) and an aggregate per region of the INNER JOIN.
func TestKafkaLookupJoinUpsert(t *testing.T) {
	addr := startKafka(t)
	createCustomers(t)
	pgExec(t, "CREATE TABLE enriched (id BIGINT PRIMARY KEY, name TEXT, amount BIGINT)",
		"CREATE TABLE region_totals (region TEXT PRIMARY KEY, total BIGINT, cnt BIGINT)")
	produceOrders(t, addr, 0, 300)
	e := open(t)
	tables := strings.NewReplacer("${BROKER}", addr, "${BOUNDED}", ", 'scan.bounded.mode' = 'latest-offset'", "${LOOKUP}", "").Replace(pipelineTables)
	mustRun(t, e, tables+`
CREATE TABLE enriched (id BIGINT, name STRING, amount BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'enriched');
CREATE TABLE region_totals (region STRING, total BIGINT, cnt BIGINT, PRIMARY KEY (region) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'region_totals');`)
	plan := query(t, e, `EXPLAIN INSERT INTO enriched SELECT o.id, c.name, o.amount FROM orders AS o
  LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust = c.id`)
	if !strings.Contains(plan, "LookupJoin(table=[default_catalog.default_database.customers, project=[id, name]], joinType=[LeftOuterJoin], lookup=[id=cust]") {
		t.Fatalf("EXPLAIN does not show the lookup join:\n%s", plan)
	}
	mustRun(t, e, `
INSERT INTO enriched SELECT o.id, c.name, o.amount FROM orders AS o
  LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust = c.id;
INSERT INTO region_totals SELECT c.region, SUM(o.amount), COUNT(*) FROM orders AS o
  JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust = c.id GROUP BY c.region;`)
	names := map[int]string{1: "ann", 2: "bob", 3: "cy", 4: "di", 5: "ed"}
	var want []string
	for i := 0; i < 300; i++ {
		name, ok := names[i%6+1]
		if !ok {
			name = "<nil>"
		}
		want = append(want, fmt.Sprintf("%d,%s,%d", i, name, i%17+1))
	}
	sort.Strings(want)
	expect(t, "enriched", pgRows(t, "SELECT id, name, amount FROM enriched"), strings.Join(want, "\n"))
	expect(t, "region_totals", pgRows(t, "SELECT region, total, cnt FROM region_totals"), regionTotals(300))
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// A checkpointed job (Kafka → lookup join → GROUP BY → PostgreSQL upsert) loses its database connections
// (terminated by the server): the flush fails, the job restarts from its latest checkpoint, replays the orders
// after it, and the totals in PostgreSQL end exact (no order counted twice or lost).
func TestRestartFromCheckpointExact(t *testing.T) {
	addr := startKafka(t)
	createCustomers(t)
	pgExec(t, "CREATE TABLE ckpt_totals (region TEXT PRIMARY KEY, total BIGINT, cnt BIGINT)")
	produceOrders(t, addr, 0, 1000)
	var notice lockedBuf
	s, err := engine.NewSession(engine.Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC"}, Connectors: connbuiltin.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	script := strings.NewReplacer("${BROKER}", addr, "${BOUNDED}", "", "${LOOKUP}", ", 'lookup.max-retries' = '0'", "${URL}", pg.URL()).Replace(fmt.Sprintf(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = '%s';
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.delay' = '50 ms';
SET 'restart-strategy.fixed-delay.attempts' = '20';`, t.TempDir()) + pipelineTables + `
CREATE TABLE ckpt_totals (region STRING, total BIGINT, cnt BIGINT, PRIMARY KEY (region) NOT ENFORCED) WITH (
  'connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'ckpt_totals', 'sink.max-retries' = '0',
  'sink.buffer-flush.interval' = '20 ms');
INSERT INTO ckpt_totals SELECT c.region, SUM(o.amount), COUNT(*) FROM orders AS o
  JOIN customers FOR SYSTEM_TIME AS OF o.proc AS c ON o.cust = c.id GROUP BY c.region;`)
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	defer job.Cancel()
	for job.LastCheckpoint().ID < 2 {
		if ctx.Err() != nil {
			t.Fatalf("no checkpoint; output:\n%s", notice.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pgExec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = 'postgres' AND backend_type = 'client backend'")
	produceOrders(t, addr, 1000, 1000)
	want := regionTotals(2000)
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = pgRows(t, "SELECT region, total, cnt FROM ckpt_totals"); got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("totals:\n%s\nwant:\n%s\noutput:\n%s", got, want, notice.String())
	}
	if !strings.Contains(notice.String(), "Restarting it from checkpoint") {
		t.Fatalf("the job did not restart from a checkpoint; output:\n%s", notice.String())
	}
}
