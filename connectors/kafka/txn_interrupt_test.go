package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connectors"
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

// TestExactlyOnceInterruptBoundsCommitAndAbort: the connector's side of a failed job. The broker holds
// every EndTxn (commits and aborts) while Commit(1) runs; after Interrupt (the engine's, at the failure)
// Commit returns within the grace saying the restore commits the transaction, and Abort (the open
// transaction's abort) does not wait for the broker either. Restoring checkpoint 1 once the broker answers
// commits its rows; the aborted ones are not visible. Without the interrupt each waited up to
// 'properties.delivery.timeout.ms' (60 s here).
func TestExactlyOnceInterruptBoundsCommitAndAbort(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eoi", 1, nil); err != nil {
		t.Fatal(err)
	}
	h.session["execution.checkpointing.interval"] = "1 s"
	tbl := h.mustTable(t, "out", "a INT\ntopic=eoi\nproperties.bootstrap.servers=$BROKER\nformat=json\n"+
		"sink.delivery-guarantee=exactly-once\nsink.transactional-id-prefix=jobi\nproperties.delivery.timeout.ms=60000")
	s := h.openSink(t, tbl)
	s.restore(t, nil, 0)
	pushInts(t, s.out, 1, 10)
	st1 := s.preCommit(t, 1)
	release := make(chan struct{})
	var held atomic.Int32
	h.cluster.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		h.cluster.KeepControl()
		select {
		case <-release:
			return nil, nil, false
		default:
		}
		held.Add(1)
		h.cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	committed := make(chan error, 1)
	go func() { committed <- s.cs.Commit(context.Background(), 1) }()
	for held.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	pushInts(t, s.out, 11, 20) // the open transaction that Abort aborts
	start := time.Now()
	s.out.(interface{ Interrupt() }).Interrupt()
	select {
	case err := <-committed:
		if err == nil || !strings.Contains(err.Error(), "interrupted: the job was cancelled or failed and the brokers at") ||
			!strings.Contains(err.Error(), "a restore from checkpoint 1 commits it") {
			t.Fatalf("Commit after the interrupt: %v, want the interrupted commit's error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Commit still waits for the broker 15 s after the interrupt")
	}
	if !within(5*time.Second, func() { _ = s.out.(connectors.Aborter).Abort() }) {
		t.Fatal("Abort waits for the broker after the interrupt")
	}
	t.Logf("commit and abort ended %s after the interrupt (loaded machine)", time.Since(start).Round(time.Millisecond))
	close(release)

	s2 := h.openSink(t, tbl)
	s2.restore(t, st1, 1)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eoi", 1), ints(1, 10); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// within runs f and reports whether it returned within d (f keeps running otherwise).
func within(d time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
