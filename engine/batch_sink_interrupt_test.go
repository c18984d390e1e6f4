package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/sql"
)

// silentSinkBroker starts a broker for a sink that stops answering Produce requests once stall is called,
// until release; held counts the requests held so far.
func silentSinkBroker(t *testing.T) (addr string, stall func(), held *atomic.Int32, release func()) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	stall, held, release = stallRequests(t, c, kmsg.Produce, nil)
	return c.ListenAddrs()[0], stall, held, release
}

// stallRequests makes c hold its requests of key for which silent holds (every one when silent is nil) once
// stall is called, until release (at the latest when the test ends); held counts the requests held so far.
func stallRequests(t *testing.T, c *kfake.Cluster, key kmsg.Key, silent func(kmsg.Request) bool) (stall func(), held *atomic.Int32, release func()) {
	held = new(atomic.Int32)
	var stalling, released atomic.Bool
	ch := make(chan struct{})
	c.ControlKey(int16(key), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if stalling.Load() && !released.Load() && (silent == nil || silent(kr)) {
			held.Add(1)
			c.SleepControl(func() { <-ch })
		}
		return nil, nil, false
	})
	release = func() {
		if !released.Swap(true) {
			close(ch)
		}
	}
	t.Cleanup(release)
	return func() { stalling.Store(true) }, held, release
}

// TestBatchSinkKafkaCancelInterrupted: a staged batch job's kafka sink writes to a broker that stops
// answering Produce requests; the producers' 1 KiB buffers ('properties.buffer.memory') fill, so the sink
// tasks' Pushes block, and a cancelled job's End flushes (at least once) or Abort's aborts (exactly-once)
// would wait too. A cancel ends the job CANCELLED within the interrupt's grace (5 s), where it waited for
// 'properties.delivery.timeout.ms' (60 s here) before, with one sink task (the sink opened by the attempt)
// and with three (a producer per task, connectors/kafka/sink_tasks.go). Exactly-once commits nothing.
func TestBatchSinkKafkaCancelInterrupted(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		for _, p := range []string{"1", "3"} {
			t.Run(guarantee+"/P="+p, func(t *testing.T) {
				sinkAddr, stall, held, release := silentSinkBroker(t)
				var note bytes.Buffer
				s, err := NewSession(Config{Stdout: io.Discard, Stderr: &note, Notice: &note, Options: map[string]string{
					"execution.runtime-mode": "batch", "parallelism.default": p, "restart-strategy.fixed-delay.delay": "0 ms",
					"io.tmp.dirs": t.TempDir()}})
				if err != nil {
					t.Fatal(err)
				}
				execScript(t, s, tables+fmt.Sprintf(`CREATE TABLE out_t (id BIGINT, k BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bt_silent',
  'properties.bootstrap.servers' = '%s', 'format' = 'json', 'sink.delivery-guarantee' = '%s',
  'sink.transactional-id-prefix' = 'bt-silent', 'properties.buffer.memory' = '1024', 'properties.delivery.timeout.ms' = '60000');`, sinkAddr, guarantee))
				st, err := sql.ParseStatement("INSERT INTO out_t SELECT id, k, SUM(v) FROM o GROUP BY id, k")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				stall()
				res, err := s.Execute(ctx, st)
				if err != nil {
					t.Fatal(err)
				}
				job := res.Job
				for waited := time.Now(); held.Load() == 0; time.Sleep(10 * time.Millisecond) {
					if time.Since(waited) > 30*time.Second {
						t.Fatalf("no produce request reached the broker (job %s)\n%s", job.Status(), note.String())
					}
				}
				time.Sleep(500 * time.Millisecond) // the sink tasks' Pushes block on their full buffers
				start := time.Now()
				job.Cancel()
				took := time.Since(start)
				if took > 20*time.Second {
					t.Fatalf("the cancel took %s with the broker silent (the delivery timeout is 60 s)\n%s\n%s", took, note.String(), attemptsOf(job))
				}
				if st := job.Status(); st != JobCancelled {
					t.Fatalf("job %s (%v), want CANCELLED\n%s", st, job.Err(), attemptsOf(job))
				}
				t.Logf("cancel took %s (loaded machine)", took.Round(time.Millisecond))
				release()
				if guarantee == "exactly-once" {
					if recs := readCommitted(t, sinkAddr, "bt_silent"); len(recs) > 0 {
						t.Fatalf("a cancelled job committed %d records", len(recs))
					}
				}
				if strings.Contains(note.String(), "panic") {
					t.Fatalf("output:\n%s", note.String())
				}
			})
		}
	}
}

