package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/sql"
)

// produceBatchOrders writes 4000 orders (id, k, v) to topic bt_orders over 4 partitions and returns the
// tables reading it, bounded.
func produceBatchOrders(t *testing.T, addr string) string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 4000 {
		recs = append(recs, &kgo.Record{Topic: "bt_orders", Partition: int32(i % 4), Value: []byte(fmt.Sprintf(`{"id": %d, "k": %d, "v": %d}`, i, (i*31)%97, i%11))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
CREATE TABLE o (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bt_orders', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
`, addr)
}

// aggRows turns the JSON values {"k":..,"c":..,"s":..} of records into print rows "[k, c, s]", sorted.
func aggRows(t *testing.T, recs []*kgo.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var v struct{ K, C, S int64 }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("record value %q: %v", r.Value, err)
		}
		out = append(out, fmt.Sprintf("[%d, %d, %d]", v.K, v.C, v.S))
	}
	sort.Strings(out)
	return out
}

// sinkAttempts returns the attempts of a job's sink stage by "task/attempt" (tasks from 0).
func sinkAttempts(j *Job) map[string]StageAttempt {
	out := map[string]StageAttempt{}
	for _, a := range j.StageAttempts() {
		if strings.HasPrefix(a.Name, "Sink: ") {
			out[fmt.Sprintf("%d/%d", a.Task, a.Attempt)] = a
		}
	}
	return out
}

const kafkaAggQuery = "SELECT k, COUNT(*), SUM(v) FROM o GROUP BY k"

// A batch kafka sink runs as P tasks ('sink.parallelism' else the job's parallelism), each with a producer
// of its own: exactly-once (read_committed), at-least-once and the 'fixed' partitioner give at P=1 and P=3
// the streaming result. With 'fixed', task i writes partition i: each partition holds exactly the rows its
// task read.
func TestBatchSinkTasksKafka(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	lines, notice, _, err := stagedRun(t, tables+"CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print');\nINSERT INTO out_t "+kafkaAggQuery+";",
		map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"})
	if err != nil {
		t.Fatalf("streaming: %v\n%s", err, notice)
	}
	want := materializedPrint(t, lines)
	if len(want) != 97 {
		t.Fatalf("streaming: %d rows", len(want))
	}
	n := 0
	for _, tc := range []struct{ with string }{
		{"'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'bt-TOPIC'"},
		{"'sink.delivery-guarantee' = 'at-least-once'"},
		{"'sink.partitioner' = 'fixed'"},
		{"'sink.parallelism' = '2'"},
	} {
		for _, par := range []int{1, 3} {
			n++
			topic := fmt.Sprintf("bt_out_%d", n)
			script := tables + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s',
  'properties.bootstrap.servers' = '%s', 'format' = 'json', %s);
INSERT INTO out_t %s;`, topic, addr, strings.ReplaceAll(tc.with, "TOPIC", topic), kafkaAggQuery)
			_, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v\n%s", tc.with, par, err, notice)
			}
			recs := readCommitted(t, addr, topic)
			if got := aggRows(t, recs); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s at parallelism %d: %d rows differ from streaming:\n%.600s\nwant:\n%.600s", tc.with, par, len(got), got, want)
			}
			tasks := par
			if strings.Contains(tc.with, "sink.parallelism") {
				tasks = 2
			}
			if got := sinkStageTasks(t, job); got != tasks {
				t.Fatalf("%s at parallelism %d: %d sink tasks, want %d\n%s", tc.with, par, got, tasks, attemptsOf(job))
			}
			if strings.Contains(tc.with, "fixed") {
				perPart := map[int32]int64{}
				for _, r := range recs {
					perPart[r.Partition]++
				}
				at := sinkAttempts(job)
				for i := range par {
					if a := at[fmt.Sprintf("%d/1", i)]; a.RowsRead != perPart[int32(i)] || a.RowsRead == 0 {
						t.Fatalf("fixed at parallelism %d: task %d read %d rows, partition %d holds %d (%v)", par, i, a.RowsRead, i, perPart[int32(i)], perPart)
					}
				}
				if len(perPart) != par {
					t.Fatalf("fixed at parallelism %d: partitions written %v", par, perPart)
				}
			}
		}
	}
}

