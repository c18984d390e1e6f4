package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/internal/kfakeproc"
	"github.com/sluicesql/sluice/sql"
)

// BenchmarkParallelism is issue 13's scaling figure: three jobs over the same pre-filled 4-partition topic
// (benchRecords JSON records, in-process kfake broker), each at 'parallelism.default' 1 and 2:
//
//   - filter: kafka → filter/project → kafka (JSON, keyed records)
//   - groupby: kafka → GROUP BY user (1000 keys; COUNT, SUM) → blackhole
//   - join: kafka ⋈ kafka on id (a regular join of two tables reading the topic) → blackhole
//
// It reports records/s (wall clock; for the join, records read from both inputs) and records per CPU-second
// (the whole process, broker included). The speedup is the ratio of the two sub-benchmarks' records/s:
//
//	go test ./connectors/kafka -run '^$' -bench Parallelism -benchtime 3x
func BenchmarkParallelism(b *testing.B) {
	benchParallelism(b, benchTopic(b))
}

// BenchmarkParallelismBrokerProcess is BenchmarkParallelism with the kfake broker in a process of its own
// (internal/kfakeproc): records/cpu-s is then the CPU of Sluice's process alone (getrusage of self, not of
// children), and the broker does not take the benchmark's cores from inside its process.
//
//	go test ./connectors/kafka -run '^$' -bench ParallelismBrokerProcess -benchtime 3x
func BenchmarkParallelismBrokerProcess(b *testing.B) {
	addr := kfakeproc.Start(b, b.TempDir(), 4, "bench-in")
	fillBenchTopic(b, addr)
	benchParallelism(b, addr)
}

func benchParallelism(b *testing.B, addr string) {
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
INSERT INTO dst SELECT id, ` + "`user`" + `, amount * 2 FROM src WHERE ok;`, benchRecords},
		{"groupby", src("src") + `
CREATE TABLE hole (` + "`user`" + ` STRING, n BIGINT, total DOUBLE) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT ` + "`user`" + `, COUNT(*), SUM(amount) FROM src GROUP BY ` + "`user`" + `;`, benchRecords},
		{"join", src("a") + src("b") + `
SET 'table.optimizer.reuse-source-enabled' = 'false';
CREATE TABLE hole (id BIGINT, ` + "`user`" + ` STRING, url STRING) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT a.id, a.` + "`user`" + `, b.url FROM a JOIN b ON a.id = b.id;`, 2 * benchRecords},
	}
	run := 0
	for _, job := range jobs {
		for _, par := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/p%d", job.name, par), func(b *testing.B) {
				var total int64
				var wall, cpu time.Duration
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
					total += job.records
					if got := jb.Metrics().RowsIn; got != job.records {
						b.Fatalf("the job read %d records, want %d", got, job.records)
					}
					if job.name == "filter" && i == 0 {
						checkWritten(b, addr, fmt.Sprintf("par-out-%d", run), benchRecords/2)
					}
				}
				report(b, total, wall, cpu)
			})
		}
	}
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
