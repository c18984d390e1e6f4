package jdbc_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/connectors/jdbc"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkUpsert writes b.N rows through the engine into an upsert table (10,000 keys, flushes of 1000
// rows); reports rows/s.
func BenchmarkUpsert(b *testing.B) {
	pgExec(b, "DROP TABLE IF EXISTS bench_up", "CREATE TABLE bench_up (k BIGINT PRIMARY KEY, v TEXT, n BIGINT)")
	e := open(b)
	mustRun(b, e, fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
CREATE TABLE bench_up (k BIGINT, v STRING, n BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'jdbc',
  'url' = '${URL}', 'table-name' = 'bench_up', 'sink.buffer-flush.max-rows' = '1000');`, b.N, b.N))
	b.ResetTimer()
	mustRun(b, e, "INSERT INTO bench_up SELECT MOD(id, 10000), CAST(id AS STRING), n FROM gen")
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLookupWarmCache looks up 1000 keys in a loop with every key cached; reports lookups/s.
func BenchmarkLookupWarmCache(b *testing.B) {
	pgExec(b, "DROP TABLE IF EXISTS dim", "CREATE TABLE dim (k BIGINT PRIMARY KEY, name TEXT)",
		"INSERT INTO dim SELECT g, 'n' || g FROM generate_series(0, 999) g")
	ctx := context.Background()
	l, err := jdbc.NewFactory().CreateLookup(lookupTable(map[string]string{"lookup.cache": "PARTIAL",
		"lookup.partial-cache.max-rows": "10000"}), []int{0})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	key := make([]types.Value, 1)
	var dst [][]types.Value
	for i := 0; i < 1000; i++ {
		key[0] = types.IntValue(int64(i))
		if dst, err = l.Lookup(ctx, key, dst[:0]); err != nil || len(dst) != 1 {
			b.Fatal(err, len(dst))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key[0] = types.IntValue(int64(i % 1000))
		if dst, err = l.Lookup(ctx, key, dst[:0]); err != nil || len(dst) != 1 {
			b.Fatal(err, len(dst))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkLookupJoin runs b.N datagen rows through a lookup join on 1000 keys (warm cache after the first
// 1000 rows) into a blackhole sink, through the engine; reports rows/s.
func BenchmarkLookupJoin(b *testing.B) {
	pgExec(b, "DROP TABLE IF EXISTS dim", "CREATE TABLE dim (k BIGINT PRIMARY KEY, name TEXT)",
		"INSERT INTO dim SELECT g, 'n' || g FROM generate_series(0, 999) g")
	e := open(b)
	mustRun(b, e, fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'rows-per-second' = '100000000', 'fields.id.min' = '0', 'fields.id.max' = '999');
CREATE TABLE dim (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'dim',
  'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '10000');
CREATE TABLE out (id BIGINT, name STRING) WITH ('connector' = 'blackhole');`, b.N))
	b.ResetTimer()
	mustRun(b, e, "INSERT INTO out SELECT g.id, d.name FROM gen AS g JOIN dim FOR SYSTEM_TIME AS OF g.proc AS d ON g.id = d.k")
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkBatchSinkTasks writes 100,000 rows from datagen into an append table with a batch job at
// parallelism 1 and 2 (2 sink tasks, each with a connection, from this change on); reports rows/s.
func BenchmarkBatchSinkTasks(b *testing.B) {
	const rows = 100000
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("p%d", par), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				pgExec(b, "DROP TABLE IF EXISTS bench_tasks", "CREATE TABLE bench_tasks (id BIGINT, v TEXT)")
				b.StartTimer()
				if _, notice, err := batchRunTB(b, fmt.Sprintf(`
CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '%d', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
CREATE TABLE bench_tasks (id BIGINT, v STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'bench_tasks',
  'sink.buffer-flush.max-rows' = '1000');
INSERT INTO bench_tasks SELECT id, CAST(id AS STRING) FROM gen;`, rows, rows), par); err != nil {
					b.Fatalf("%v\n%s", err, notice)
				}
			}
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkBatchLookupJoinTasks runs 20,000 datagen rows through an uncached jdbc lookup join (1000 keys)
// into blackhole as a batch job at parallelism 1 and 2: the lookup join runs in the source stage's tasks,
// each task with a lookup handle (connection) of its own where they took turns on one before; reports rows/s.
func BenchmarkBatchLookupJoinTasks(b *testing.B) {
	pgExec(b, "DROP TABLE IF EXISTS bdim", "CREATE TABLE bdim (k BIGINT PRIMARY KEY, name TEXT)",
		"INSERT INTO bdim SELECT g, 'n' || g FROM generate_series(0, 999) g")
	const rows = 20000
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("P%d", par), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, notice, err := batchRunTB(b, fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'rows-per-second' = '100000000', 'fields.id.min' = '0', 'fields.id.max' = '999');
CREATE TABLE d (k BIGINT, name STRING) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'bdim');
CREATE TABLE out_t (id BIGINT, name STRING) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT g.id, d.name FROM gen AS g JOIN d FOR SYSTEM_TIME AS OF g.proc AS d ON g.id = d.k;`, rows), par)
				if err != nil {
					b.Fatalf("%v\n%s", err, notice)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
