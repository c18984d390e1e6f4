package kafka_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/engine"
)

// TestSinkFailureRestartsFromCheckpoint: a streaming GROUP BY into upsert-kafka with checkpoints. The sink's
// broker refuses the produce requests of a stretch of the run (a non-retriable error), the job fails, the
// restart strategy restarts it from its latest checkpoint (announced), and the compacted totals end exact.
func TestSinkFailureRestartsFromCheckpoint(t *testing.T) {
	_, addr := startBroker(t, kfake.DefaultNumPartitions(2))
	sinkCluster, sinkAddr := startBroker(t, kfake.DefaultNumPartitions(2))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var notice lockedWriter
	produceValues(ctx, t, addr, "orders", orderValues(0, 1000, 23, 5))
	job := startJob(ctx, t, &notice, ordersTotalsScript(addr, sinkAddr, fmt.Sprintf(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = '%s';
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.delay' = '50 ms';
SET 'restart-strategy.fixed-delay.attempts' = '20';`, t.TempDir()), "", "", ", 'properties.delivery.timeout.ms' = '3000'"))
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
	produceValues(ctx, t, addr, "orders", orderValues(1000, 1000, 23, 5))
	want := orderTotals(2000, 23, 5)
	if got, _, ok := waitTotals(t, sinkAddr, want, 20*time.Second); !ok {
		t.Fatalf("after the sink failures (%d produce requests stalled):\n%v\nwant\n%v\noutput:\n%s", refused.Load(), got, want, notice.String())
	}
	if !strings.Contains(notice.String(), "Restarting it from checkpoint") {
		t.Fatalf("the restart was not announced; output:\n%s", notice.String())
	}
	if st := job.Status(); st != engine.JobRunning {
		t.Fatalf("job is %s after the restart, want RUNNING", st)
	}
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
	var notice lockedWriter
	produceValues(ctx, t, addr, "orders", orderValues(0, 1000, 23, 5))
	job := startJob(ctx, t, &notice, ordersTotalsScript(addr, addr, fmt.Sprintf(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'state.checkpoints.dir' = '%s';
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.delay' = '200 ms';
SET 'restart-strategy.fixed-delay.attempts' = '50';`, t.TempDir()), "", "", ", 'properties.delivery.timeout.ms' = '2000'"))
	defer job.Cancel()
	for job.LastCheckpoint().ID < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	cluster.Close()
	time.Sleep(time.Second)
	cluster = start()
	produceValues(ctx, t, addr, "orders", orderValues(1000, 1000, 23, 5))
	want := orderTotals(2000, 23, 5)
	if got, _, ok := waitTotals(t, addr, want, 40*time.Second); !ok {
		t.Fatalf("after the broker restart:\n%v\nwant\n%v\noutput:\n%s", got, want, notice.String())
	}
	if st := job.Status(); st != engine.JobRunning {
		t.Fatalf("job is %s, want RUNNING; output:\n%s", st, notice.String())
	}
	t.Logf("job output during the outage:\n%s", notice.String())
}
