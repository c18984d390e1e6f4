package kafka_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/internal/kfakeproc"
	"github.com/sluicesql/sluice/sql"
)

// BenchmarkParallelism is issue 13's scaling figure: three jobs over the same pre-filled 4-partition topic
// (benchRecords JSON records times -kafka.bench-scale, in-process kfake broker), each at 'parallelism.default' 1 and 2:
//
//   - filter: kafka → filter/project → kafka (JSON, keyed records)
//   - filter-eo: the same with 'sink.delivery-guarantee' = 'exactly-once' (checkpoints every 500 ms)
//   - groupby: kafka → GROUP BY user (1000 keys; COUNT, SUM) → blackhole
//   - join: kafka ⋈ kafka on id (a regular join of two tables reading the topic) → blackhole
//   - groupby-upsert, join-kafka: the same GROUP BY into upsert-kafka, the same join into kafka (JSON)
//
// It reports records/s (wall clock; for the join, records read from both inputs), records per CPU-second
// (the whole process, broker included), bytes allocated per record (the whole process) and the rows written
// per record read (an aggregate writes fewer changes when its input batches are larger). The speedup is
// the ratio of the two sub-benchmarks' records/s:
//
//	go test ./connectors/kafka -run '^$' -bench Parallelism -benchtime 3x
func BenchmarkParallelism(b *testing.B) {
	_, addr := startBroker(b, kfake.SeedTopics(4, "bench-in"))
	fillBenchTopicN(b, addr, parRecords(b))
	benchParallelism(b, addr, nil)
}

// parScale multiplies the records of the parallelism benchmarks' topic: at the default 200,000 records a
// run lasts 70-200 ms, so a job's start (group join, first fetches, plan) is part of what the ratio
// compares; -kafka.bench-scale=10 measures 2,000,000 records per run.
var parScale = flag.Int("kafka.bench-scale", 1, "multiplies the records of BenchmarkParallelism's topic")

// parRecords is the record count of the parallelism benchmarks' topic. A scale below 1 fails the
// benchmark (it would measure something other than what was asked for).
func parRecords(b *testing.B) int {
	if *parScale < 1 {
		b.Fatalf("-kafka.bench-scale=%d: the scale multiplies the topic's %d records and must be 1 or more", *parScale, benchRecords)
	}
	return benchRecords * *parScale
}

// BenchmarkParallelismBrokerProcess is BenchmarkParallelism with the kfake broker in a process of its own
// (internal/kfakeproc): records/cpu-s and job-cpu-ns/record are then the CPU of Sluice's process alone
// (getrusage of self, not of children), and broker-cpu-ns/record is the broker process's CPU over the same
// runs (it serves the job's fetches and, for filter, its produce requests). Wall-time scaling is the ratio
// of the p2 and p1 records/s; on a machine whose cores also run the broker, wall time cannot scale past
// cores / (job + broker CPU per record).
//
//	go test ./connectors/kafka -run '^$' -bench ParallelismBrokerProcess -benchtime 3x
func BenchmarkParallelismBrokerProcess(b *testing.B) {
	br := kfakeproc.StartBroker(b, b.TempDir(), 4, "bench-in")
	fillBenchTopicN(b, br.Addr, parRecords(b))
	benchParallelism(b, br.Addr, br)
}

