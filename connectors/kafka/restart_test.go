package kafka_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// TestSinkFailureRestartsFromCheckpoint: a streaming GROUP BY into upsert-kafka with checkpoints. The sink's
// broker refuses the produce requests of a stretch of the run (a non-retriable error), the job fails, the
// restart strategy restarts it from its latest checkpoint (announced), and the compacted totals end exact.
func TestSinkFailureRestartsFromCheckpoint(t *testing.T) {
	_, addr := startBroker(t, kfake.DefaultNumPartitions(2))
	sinkCluster, sinkAddr := startBroker(t, kfake.DefaultNumPartitions(2))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf(`{"user_id":%d,"amount":%d}`, i%23, i%5))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var notice lockedWriter
	s, err := engine.NewSession(engine.Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer("ADDR", addr, "SINK", sinkAddr, "DIR", t.TempDir()).Replace(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = 'DIR';
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.delay' = '50 ms';
SET 'restart-strategy.fixed-delay.attempts' = '20';
CREATE TABLE orders (user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'orders',
  'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE totals (user_id BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'SINK',
  'key.format' = 'json', 'value.format' = 'json', 'properties.delivery.timeout.ms' = '3000');
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	produce(0, 1000)
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
		time.Sleep(20 * time.Millisecond)
	}
	// The sink's broker now stalls its next produce requests for longer than 'properties.delivery.timeout.ms':
	// the checkpoint's pre-commit fails, and with it the job.
	var refused atomic.Int32
	sinkCluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if refused.Add(1) < 3 {
			sinkCluster.KeepControl()
		}
		sinkCluster.SleepControl(func() { time.Sleep(4 * time.Second) })
		return nil, nil, false
	})
	produce(1000, 1000)
	want := map[int64][2]int64{}
	for i := 0; i < 2000; i++ {
		w := want[int64(i%23)]
		want[int64(i%23)] = [2]int64{w[0] + 1, w[1] + int64(i%5)}
	}
	deadline := time.Now().Add(20 * time.Second)
	var got map[int64][2]int64
	for time.Now().Before(deadline) {
		got, _ = compactedTotals(t, sinkAddr)
		if fmt.Sprint(got) == fmt.Sprint(want) && refused.Load() >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the sink failures (%d produce requests stalled):\n%v\nwant\n%v\noutput:\n%s", refused.Load(), got, want, notice.String())
	}
	if !strings.Contains(notice.String(), "Restarting it from checkpoint") {
		t.Fatalf("the restart was not announced; output:\n%s", notice.String())
	}
	if st := job.Status(); st != engine.JobRunning {
		t.Fatalf("job is %s after the restart, want RUNNING", st)
	}
}

// lockedWriter collects output written from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestBrokerRestartDuringCheckpointedJob: the broker of a checkpointed GROUP BY → upsert-kafka job goes away
// for a second and comes back (same port and data). Checkpoints fail meanwhile; the job restarts from its
// latest checkpoint as needed and the compacted totals end exact.
func TestBrokerRestartDuringCheckpointedJob(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(2, "orders", "totals"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cluster := start()
	defer func() { cluster.Close() }()
	addr := cluster.ListenAddrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produce := func(from, n int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf(`{"user_id":%d,"amount":%d}`, i%23, i%5))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var notice lockedWriter
	s, err := engine.NewSession(engine.Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer("ADDR", addr, "DIR", t.TempDir()).Replace(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = 'DIR';
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.delay' = '200 ms';
SET 'restart-strategy.fixed-delay.attempts' = '50';
CREATE TABLE orders (user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka', 'topic' = 'orders',
  'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE totals (user_id BIGINT, n BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json', 'properties.delivery.timeout.ms' = '2000');
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`)
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	produce(0, 1000)
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
		time.Sleep(20 * time.Millisecond)
	}
	cluster.Close()
	time.Sleep(time.Second)
	cluster = start()
	produce(1000, 1000)
	want := map[int64][2]int64{}
	for i := 0; i < 2000; i++ {
		w := want[int64(i%23)]
		want[int64(i%23)] = [2]int64{w[0] + 1, w[1] + int64(i%5)}
	}
	deadline := time.Now().Add(40 * time.Second)
	var got map[int64][2]int64
	for time.Now().Before(deadline) {
		got, _ = compactedTotals(t, addr)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the broker restart:\n%v\nwant\n%v\noutput:\n%s", got, want, notice.String())
	}
	if st := job.Status(); st != engine.JobRunning {
		t.Fatalf("job is %s, want RUNNING; output:\n%s", st, notice.String())
	}
	t.Logf("job output during the outage:\n%s", notice.String())
}