// An exactly-once kafka sink task that fails after writing all its rows runs again; the failed attempt's
// transaction is aborted, so read_committed readers see every row once. When every attempt of a task fails,
// the job fails and no row is committed, the other tasks' neither.
func TestBatchSinkKafkaTaskFailover(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	script := func(topic string) string {
		return tables + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = '%[1]s',
  'properties.bootstrap.servers' = '%[2]s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'bt-%[1]s');
INSERT INTO out_t %[3]s;`, topic, addr, kafkaAggQuery)
	}
	if _, notice, _, err := stagedRun(t, script("bt_ref"), map[string]string{"parallelism.default": "1"}); err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	want := aggRows(t, readCommitted(t, addr, "bt_ref"))
	if len(want) != 97 {
		t.Fatalf("%d rows at parallelism 1", len(want))
	}
	faults := 0
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.HasPrefix(st.name, "Sink: ") && task == 1 && attempt == 1 && end {
			faults++
			return errInjected
		}
		return nil
	})
	_, notice, job, err := stagedRun(t, script("bt_rerun"), map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("job failed: %v\n%s", err, notice)
	}
	got := aggRows(t, readCommitted(t, addr, "bt_rerun"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") || faults != 1 {
		t.Fatalf("%d rows (want %d), %d faults:\n%.600s\n%s", len(got), len(want), faults, got, attemptsOf(job))
	}
	at := sinkAttempts(job)
	var sum int64
	for task, attempts := range []int{1, 2, 1} {
		for a := 1; a <= 3; a++ {
			x, ok := at[fmt.Sprintf("%d/%d", task, a)]
			if ok != (a <= attempts) || ok && (x.Err != nil) != (a < attempts) {
				t.Fatalf("sink task %d attempt %d: %+v\n%s", task, a, x, attemptsOf(job))
			}
			if ok && x.Err == nil {
				sum += x.RowsRead
			}
		}
	}
	if f, r := at["1/1"], at["1/2"]; f.RowsRead != r.RowsRead || r.RowsRead == 0 || sum != int64(len(want)) {
		t.Fatalf("task 1 read %d rows then %d; the successful attempts %d, want %d\n%s", f.RowsRead, r.RowsRead, sum, len(want), attemptsOf(job))
	}
	if m := job.Metrics(); m.RowsOut != int64(len(want)) {
		t.Fatalf("rows out %d, want %d", m.RowsOut, len(want))
	}

	// Every attempt of task 1 fails: nothing is committed.
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if strings.HasPrefix(st.name, "Sink: ") && task == 1 && end {
			return errInjected
		}
		return nil
	})
	if _, notice, job, err := stagedRun(t, script("bt_failed"), map[string]string{"parallelism.default": "3"}); err == nil {
		t.Fatalf("the job succeeded\n%s\n%s", notice, attemptsOf(job))
	}
	if recs := readCommitted(t, addr, "bt_failed"); len(recs) > 0 {
		t.Fatalf("a failed job committed %d records", len(recs))
	}
}

// An upsert-kafka sink runs as P tasks, the rows hashed by the primary key in front of them: the topic's
// table at P=3 equals P=1's and the streaming job's.
func TestBatchSinkTasksUpsertKafka(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	script := func(topic string) string {
		return tables + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = '%s', 'properties.bootstrap.servers' = '%s', 'key.format' = 'json', 'value.format' = 'json');
INSERT INTO out_t SELECT k, COUNT(*), SUM(v) FROM o WHERE v < 9 GROUP BY k;`, topic, addr)
	}
	if _, notice, _, err := stagedRun(t, script("bt_up_stream"), map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"}); err != nil {
		t.Fatalf("streaming: %v\n%s", err, notice)
	}
	want := upsertTable(t, addr, "bt_up_stream")
	if len(want) != 97 {
		t.Fatalf("streaming: %d keys", len(want))
	}
	for _, par := range []int{1, 3} {
		topic := fmt.Sprintf("bt_up_%d", par)
		_, notice, job, err := stagedRun(t, script(topic), map[string]string{"parallelism.default": fmt.Sprint(par)})
		if err != nil {
			t.Fatalf("parallelism %d: %v\n%s", par, err, notice)
		}
		if got := upsertTable(t, addr, topic); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("parallelism %d: %d keys\n%.600v\nwant %.600v", par, len(got), got, want)
		}
		if n := sinkStageTasks(t, job); n != par {
			t.Fatalf("parallelism %d: %d sink tasks\n%s", par, n, attemptsOf(job))
		}
	}
}

