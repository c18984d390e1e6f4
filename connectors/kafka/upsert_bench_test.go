package kafka_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// The full run of issue 5's figure: go test ./connectors/kafka -run - -bench Upsert -upsert.records 5000000
var (
	upsertRecords = flag.Int("upsert.records", 500_000, "records in the upsert benchmark's input topic")
	upsertKeys    = flag.Int("upsert.keys", 1_000_000, "key space of the upsert benchmark")
)

// BenchmarkUpsertPipeline is issue 5's figure: upsert-kafka → ChangelogNormalize → aggregate → upsert-kafka
// through the engine, with keys drawn from a space of -upsert.keys keys (JSON keys and values, 10% tombstones,
// 1000 groups). It reports records/s (wall) and records per CPU-second (the process, broker included).
func BenchmarkUpsertPipeline(b *testing.B) {
	_, addr := startBroker(b, kfake.SeedTopics(4, "up-in", "up-out"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	n, keys := *upsertRecords, *upsertKeys
	for i := 0; i < n; i++ {
		k := rng.IntN(keys)
		r := &kgo.Record{Topic: "up-in", Key: []byte(`{"k":` + strconv.Itoa(k) + `}`)}
		if rng.IntN(10) != 0 {
			r.Value = []byte(`{"g":` + strconv.Itoa(k%1000) + `,"v":` + strconv.Itoa(i%100) + `}`)
		}
		cl.Produce(ctx, r, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	var wall, cpu time.Duration
	var total int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := engine.NewSession(engine.Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: b.TempDir(),
			Options:    map[string]string{"table.local-time-zone": "UTC"},
			Connectors: connbuiltin.Registry().With(kafka.NewUpsertFactory())})
		if err != nil {
			b.Fatal(err)
		}
		stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE src (k BIGINT, g INT, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'up-in', 'properties.bootstrap.servers' = '%[1]s',
  'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE dst (g INT, n BIGINT, s BIGINT, PRIMARY KEY (g) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'up-out', 'properties.bootstrap.servers' = '%[1]s',
  'key.format' = 'json', 'value.format' = 'json',
  'sink.buffer-flush.max-rows' = '1000', 'sink.buffer-flush.interval' = '1 s');
INSERT INTO dst SELECT g, COUNT(*), SUM(v) FROM src GROUP BY g;`, addr))
		if err != nil {
			b.Fatal(err)
		}
		c0, w0 := cpuTime(), time.Now()
		for _, st := range stmts {
			if _, err := s.Execute(ctx, st); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.WaitJobs(ctx); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(w0)
		cpu += cpuTime() - c0
		total += int64(n)
		if i == 0 {
			if c := compactTopic(b, addr, "up-out"); len(c.value) != 1000 || len(c.split) > 0 {
				b.Fatalf("the pipeline left %d groups in the output topic (want 1000), %d keys split", len(c.value), len(c.split))
			}
		}
	}
	report(b, total, wall, cpu)
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// BenchmarkNormalizeStateBytesPerKey measures the ChangelogNormalize state of the pipeline above
// (BIGINT key, INT, BIGINT per row) with -upsert.keys live keys: heap bytes per key, from runtime.MemStats
// before and after (after a GC, so only live state counts), and upserts/s into it.
func BenchmarkNormalizeStateBytesPerKey(b *testing.B) {
	keys := *upsertKeys
	ts := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType()}
	var perKey float64
	var wall time.Duration
	for i := 0; i < b.N; i++ {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		w0 := time.Now()
		op := exec.NewChangelogNormalize([]int{0}, ts, false, &countingOutput{})
		var batch changelog.Batch
		vals := make([]types.Value, 3*1024)
		for k := 0; k < keys; k += 1024 {
			batch.Reset()
			for j := 0; j < 1024 && k+j < keys; j++ {
				row := vals[3*j : 3*j+3 : 3*j+3]
				row[0], row[1], row[2] = types.IntValue(int64(k+j)), types.IntValue(int64((k+j)%1000)), types.IntValue(7)
				batch.Append(changelog.Insert, row)
			}
			if err := op.Push(&batch); err != nil {
				b.Fatal(err)
			}
		}
		wall += time.Since(w0)
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		perKey = float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc)) / float64(keys)
		runtime.KeepAlive(op)
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(float64(keys)*float64(b.N)/wall.Seconds(), "upserts/s")
}
