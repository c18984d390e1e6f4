package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
)

// produceSpread writes n records {"id":i}, record i to partition i % parts.
func produceSpread(ctx context.Context, t *testing.T, addr, topic string, n, parts int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % parts), Value: []byte(fmt.Sprintf(`{"id":%d}`, i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// Each source subtask reads exactly the partitions Flink's KafkaSourceEnumerator gives it, and together
// they read every record once.
func TestSourceSubtasksOwnPartitions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newHarness(t)
	h.cluster.Close()
	c, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	h.cluster, h.addr = c, addr
	produceSpread(ctx, t, addr, "ev", 400, 4)
	tbl := h.mustTable(t, "ev", "id BIGINT, p INT METADATA FROM 'partition' VIRTUAL\ntopic=ev\nproperties.bootstrap.servers=$BROKER\nformat=json\n"+
		"scan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset\nscan.parallelism=2")
	var stderr bytes.Buffer
	src, err := h.createSource(tbl, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	ps, ok := src.(connectors.ParallelSource)
	if !ok {
		t.Fatalf("the kafka source %T does not run as subtasks", src)
	}
	if n := ps.Subtasks(1); n != 2 {
		t.Fatalf("Subtasks(1) = %d, want 2 ('scan.parallelism')", n)
	}
	seen := map[int64]bool{}
	for i := range 2 {
		var col collector
		if err := ps.RunSubtask(ctx, &col, i, 2); err != nil {
			t.Fatal(err)
		}
		for _, r := range col.rows {
			id, p := r.Vals[0].Int(), r.Vals[1].Int()
			if want := kafka.SplitOwner("ev", int32(p), 2); want != i {
				t.Fatalf("subtask %d read partition %d, which subtask %d owns", i, p, want)
			}
			if id%4 != p {
				t.Fatalf("row %d came from partition %d", id, p)
			}
			if seen[id] {
				t.Fatalf("row %d read twice", id)
			}
			seen[id] = true
		}
		if len(col.rows) != 200 {
			t.Errorf("subtask %d read %d rows, want 200 (two of the four partitions)", i, len(col.rows))
		}
	}
	if len(seen) != 400 {
		t.Errorf("the subtasks read %d distinct rows, want 400", len(seen))
	}
}

// Flink's assignment: startIndex = ((topic.hashCode() * 31) & 0x7FFFFFFF) % n, then + partition.
func TestSplitOwnerIsFlinks(t *testing.T) {
	if h := kafka.JavaStringHash("hello"); h != 99162322 {
		t.Errorf(`"hello".hashCode() = %d, want 99162322`, h)
	}
	if h := kafka.JavaStringHash("polygenelubricants"); h != -2147483648 {
		t.Errorf(`"polygenelubricants".hashCode() = %d, want Integer.MIN_VALUE`, h) // a well-known overflow
	}
	// "ev": hashCode 3249; 3249*31 = 100719, % 2 = 1: partition 0 goes to subtask 1.
	got := []int{kafka.SplitOwner("ev", 0, 2), kafka.SplitOwner("ev", 1, 2), kafka.SplitOwner("ev", 2, 2), kafka.SplitOwner("ev", 3, 2)}
	if fmt.Sprint(got) != "[1 0 1 0]" {
		t.Errorf("owners of ev-0..3 among 2 = %v, want [1 0 1 0]", got)
	}
	// 100719 % 3 = 0.
	got = []int{kafka.SplitOwner("ev", 0, 3), kafka.SplitOwner("ev", 1, 3), kafka.SplitOwner("ev", 2, 3), kafka.SplitOwner("ev", 3, 3)}
	if fmt.Sprint(got) != "[0 1 2 0]" {
		t.Errorf("owners of ev-0..3 among 3 = %v, want [0 1 2 0]", got)
	}
}

// A job reading a 4-partition topic with 'scan.parallelism' 1, 2, 3 and 8 (more subtasks than partitions:
// the idle ones end at once) gives the same rows, through a chained filter and a keyed aggregate.
func TestSourceSubtasksSameRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	produceSpread(ctx, t, addr, "ev", 1000, 4)
	script := `CREATE TABLE ev (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json', 'scan.parallelism' = 'PAR');
CREATE TABLE out (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'print');
CREATE TABLE rows_out (id BIGINT, d BIGINT) WITH ('connector' = 'print');
EXECUTE STATEMENT SET BEGIN
INSERT INTO out SELECT id % 7, COUNT(*), SUM(id) FROM ev WHERE id % 3 <> 0 GROUP BY id % 7;
INSERT INTO rows_out SELECT id, id * 2 FROM ev WHERE id % 5 = 0;
END;`
	var want string
	for _, par := range []string{"1", "2", "3", "8"} {
		var out lockedWriter
		job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "PAR", par).Replace(script))
		if err := job.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := job.Metrics().RowsIn; got != 2000 && got != 1000 {
			t.Errorf("parallelism %s: the job read %d rows", par, got)
		}
		got := finalRows(out.String())
		if n := job.SourceSubtasks()["ev"]; par != "1" && n != atoi(par) {
			t.Errorf("parallelism %s: the source ran as %d subtasks", par, n)
		}
		if par == "1" {
			want = got
			if !strings.Contains(got, "+I[995, 1990]") || len(strings.Split(strings.TrimSpace(got), "\n")) != 207 {
				t.Fatalf("unexpected result at parallelism 1:\n%s", got)
			}
			continue
		}
		if got != want {
			t.Errorf("parallelism %s differs from parallelism 1:\n%s\nwant:\n%s", par, got, want)
		}
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// kafka → filter → kafka with the source as 3 subtasks that filter and encode outside the graph lock, in an
// exactly-once job with checkpoints: the read_committed output has every expected row once.
func TestSourceSubtasksEncodeForSink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	produceSpread(ctx, t, addr, "ev", 2000, 4)
	script := `SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE ev (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'ev', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json', 'scan.parallelism' = '3');
CREATE TABLE out (a BIGINT) WITH ('connector' = 'kafka', 'topic' = 'enc', 'properties.bootstrap.servers' = 'ADDR',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'enc');
INSERT INTO out SELECT id FROM ev WHERE id % 3 <> 0;`
	var out lockedWriter
	job := startJob(ctx, t, &out, strings.ReplaceAll(script, "ADDR", addr))
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := job.SourceSubtasks()["ev"]; n != 3 {
		t.Fatalf("the source ran as %d subtasks, want 3", n)
	}
	if got := job.Metrics().RowsOut; got != 1333 {
		t.Errorf("rows out = %d, want 1333", got)
	}
	got := readCommittedInts(t, addr, "enc", 4)
	var want []int
	for i := range 2000 {
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	if !equalInts(got, want) {
		t.Errorf("read %d committed rows, want %d (1..1999 without the multiples of 3)", len(got), len(want))
	}
}