// The rows of one key reach one upsert-kafka sink task, in their order: behind a one-task ORDER BY id (its
// rows dealt to 3 sink tasks), every key's last record is the row with its largest id. Dealt round-robin,
// the rows of a key would go through several producers and the last to arrive would be anyone's.
func TestBatchSinkTasksUpsertKafkaKeyOrder(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	script := tables + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, id BIGINT, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'bt_up_order', 'properties.bootstrap.servers' = '%s', 'key.format' = 'json', 'value.format' = 'json');
INSERT INTO out_t SELECT k, id, v FROM o ORDER BY id;`, addr)
	_, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": "3"})
	if err != nil {
		t.Fatalf("%v\n%s", err, notice)
	}
	if n := sinkStageTasks(t, job); n != 3 {
		t.Fatalf("%d sink tasks\n%s", n, attemptsOf(job))
	}
	last := map[int64]int64{}
	for i := range int64(4000) {
		last[(i*31)%97] = i
	}
	got := upsertTable(t, addr, "bt_up_order")
	if len(got) != len(last) {
		t.Fatalf("%d keys, want %d", len(got), len(last))
	}
	for _, val := range got {
		var v struct{ K, ID, V int64 }
		if err := json.Unmarshal([]byte(val), &v); err != nil {
			t.Fatalf("value %q: %v", val, err)
		}
		if v.ID != last[v.K] || v.V != v.ID%11 {
			t.Fatalf("key %d: last record %s, want id %d", v.K, val, last[v.K])
		}
	}
}

// A batch job cancelled while its exactly-once kafka sink tasks run commits nothing: two of three tasks
// wrote all their rows, the third cancels the job at its end; their transactions are aborted (as the
// pipelined sink aborts its open one), so read_committed readers see no record.
func TestBatchSinkKafkaCancelCommitsNothing(t *testing.T) {
	addr := exchangeBroker(t)
	script := produceBatchOrders(t, addr) + fmt.Sprintf(`CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'kafka', 'topic' = 'bt_cancel',
  'properties.bootstrap.servers' = '%s', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'bt-cancel');`, addr)
	var note bytes.Buffer
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: &note, Notice: &note, Options: map[string]string{
		"execution.runtime-mode": "batch", "parallelism.default": "3", "restart-strategy.fixed-delay.delay": "0 ms",
		"io.tmp.dirs": t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	execScript(t, s, script)
	jobs := make(chan *Job, 1)
	done := make(chan struct{}, 2)
	var ended atomic.Int64
	withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
		if !strings.HasPrefix(st.name, "Sink: ") || !end {
			return nil
		}
		if task < 2 {
			ended.Add(rows)
			done <- struct{}{}
			return nil
		}
		<-done
		<-done
		j := <-jobs
		j.cancel()
		return context.Canceled
	})
	st, err := sql.ParseStatement("INSERT INTO out_t " + kafkaAggQuery)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Execute(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	jobs <- res.Job
	_ = res.Job.Wait(ctx)
	if st := res.Job.Status(); st != JobCancelled {
		t.Fatalf("job %s\n%s", st, attemptsOf(res.Job))
	}
	if ended.Load() == 0 {
		t.Fatalf("tasks 1 and 2 wrote no rows\n%s", attemptsOf(res.Job))
	}
	if recs := readCommitted(t, addr, "bt_cancel"); len(recs) > 0 {
		t.Fatalf("a cancelled job committed %d records (its tasks 1 and 2 wrote %d rows)", len(recs), ended.Load())
	}
}

// A batch print sink runs as P tasks, each line prefixed with its task's number from 1 ('2> +I[...]', with
// an identifier 'id:2> +I[...]'), as Flink's print sink at parallelism above 1; one task prints no number.
// Each task prints the rows it read, and the rows equal the streaming result.
func TestBatchSinkTasksPrint(t *testing.T) {
	addr := exchangeBroker(t)
	tables := produceBatchOrders(t, addr)
	script := func(with string) string {
		return tables + "CREATE TABLE out_t (k BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'print'" + with + ");\nINSERT INTO out_t " + kafkaAggQuery + ";"
	}
	lines, notice, _, err := stagedRun(t, script(""), map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1"})
	if err != nil {
		t.Fatalf("streaming: %v\n%s", err, notice)
	}
	want := strings.Join(materializedPrint(t, lines), "\n")
	for _, tc := range []struct {
		par          int
		with, prefix string
		tasks        int
	}{
		{1, "", "", 1},
		{3, "", "", 3},
		{3, ", 'print-identifier' = 'id'", "id:", 3},
		{3, ", 'sink.parallelism' = '1', 'print-identifier' = 'id'", "id", 1},
		{1, ", 'sink.parallelism' = '2'", "", 2},
	} {
		lines, notice, job, err := stagedRunRaw(t, script(tc.with), map[string]string{"parallelism.default": fmt.Sprint(tc.par)})
		if err != nil {
			t.Fatalf("%d%s: %v\n%s", tc.par, tc.with, err, notice)
		}
		if n := sinkStageTasks(t, job); n != tc.tasks {
			t.Fatalf("%d%s: %d sink tasks\n%s", tc.par, tc.with, n, attemptsOf(job))
		}
		perTask := map[string]int64{}
		var rows []string
		for _, l := range lines {
			i := strings.Index(l, "> ")
			if tc.tasks == 1 && tc.prefix == "" {
				i = -2
			}
			if i < 0 && i != -2 || !strings.HasPrefix(l, tc.prefix) {
				t.Fatalf("%d%s: line %q", tc.par, tc.with, l)
			}
			perTask[l[:i+2]]++
			rows = append(rows, l[i+2:])
		}
		if got := strings.Join(materializedPrint(t, rows), "\n"); got != want {
			t.Fatalf("%d%s: rows differ from streaming:\n%.600s\nwant:\n%.600s", tc.par, tc.with, got, want)
		}
		at := sinkAttempts(job)
		for i := range tc.tasks {
			p := tc.prefix + fmt.Sprint(i+1) + "> "
			if tc.tasks == 1 {
				p = strings.TrimSuffix(tc.prefix, ":")
				if p != "" {
					p += "> "
				}
			}
			if a := at[fmt.Sprintf("%d/1", i)]; perTask[p] != a.RowsRead || a.RowsRead == 0 {
				t.Fatalf("%d%s: task %d read %d rows, printed %d (%v)", tc.par, tc.with, i, a.RowsRead, perTask[p], perTask)
			}
		}
	}
}

// A kafka source with a WATERMARK runs as P source tasks in batch mode (the planner drops watermark
// assigners in batch, so no split listener holds the source to one instance): event-time TUMBLE and HOP
// windows over it give at P=1 and P=3 the streaming result (whose windows fire on the final watermark).
func TestBatchTasksWatermarkSource(t *testing.T) {
	addr := exchangeBroker(t)
	tables := strings.Replace(produceBatchOrders(t, addr), "v BIGINT)",
		"v BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 1000, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)", 1)
	for _, q := range []struct{ sink, query string }{
		{"ws TIMESTAMP(3), k BIGINT, n BIGINT, s BIGINT", "SELECT window_start, MOD(k, 5), COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, MOD(k, 5)"},
		{"ws TIMESTAMP(3), n BIGINT, m BIGINT", "SELECT window_start, COUNT(*), MAX(v) FROM TABLE(HOP(TABLE o, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '15' MINUTE)) GROUP BY window_start, window_end"},
	} {
		script := tables + "CREATE TABLE out_t (" + q.sink + ") WITH ('connector' = 'print');\nINSERT INTO out_t " + q.query + ";"
		opts := map[string]string{"execution.runtime-mode": "streaming", "parallelism.default": "1", "table.local-time-zone": "UTC"}
		lines, notice, _, err := stagedRun(t, script, opts)
		if err != nil {
			t.Fatalf("streaming: %v\n%s", err, notice)
		}
		want := materializedPrint(t, lines)
		if len(want) < 10 {
			t.Fatalf("streaming: %d rows", len(want))
		}
		for _, par := range []int{1, 3} {
			lines, notice, job, err := stagedRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v\n%s", q.query, par, err, notice)
			}
			if got := materializedPrint(t, lines); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("%s at parallelism %d differs from streaming:\n%.800s\nwant:\n%.800s", q.query, par, got, want)
			}
			for _, a := range job.StageAttempts() {
				if strings.HasPrefix(a.Name, "Source: ") && (a.Tasks != par || a.RowsRead == 0) {
					t.Fatalf("%s at parallelism %d: source attempt %+v\n%s", q.query, par, a, attemptsOf(job))
				}
			}
		}
	}
}