// TestBatchSinkKafkaCancelDuringCommit: an exactly-once batch sink stage of three tasks has flushed its
// transactions and recorded its commit intent when the broker stops answering the commits (EndTxn). A
// cancel ends the job CANCELLED within the interrupt's grace (5 s), where each commit waited for
// 'properties.delivery.timeout.ms' (60 s here) before. The intent stays: the next run of the statement,
// once the broker answers, rolls the commits forward and writes nothing itself, so read_committed readers
// see the result once.
func TestBatchSinkKafkaCancelDuringCommit(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sinkAddr := c.ListenAddrs()[0]
	var held atomic.Int32
	var released atomic.Bool
	ch := make(chan struct{})
	release := func() {
		if !released.Swap(true) {
			close(ch)
		}
	}
	defer release()
	c.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if kr.(*kmsg.EndTxnRequest).Commit && !released.Load() {
			held.Add(1)
			c.SleepControl(func() { <-ch })
		}
		return nil, nil, false
	})
	tmp := t.TempDir()
	opts := map[string]string{"execution.runtime-mode": "batch", "parallelism.default": "3",
		"restart-strategy.fixed-delay.delay": "0 ms", "io.tmp.dirs": tmp}
	script := tables + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bt_commit',
  'properties.bootstrap.servers' = '%s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'bt-commit', 'properties.delivery.timeout.ms' = '60000');
`, sinkAddr)
	var note bytes.Buffer
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: &note, Notice: &note, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	execScript(t, s, script)
	st, err := sql.ParseStatement("INSERT INTO out_t " + kafkaAggQuery)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.Execute(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	job := res.Job
	for waited := time.Now(); held.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Since(waited) > 30*time.Second {
			t.Fatalf("no commit reached the broker (job %s)\n%s\n%s", job.Status(), note.String(), attemptsOf(job))
		}
	}
	time.Sleep(300 * time.Millisecond) // the stage's End waits for the first commit
	start := time.Now()
	job.Cancel()
	took := time.Since(start)
	if took > 20*time.Second {
		t.Fatalf("the cancel took %s with the commits held (the delivery timeout is 60 s)\n%s", took, note.String())
	}
	if st := job.Status(); st != JobCancelled {
		t.Fatalf("job %s (%v), want CANCELLED\n%s", st, job.Err(), attemptsOf(job))
	}
	t.Logf("cancel took %s (loaded machine)", took.Round(time.Millisecond))
	release()

	// The next run completes the cancelled one's commit and writes nothing itself.
	if _, notice, job2, err := stagedRun(t, script+"INSERT INTO out_t "+kafkaAggQuery+";", opts); err != nil {
		t.Fatalf("the next run failed: %v\n%s\n%s", err, notice, attemptsOf(job2))
	}
	got := aggRows(t, readCommitted(t, sinkAddr, "bt_commit"))
	keys := map[string]bool{}
	var total int64
	for _, r := range got {
		var k, cnt, sum int64
		if _, err := fmt.Sscanf(r, "[%d, %d, %d]", &k, &cnt, &sum); err != nil {
			t.Fatal(err)
		}
		keys[fmt.Sprint(k)] = true
		total += cnt
	}
	if len(got) != 97 || len(keys) != 97 || total != 4000 {
		t.Fatalf("read_committed sees %d rows of %d keys counting %d orders, want each of the 97 keys once counting 4000:\n%.800s",
			len(got), len(keys), total, strings.Join(got, "\n"))
	}
}