// benchParallelism runs the jobs against the broker at addr; br is that broker when it runs in a process of
// its own (its CPU is then reported), else nil.
func benchParallelism(b *testing.B, addr string, br *kfakeproc.Broker) {
	n := int64(parRecords(b))
	src := func(name string) string {
		return fmt.Sprintf(`CREATE TABLE %s (id BIGINT, `+"`user`"+` STRING, url STRING, amount DOUBLE, ok BOOLEAN) WITH (
  'connector' = 'kafka', 'topic' = 'bench-in', 'properties.bootstrap.servers' = '%s', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');`, name, addr)
	}
	jobs := []struct {
		name    string
		script  string // RUN: the run's number (output topic)
		records int64  // records read per run
	}{
		{"filter", src("src") + `
CREATE TABLE dst (id BIGINT, ` + "`user`" + ` STRING, amount DOUBLE) WITH (
  'connector' = 'kafka', 'topic' = 'par-out-RUN', 'properties.bootstrap.servers' = '` + addr + `', 'format' = 'json',
  'key.format' = 'raw', 'key.fields' = 'user');
INSERT INTO dst SELECT id, ` + "`user`" + `, amount * 2 FROM src WHERE ok;`, n},
		{"filter-eo", src("src") + `
SET 'execution.checkpointing.interval' = '500 ms';
CREATE TABLE dst (id BIGINT, ` + "`user`" + ` STRING, amount DOUBLE) WITH (
  'connector' = 'kafka', 'topic' = 'par-out-RUN', 'properties.bootstrap.servers' = '` + addr + `', 'format' = 'json',
  'key.format' = 'raw', 'key.fields' = 'user', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'par-RUN');
INSERT INTO dst SELECT id, ` + "`user`" + `, amount * 2 FROM src WHERE ok;`, n},
		{"groupby", src("src") + `
CREATE TABLE hole (` + "`user`" + ` STRING, n BIGINT, total DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT ` + "`user`" + `, COUNT(*), SUM(amount) FROM src GROUP BY ` + "`user`" + `;`, n},
		{"join", src("a") + src("b") + `
SET 'table.optimizer.reuse-source-enabled' = 'false';
CREATE TABLE hole (id BIGINT, ` + "`user`" + ` STRING, url STRING) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT a.id, a.` + "`user`" + `, b.url FROM a JOIN b ON a.id = b.id;`, 2 * n},
		{"groupby-upsert", src("src") + `
CREATE TABLE totals (` + "`user`" + ` STRING, n BIGINT, total DOUBLE, PRIMARY KEY (` + "`user`" + `) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'par-out-RUN', 'properties.bootstrap.servers' = '` + addr + `',
  'key.format' = 'raw', 'value.format' = 'json');
INSERT INTO totals SELECT ` + "`user`" + `, COUNT(*), SUM(amount) FROM src GROUP BY ` + "`user`" + `;`, n},
		{"join-kafka", src("a") + src("b") + `
SET 'table.optimizer.reuse-source-enabled' = 'false';
CREATE TABLE dst (id BIGINT, ` + "`user`" + ` STRING, url STRING) WITH (
  'connector' = 'kafka', 'topic' = 'par-out-RUN', 'properties.bootstrap.servers' = '` + addr + `', 'format' = 'json');
INSERT INTO dst SELECT a.id, a.` + "`user`" + `, b.url FROM a JOIN b ON a.id = b.id;`, 2 * n},
	}
	run := 0
	for _, job := range jobs {
		for _, par := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/p%d", job.name, par), func(b *testing.B) {
				var total int64
				var wall, cpu, brokerCPU time.Duration
				var allocBytes uint64
				var rowsOut int64
				var ms runtime.MemStats
				for i := 0; i < b.N; i++ {
					run++
					s, err := engine.NewSession(engine.Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: b.TempDir(),
						Options:    map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)},
						Connectors: connbuiltin.Registry().With(kafka.NewFactory())})
					if err != nil {
						b.Fatal(err)
					}
					stmts, err := sql.ParseScript(strings.ReplaceAll(job.script, "RUN", fmt.Sprint(run)))
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					bc0 := brokerTime(b, br)
					runtime.ReadMemStats(&ms)
					a0 := ms.TotalAlloc
					c0, w0 := cpuTime(), time.Now()
					var jb *engine.Job
					for _, st := range stmts {
						res, err := s.Execute(ctx, st)
						if err != nil {
							b.Fatal(err)
						}
						if res.Job != nil {
							jb = res.Job
						}
					}
					if err := s.WaitJobs(ctx); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(w0)
					cpu += cpuTime() - c0
					runtime.ReadMemStats(&ms)
					allocBytes += ms.TotalAlloc - a0
					brokerCPU += brokerTime(b, br) - bc0
					total += job.records
					rowsOut += jb.Metrics().RowsOut
					if got := jb.Metrics().RowsIn; got != job.records {
						b.Fatalf("the job read %d records, want %d", got, job.records)
					}
					if job.name == "filter-eo" && i == 0 {
						checkCommitted(b, addr, fmt.Sprintf("par-out-%d", run), n/2)
					}
					if job.name == "filter" && i == 0 {
						checkWritten(b, addr, fmt.Sprintf("par-out-%d", run), n/2)
					}
					if job.name == "join-kafka" && i == 0 {
						checkWritten(b, addr, fmt.Sprintf("par-out-%d", run), n)
					}
				}
				report(b, total, wall, cpu)
				b.ReportMetric(float64(allocBytes)/float64(total), "alloc-B/record")
				b.ReportMetric(float64(rowsOut)/float64(total), "out/record") // changes written per record read
				if br != nil {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "job-cpu-ns/record")
					b.ReportMetric(float64(brokerCPU.Nanoseconds())/float64(total), "broker-cpu-ns/record")
				}
			})
		}
	}
}

