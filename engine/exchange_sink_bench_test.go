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

// BenchmarkKeyedSink: a GROUP BY (1000 keys) over a pre-filled 4-partition topic into upsert-kafka (JSON key
// and value; every input row emits -U/+U; the sink's buffer compacts them by key, so the broker sees few) at
// parallelism 1 and 2: "p2" the keyed subtasks encode for the sink outside the graph lock (exchange_sink.go),
// "p2-lock" they push into the sink under the lock. Records/cpu-s counts the whole process (the in-process
// broker included).
//
//	go test ./engine -run '^$' -bench KeyedSink -benchtime 3x
func BenchmarkKeyedSink(b *testing.B) {
	addr := sinkBenchTopic(b)
	run := 0
	for _, mode := range []string{"p1", "p2", "p2-lock"} {
		b.Run(mode, func(b *testing.B) {
			var wall, cpu time.Duration
			for range b.N {
				run++
				par := 2
				if mode == "p1" {
					par = 1
				}
				noKeyedSinkEncoding = mode == "p2-lock"
				built := sinkEncodersBuilt.Load()
				w, c := runSinkBench(b, addr, par, run, `'sink.buffer-flush.max-rows' = '5000', 'sink.buffer-flush.interval' = '1s'`)
				wall, cpu = wall+w, cpu+c
				noKeyedSinkEncoding = false
				if n := sinkEncodersBuilt.Load() - built; (mode == "p2") != (n == 1) {
					b.Fatalf("%s: %d keyed sink encoders built", mode, n)
				}
			}
			reportSinkBench(b, wall, cpu)
		})
	}
}

// sinkBenchRows is the number of orders sinkBenchTopic writes.
const sinkBenchRows = 200_000

// sinkBenchTopic starts an in-process broker with topic "ord" (4 partitions) holding sinkBenchRows orders of
// 1000 users, and returns its address.
func sinkBenchTopic(b *testing.B) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, sinkBenchRows)
	for i := range sinkBenchRows {
		recs = append(recs, &kgo.Record{Topic: "ord", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, i, i%1000, i%7))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	return addr
}

// runSinkBench runs the GROUP BY per user over sinkBenchTopic's orders into an upsert-kafka table (topic
// totals-<run>, with the extra sink options opts) at parallelism par, checks every order was read, and
// returns the wall and process CPU time it took.
func runSinkBench(b *testing.B, addr string, par, run int, opts string) (wall, cpu time.Duration) {
	s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Notice: &bytes.Buffer{}, TempDir: b.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
	if err != nil {
		b.Fatal(err)
	}
	script := strings.NewReplacer("ADDR", addr, "RUN", fmt.Sprint(run), "OPTS", opts).Replace(`
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ord',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE t (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals-RUN', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', OPTS);
INSERT INTO t SELECT user_id, COUNT(*), SUM(amount) FROM o GROUP BY user_id;`)
	stmts, err := sql.ParseScript(script)
	if err != nil {
		b.Fatal(err)
	}
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
	wall, cpu = time.Since(w0), cpuNow()-c0
	if got := jb.Metrics().RowsIn; got != sinkBenchRows {
		b.Fatalf("read %d rows, want %d", got, sinkBenchRows)
	}
	return wall, cpu
}

// reportSinkBench reports records/s and records per CPU-second over b.N runs of runSinkBench.
func reportSinkBench(b *testing.B, wall, cpu time.Duration) {
	total := float64(sinkBenchRows) * float64(b.N)
	b.ReportMetric(total/wall.Seconds(), "records/s")
	b.ReportMetric(total/cpu.Seconds(), "records/cpu-s")
}
