package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// BenchmarkLockFedSink: a GROUP BY (1000 keys) at parallelism 1 over a pre-filled 4-partition topic into an
// unbuffered upsert-kafka sink (JSON key and value, every input row emits -U/+U) with 'sink.parallelism' 1
// (the aggregate's instance writes the sink under the graph lock: what the job ran as before, with a warning,
// at any 'sink.parallelism') and 2 and 3 (sink subtasks fed from under the lock, exchange_sink.go).
// Records/cpu-s counts the whole process (the in-process broker included).
//
//	go test ./engine -run '^$' -bench LockFedSink -benchtime 3x
func BenchmarkLockFedSink(b *testing.B) {
	const rows = 200_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, 0, rows)
	for i := range rows {
		recs = append(recs, &kgo.Record{Topic: "ord", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, i, i%1000, i%7))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	cancel()
	cl.Close()
	run := 0
	for _, sinkPar := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("sink%d", sinkPar), func(b *testing.B) {
			var wall, cpu time.Duration
			for range b.N {
				run++
				s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Notice: &bytes.Buffer{}, TempDir: b.TempDir(),
					Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": "1"}})
				if err != nil {
					b.Fatal(err)
				}
				script := strings.NewReplacer("ADDR", addr, "RUN", fmt.Sprint(run), "SINKPAR", fmt.Sprint(sinkPar)).Replace(`
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE t (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals-RUN', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', 'sink.parallelism' = 'SINKPAR');
INSERT INTO t SELECT user_id, COUNT(*), SUM(amount) FROM o GROUP BY user_id;`)
				stmts, err := sql.ParseScript(script)
				if err != nil {
					b.Fatal(err)
				}
				fed := lockFedSinksBuilt.Load()
				c0, w0 := cpuNow(), time.Now()
				var jb *Job
				for _, st := range stmts {
					res, err := s.Execute(context.Background(), st)
					if err != nil {
						b.Fatal(err)
					}
					if res.Job != nil {
						jb = res.Job
					}
				}
				if err := s.WaitJobs(context.Background()); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(w0)
				cpu += cpuNow() - c0
				if got := jb.Metrics().RowsIn; got != rows {
					b.Fatalf("read %d rows, want %d", got, rows)
				}
				if n := lockFedSinksBuilt.Load() - fed; (sinkPar > 1) != (n == 1) {
					b.Fatalf("sink%d: %d sinks fed from under the lock", sinkPar, n)
				}
			}
			total := float64(rows) * float64(b.N)
			b.ReportMetric(total/wall.Seconds(), "records/s")
			b.ReportMetric(total/cpu.Seconds(), "records/cpu-s")
		})
	}
}