// brokerTime is br's CPU time so far, 0 without a broker process.
func brokerTime(b *testing.B, br *kfakeproc.Broker) time.Duration {
	if br == nil {
		return 0
	}
	d, err := br.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// checkWritten fails b unless topic holds want records.
func checkWritten(b *testing.B, addr, topic string, want int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ends, err := listEnds(context.Background(), cl, topic)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	if n != want {
		b.Fatalf("the pipeline wrote %d records to %s, want %d", n, topic, want)
	}
}

// checkCommitted checks that a read_committed consumer reads want records from topic.
func checkCommitted(b *testing.B, addr, topic string, want int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	for n < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		n += int64(fs.NumRecords())
	}
	if n != want {
		b.Fatalf("a read_committed consumer read %d records of %s, want %d", n, topic, want)
	}
}

// BenchmarkScanSmallFetches reads the bench topic (broker in its own process) through a kafka table whose
// fetches return at most 64 KiB per partition ('properties.max.partition.fetch.bytes'), as a source that
// keeps up with a topic does: many fetches of a few batches each, where fetched records are recycled into
// later fetches (source_pool.go). With the defaults the broker sends each partition of this topic in one
// fetch, so nothing is reused within a run. It reports bytes allocated and job CPU per record.
//
//	go test ./connectors/kafka -run '^$' -bench ScanSmallFetches -benchtime 3x
func BenchmarkScanSmallFetches(b *testing.B) {
	br := kfakeproc.StartBroker(b, b.TempDir(), 4, "bench-in")
	fillBenchTopic(b, br.Addr)
	script := `CREATE TABLE src (id BIGINT, ` + "`user`" + ` STRING, url STRING, amount DOUBLE, ok BOOLEAN) WITH (
  'connector' = 'kafka', 'topic' = 'bench-in', 'properties.bootstrap.servers' = '` + br.Addr + `', 'format' = 'json',
  'properties.max.partition.fetch.bytes' = '65536',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE hole (id BIGINT, ` + "`user`" + ` STRING, url STRING, amount DOUBLE, ok BOOLEAN) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT * FROM src;`
	stmts, err := sql.ParseScript(script)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	var wall, cpu time.Duration
	var allocBytes uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := engine.NewSession(engine.Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, TempDir: b.TempDir(),
			Options:    map[string]string{"table.local-time-zone": "UTC"},
			Connectors: connbuiltin.Registry().With(kafka.NewFactory())})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		runtime.ReadMemStats(&ms)
		a0 := ms.TotalAlloc
		c0, w0 := cpuTime(), time.Now()
		var jb *engine.Job
		for _, st := range stmts {
			res, err := s.Execute(ctx, st)
			if err != nil {
				b.Fatal(err)
			}
			if res.Job != nil {
				jb = res.Job
			}
		}
		if err := s.WaitJobs(ctx); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(w0)
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&ms)
		allocBytes += ms.TotalAlloc - a0
		if got := jb.Metrics().RowsIn; got != benchRecords {
			b.Fatalf("the job read %d records, want %d", got, benchRecords)
		}
		total += benchRecords
	}
	report(b, total, wall, cpu)
	b.ReportMetric(float64(allocBytes)/float64(total), "alloc-B/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total), "job-cpu-ns/record")
}
