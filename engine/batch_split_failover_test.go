package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A fault in one task of a split source stage (datagen: its own row ranges) restarts that task alone, from
// the start of its own splits: the other task runs once, the failed task reads its 10000 rows again, and the
// result equals a fault-free run.
func TestBatchSplitSourceFailover(t *testing.T) {
	want, _, _, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && rows > 0 && !end {
			return errInjected // after its first batch
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, aggScript, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1")
	}
	at := taskAttempts(job)
	if a := at["1/1/1"]; !errors.Is(a.Err, errInjected) || a.Tasks != 2 {
		t.Fatalf("source task 1 attempt 1: %+v\n%s", a, attemptsOf(job))
	}
	for _, k := range []string{"1/0/1", "1/1/2"} {
		if a, ok := at[k]; !ok || a.Err != nil || a.RowsRead != 10000 {
			t.Fatalf("want a successful attempt %s reading 10000 rows:\n%s", k, attemptsOf(job))
		}
	}
	if _, ok := at["1/0/2"]; ok || len(at) != 3+2+2 { // the print sink: 2 tasks
		t.Fatalf("want 7 attempts (source task 1 twice, the others once):\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "stage 1 (Source: src -> Calc) task 2/2 failed: source src: injected fault") ||
		!strings.Contains(notice, "Restarting stage 1 task 2/2 alone, from the start of its own splits") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// A filesystem source task that fails after reading its files runs again alone while the other task is
// still reading its first file (held in its first batch until the rerun ended): the rerun reads again the
// files the failed attempt read, which the enumerator hands out again, and the other task's progress is
// kept (it never runs again, and does not fail with the failed one). Task 1 waits in its first batch for
// task 0's first batch, so that each is handed a file before the other asks again.
func TestBatchSplitSourceFailoverFiles(t *testing.T) {
	tables := batchTaskTables(t)
	script := tables + `CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*), SUM(id) FROM f GROUP BY k;`
	want, _, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 41 {
		t.Fatalf("want 41 rows, got %d", len(want))
	}
	started, rerun := make(chan struct{}), make(chan struct{})
	var startOnce sync.Once
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id != 1 {
			return nil
		}
		switch {
		case task == 0 && attempt == 1 && rows > 0 && !end:
			startOnce.Do(func() { close(started) })
			select { // the first batch of task 0: wait inside its source for task 1's rerun
			case <-rerun:
			case <-time.After(10 * time.Second):
				return errors.New("task 1 did not run again while task 0 was reading")
			}
		case task == 1 && attempt == 1 && rows > 0 && !end:
			select { // task 1's first batch: task 0 has a file of its own too
			case <-started:
			case <-time.After(10 * time.Second):
				return errors.New("task 0 did not start reading")
			}
		case task == 1 && attempt == 1 && end:
			return errInjected
		case task == 1 && attempt == 2 && end:
			close(rerun)
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	at := taskAttempts(job)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s\n%s", strings.Join(got, "\n"), attemptsOf(job))
	}
	a, b, c := at["1/1/1"], at["1/1/2"], at["1/0/1"]
	if !errors.Is(a.Err, errInjected) || b.Err != nil || b.RowsRead != a.RowsRead || a.RowsRead == 0 || c.Err != nil ||
		c.RowsRead == 0 || c.RowsRead+b.RowsRead != 3000 {
		t.Fatalf("source task 1 read %d then %d rows, task 0 %d (want 3000 together, once, each some):\n%s", a.RowsRead, b.RowsRead, c.RowsRead, attemptsOf(job))
	}
	if _, ok := at["1/0/2"]; ok {
		t.Fatalf("source task 0 ran again:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 1 task 2/2 alone, from the start of its own splits") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The same over a 4-partition Kafka topic read as 2 tasks: task 1 fails after its first batch and reads its
// partitions again alone.
func TestBatchSplitSourceFailoverKafka(t *testing.T) {
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 4000 {
		recs = append(recs, &kgo.Record{Topic: "bsf_orders", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "k": %d}`, i, (i*31)%97))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`
CREATE TABLE o (id BIGINT, k BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bsf_orders', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT k, COUNT(*), SUM(id) FROM o GROUP BY k;`, addr)
	want, _, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 97 {
		t.Fatalf("want 97 rows, got %d", len(want))
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && rows > 0 && !end {
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	if a, b, c := at["1/1/1"], at["1/1/2"], at["1/0/1"]; !errors.Is(a.Err, errInjected) || b.Err != nil || c.Err != nil ||
		b.RowsRead+c.RowsRead != 4000 || b.RowsRead != 2000 {
		t.Fatalf("source attempts (want task 1 to read its 2 partitions, 2000 rows, again):\n%s", attemptsOf(job))
	}
	if _, ok := at["1/0/2"]; ok || !strings.Contains(notice, "Restarting stage 1 task 2/2 alone") {
		t.Fatalf("source task 0 ran again, or notice:\n%s\n%s", attemptsOf(job), notice)
	}
}

// A source without connectors.SubtaskRestarter (nexmark) keeps the stage restart: a fault in one of its
// tasks runs the stage's tasks again together, the source read again from its start.
func TestBatchSplitSourceFailoverShared(t *testing.T) {
	script := `CREATE TABLE nx (event_type INT,
  person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, dateTime TIMESTAMP(3), extra STRING>,
  auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>,
  bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>) WITH ('connector' = 'nexmark', 'events.num' = '30000',
  'num-event-generators' = '4', 'seed' = '7', 'base-time' = '1436918400000');
CREATE TABLE out_t (e INT, c BIGINT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT event_type, COUNT(*) FROM nx GROUP BY event_type;`
	want, notice, _, err := stagedRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil || len(want) != 3 {
		t.Fatalf("%v %q\n%s", err, want, notice)
	}
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if st.id == 1 && task == 1 && attempt == 1 && end {
			return errInjected
		}
		return nil
	})
	got, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "2"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the result differs from the fault-free run at parallelism 1:\n%s", attemptsOf(job))
	}
	at := taskAttempts(job)
	a, b := at["1/0/2"], at["1/1/2"]
	if !errors.Is(at["1/1/1"].Err, errInjected) || a.Err != nil || b.Err != nil || a.RowsRead+b.RowsRead != 30000 {
		t.Fatalf("want both source tasks to run again (30000 rows):\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "Restarting stage 1 with its 2 tasks") {
		t.Fatalf("notice:\n%s", notice)
	}
}
