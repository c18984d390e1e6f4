package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/engine"
)

// TestExactlyOnceCancelInterruptsStalledCommit: an exactly-once job's broker stops answering its commits
// (EndTxn requests are held) while the checkpoint goroutine commits a completed checkpoint. A cancel ends
// the job within the interrupt's grace (5 s), not after 'properties.delivery.timeout.ms' (here 60 s), which
// the cancel waited for before (the commit in flight, then End's commits). The checkpoint whose commit was
// interrupted is retained; a job restored from it once the broker answers again writes every input row
// exactly once (read_committed): the interrupted transaction is committed by the restore, the rows after it
// (never committed, End did not start their commit) are aborted and written again.
func TestExactlyOnceCancelInterruptsStalledCommit(t *testing.T) {
	cluster, addr := startBroker(t)
	for _, topic := range []string{"src", "dst"} {
		if err := cluster.CreateTopic(topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vals := func(from, to int) []string {
		var v []string
		for i := from; i <= to; i++ {
			v = append(v, fmt.Sprintf(`{"a":%d}`, i))
		}
		return v
	}
	produceValues(ctx, t, addr, "src", vals(1, 500))
	script := func(pre string) string {
		return pre + strings.ReplaceAll(`
SET 'execution.checkpointing.interval' = '100 ms';
SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';
CREATE TABLE src (a INT) WITH ('connector' = 'kafka', 'topic' = 'src', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE dst (a INT) WITH ('connector' = 'kafka', 'topic' = 'dst', 'properties.bootstrap.servers' = 'ADDR',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eoint',
  'properties.delivery.timeout.ms' = '60000');
INSERT INTO dst SELECT a FROM src;`, "ADDR", addr)
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
	// From now on the broker holds every commit (EndTxn) until release: it does not answer them.
	var stalling atomic.Bool
	var stalled atomic.Int32
	release := make(chan struct{})
	stalling.Store(true)
	cluster.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !stalling.Load() || !kr.(*kmsg.EndTxnRequest).Commit {
			return nil, nil, false
		}
		stalled.Add(1)
		cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	produceValues(ctx, t, addr, "src", vals(501, 1000))
	for stalled.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no commit reached the broker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the commit is in flight; rows after its checkpoint are in a new transaction
	cp := job.LastCheckpoint()         // the checkpoint whose commit is held (completed before its commit)
	start := time.Now()
	job.Cancel()
	took := time.Since(start)
	if took > 20*time.Second {
		t.Fatalf("the cancel took %s with the commit held (the delivery timeout is 60 s); output:\n%s", took, notice.String())
	}
	if st := job.Status(); st != engine.JobCancelled {
		t.Fatalf("job is %s, want CANCELLED", st)
	}
	t.Logf("cancel took %s (loaded machine); checkpoint %d at %s; output:\n%s", took.Round(time.Millisecond), cp.ID, cp.Path, notice.String())
	if cp.Path == "" {
		t.Fatal("no retained checkpoint")
	}
	stalling.Store(false)
	close(release)

	// Restored from the checkpoint whose commit was interrupted: every row once.
	var notice2 lockedWriter
	job2 := startJob(ctx, t, &notice2, script(fmt.Sprintf("SET 'state.checkpoints.dir' = '%s';\nSET 'execution.savepoint.path' = '%s';\n", t.TempDir(), cp.Path)))
	defer job2.Cancel()
	want := ints(1, 1000)
	var got []int
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if got = readCommittedInts(t, addr, "dst", 1); len(got) >= len(want) {
			break
		}
	}
	if !equalInts(got, want) {
		t.Fatalf("after the restore read_committed sees %d rows (want each of 1..1000 once): %s; output:\n%s", len(got), dupSummary(got), notice2.String())
	}
}

// dupSummary names the duplicated and missing values of sorted values of 1..n.
func dupSummary(got []int) string {
	seen := map[int]int{}
	for _, v := range got {
		seen[v]++
	}
	var dup, missing []int
	for v, n := range seen {
		if n > 1 {
			dup = append(dup, v)
		}
	}
	for v := 1; v <= 1000; v++ {
		if seen[v] == 0 {
			missing = append(missing, v)
		}
	}
	return fmt.Sprintf("%d duplicated (e.g. %v), %d missing (e.g. %v)", len(dup), head(dup), len(missing), head(missing))
}

func head(v []int) []int { return v[:min(len(v), 5)] }
