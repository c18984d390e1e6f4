package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/engine"
)

// stallProduce makes broker c hold every Produce request (it does not answer them) until the returned
// release is called; held counts the requests held so far.
func stallProduce(c *kfake.Cluster) (held *atomic.Int32, release func()) {
	held = new(atomic.Int32)
	ch := make(chan struct{})
	var released atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !released.Load() {
			held.Add(1)
			c.SleepControl(func() { <-ch })
		}
		return nil, nil, false
	})
	return held, func() {
		if !released.Swap(true) {
			close(ch)
		}
	}
}

// intValues returns {"a":from} .. {"a":to}.
func intValues(from, to int) []string {
	var v []string
	for i := from; i <= to; i++ {
		v = append(v, fmt.Sprintf(`{"a":%d}`, i))
	}
	return v
}

// TestCancelInterruptsPushOnFullBuffer: the broker stops answering the sink's Produce requests and the
// sink's producer buffer ('properties.buffer.memory', 1 KiB here) fills up, so the sink's Push blocks in
// Produce — before the cancel comes. The cancel ends the job within the interrupt's grace (5 s), where it
// waited for 'properties.delivery.timeout.ms' (60 s here) before, whatever the delivery guarantee. A job
// restored from the last checkpoint once the broker answers again writes every row: at least once
// (duplicates allowed), exactly once for read_committed readers ('none' may lose rows: only the cancel is
// checked).
func TestCancelInterruptsPushOnFullBuffer(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once", "none"} {
		t.Run(guarantee, func(t *testing.T) {
			cluster, addr := startBroker(t)
			if err := cluster.CreateTopic("src", 1, nil); err != nil {
				t.Fatal(err)
			}
			sinkCluster, sinkAddr := startBroker(t) // the sink's broker, which stops answering
			if err := sinkCluster.CreateTopic("dst", 1, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			produceValues(ctx, t, addr, "src", intValues(1, 300))
			script := func(pre string) string {
				return pre + strings.NewReplacer("SINKADDR", sinkAddr, "ADDR", addr, "GUARANTEE", guarantee).Replace(`
SET 'execution.checkpointing.interval' = '2 s';
SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';
CREATE TABLE src (a INT) WITH ('connector' = 'kafka', 'topic' = 'src', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE dst (a INT) WITH ('connector' = 'kafka', 'topic' = 'dst', 'properties.bootstrap.servers' = 'SINKADDR',
  'format' = 'json', 'sink.delivery-guarantee' = 'GUARANTEE', 'sink.transactional-id-prefix' = 'fullbuf',
  'properties.buffer.memory' = '1024', 'properties.delivery.timeout.ms' = '60000');
INSERT INTO dst SELECT a FROM src;`)
			}
			var notice lockedWriter
			job := startJob(ctx, t, &notice, script(fmt.Sprintf("SET 'state.checkpoints.dir' = '%s';\n", t.TempDir())))
			defer job.Cancel()
			for job.LastCheckpoint().ID < 1 {
				if ctx.Err() != nil {
					t.Fatal("no checkpoint completed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Right after checkpoint 1 (the next one is 2 s later): the broker holds the sink's records, and
			// 2700 rows of ~9 bytes fill its 1 KiB buffer at once, so Push blocks before the next checkpoint.
			held, release := stallProduce(sinkCluster)
			defer release()
			produceValues(ctx, t, addr, "src", intValues(301, 3000))
			for waited := time.Now(); held.Load() == 0; {
				if time.Since(waited) > 30*time.Second {
					t.Fatal("no produce request reached the broker")
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // Push is blocked on the full buffer
			cp := job.LastCheckpoint()
			start := time.Now()
			job.Cancel()
			took := time.Since(start)
			if took > 20*time.Second {
				t.Fatalf("the cancel took %s with a Push blocked on the full buffer (the delivery timeout is 60 s); output:\n%s", took, notice.String())
			}
			if st := job.Status(); st != engine.JobCancelled {
				t.Fatalf("job is %s, want CANCELLED (%v)", st, job.Err())
			}
			t.Logf("cancel took %s (loaded machine); checkpoint %d; output:\n%s", took.Round(time.Millisecond), cp.ID, notice.String())
			release()
			if guarantee == "none" {
				return
			}
			if cp.Path == "" {
				t.Fatal("no retained checkpoint")
			}

			// Restored from the last checkpoint: every row, once for read_committed readers (exactly-once).
			var notice2 lockedWriter
			job2 := startJob(ctx, t, &notice2, script(fmt.Sprintf("SET 'state.checkpoints.dir' = '%s';\nSET 'execution.savepoint.path' = '%s';\n", t.TempDir(), cp.Path)))
			defer job2.Cancel()
			var got []int
			for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
				if got = readCommittedInts(t, sinkAddr, "dst", 1); hasAll(got, 3000) && (guarantee != "exactly-once" || len(got) == 3000) {
					break
				}
			}
			if !hasAll(got, 3000) || guarantee == "exactly-once" && len(got) != 3000 {
				t.Fatalf("after the restore read_committed sees %d rows (want each of 1..3000, once with exactly-once): %s; output:\n%s",
					len(got), countSummary(got, 3000), notice2.String())
			}
		})
	}
}

// hasAll reports whether sorted values got hold each of 1..n.
func hasAll(got []int, n int) bool {
	next := 1
	for _, v := range got {
		if v == next {
			next++
		}
	}
	return next == n+1
}

// countSummary names the duplicated and missing values of sorted values of 1..n.
func countSummary(got []int, n int) string {
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	var dup, missing []int
	for v := 1; v <= n; v++ {
		if seen[v] > 1 {
			dup = append(dup, v)
		}
		if seen[v] == 0 {
			missing = append(missing, v)
		}
	}
	return fmt.Sprintf("%d duplicated (e.g. %v), %d missing (e.g. %v)", len(dup), head(dup), len(missing), head(missing))
}

// TestFailureInterruptsStalledCommit: the job-failure path end to end. An exactly-once job's broker holds
// its commits (EndTxn) while the checkpoint goroutine commits a completed checkpoint; then a row makes
// another operator of the job fail (a division by zero in its projection). The job ends FAILED within the
// interrupt's grace (5 s) with that error as its reason, not the interrupted commit's, where it waited
// for 'properties.delivery.timeout.ms' (60 s here) for the commit and then for the abort. A restore from
// the checkpoint whose commit was interrupted commits it: the rows before the poison row are each visible
// once (read_committed).
func TestFailureInterruptsStalledCommit(t *testing.T) {
	cluster, addr := startBroker(t)
	for _, topic := range []string{"src", "dst"} {
		if err := cluster.CreateTopic(topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produceValues(ctx, t, addr, "src", intValues(1, 500))
	script := func(pre string) string {
		return pre + strings.ReplaceAll(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';
SET 'restart-strategy.type' = 'none';
CREATE TABLE src (a INT) WITH ('connector' = 'kafka', 'topic' = 'src', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE dst (a INT) WITH ('connector' = 'kafka', 'topic' = 'dst', 'properties.bootstrap.servers' = 'ADDR',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eofail',
  'properties.delivery.timeout.ms' = '60000');
INSERT INTO dst SELECT a * 1000 / (a - 1000) * 0 + a FROM src;`, "ADDR", addr)
	}
	var notice lockedWriter
	job := startJob(ctx, t, &notice, script(fmt.Sprintf("SET 'state.checkpoints.dir' = '%s';\n", t.TempDir())))
	defer job.Cancel()
	for job.LastCheckpoint().ID < 2 {
		if ctx.Err() != nil {
			t.Fatal("no checkpoint completed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var stalled atomic.Int32
	release := make(chan struct{})
	var released atomic.Bool
	defer func() {
		if !released.Swap(true) {
			close(release)
		}
	}()
	cluster.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if released.Load() {
			return nil, nil, false
		}
		stalled.Add(1)
		cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	produceValues(ctx, t, addr, "src", intValues(501, 999))
	for stalled.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no commit reached the broker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the commit is in flight
	cp := job.LastCheckpoint()
	start := time.Now()
	produceValues(ctx, t, addr, "src", intValues(1000, 1000)) // 1000 / (1000 - 1000)
	wctx, wcancel := context.WithTimeout(ctx, 40*time.Second)
	defer wcancel()
	err := job.Wait(wctx)
	took := time.Since(start)
	if wctx.Err() != nil || took > 20*time.Second {
		t.Fatalf("the job still ran %s after the failing row with the commit held (the delivery timeout is 60 s); output:\n%s", took, notice.String())
	}
	if st := job.Status(); st != engine.JobFailed {
		t.Fatalf("job is %s, want FAILED (%v)", st, err)
	}
	if err == nil || !strings.Contains(err.Error(), "by zero") || strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("the job failed with %v, want the division by zero as the reason; output:\n%s", err, notice.String())
	}
	t.Logf("failed %s after the failing row (loaded machine): %v; checkpoint %d", took.Round(time.Millisecond), err, cp.ID)
	released.Store(true)
	close(release)
	if cp.Path == "" {
		t.Fatal("no retained checkpoint")
	}

	// Restored from the checkpoint whose commit was interrupted: the restore commits it, the job reads the
	// rows after it again and fails again at the poison row, aborting their transaction. read_committed
	// sees each row up to the checkpoint's once.
	var notice2 lockedWriter
	job2 := startJob(ctx, t, &notice2, script(fmt.Sprintf("SET 'state.checkpoints.dir' = '%s';\nSET 'execution.savepoint.path' = '%s';\n", t.TempDir(), cp.Path)))
	defer job2.Cancel()
	if err := job2.Wait(ctx); err == nil || !strings.Contains(err.Error(), "by zero") {
		t.Fatalf("the restored job ended with %v, want the division by zero; output:\n%s", err, notice2.String())
	}
	got := readCommittedInts(t, addr, "dst", 1)
	if n := len(got); n < 500 || !equalInts(got, ints(1, n)) {
		t.Fatalf("after the restore read_committed sees %d rows, want 1..n once with n >= 500: %s; output:\n%s", n, countSummary(got, 999), notice2.String())
	}
	t.Logf("read_committed sees 1..%d once", len(got))
}
