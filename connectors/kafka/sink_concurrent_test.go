package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// seqRecord is a record of the tests' input and output topics: a key and its sequence number (n: the count
// of an upsert-kafka aggregate).
type seqRecord struct {
	K   string `json:"k"`
	Seq int64  `json:"seq"`
	N   int64  `json:"n"`
}

// produceSeqs writes keys×seqs records {"k":"kNN","seq":s}, key i to partition i % 4, each key's records in
// seq order, the keys interleaved.
func produceSeqs(ctx context.Context, t *testing.T, addr, topic string, keys, seqs int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for s := range seqs {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(k % 4), Value: fmt.Appendf(nil, `{"k":"k%02d","seq":%d}`, k, s)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readCommittedSeqs reads topic (4 partitions) with isolation read_committed up to end markers that it
// writes first, and returns each key's records in the order of their partition, failing when one key's
// records are in two partitions.
func readCommittedSeqs(t *testing.T, addr, topic string) map[string][]seqRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	marker := map[int32]int64{}
	for p := range int32(4) {
		r, err := pr.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte("~"), Value: []byte(`{"k":"~"}`)}).First()
		if err != nil {
			t.Fatal(err)
		}
		marker[p] = r.Offset
	}
	pr.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]seqRecord{}
	part := map[string]int32{}
	for ends := 0; ends < 4; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed consumer of %s did not reach the end markers (a transaction is still open?)", topic)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset == marker[r.Partition] {
				ends++
				return
			}
			if r.Offset > marker[r.Partition] {
				return
			}
			k := string(r.Key)
			if p, ok := part[k]; ok && p != r.Partition {
				t.Fatalf("%s: key %s in partitions %d and %d", topic, k, p, r.Partition)
			}
			part[k] = r.Partition
			var v seqRecord
			if r.Value != nil {
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("%s: record %s: %v", topic, r.Value, err)
				}
			} else {
				v.N = -1 // a tombstone
			}
			out[k] = append(out[k], v)
		})
	}
	return out
}

// kafka → filter → kafka, and a join on the key into kafka, at parallelism 1, 2 and 4 for each delivery
// guarantee, with checkpoints: at 2 and 4 the source subtasks (filter) or the keyed subtasks (join) write the
// sink themselves (one writer each), and every key's records are all in the output, once, in their input
// order (a lost, doubled or reordered record of any subtask fails the test).
func TestConcurrentSinkWritersKeepEveryKeysOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	const keys, seqs = 40, 150
	produceSeqs(ctx, t, addr, "seqs", keys, seqs)
	queries := []struct {
		name, insert string
		keep         func(seq int64) bool
		sorted       bool // compare a key's seqs sorted: the rows of a key come from several subtasks
	}{
		{"filter", `INSERT INTO dst SELECT k, seq FROM src WHERE seq % 7 <> 3;`, func(s int64) bool { return s%7 != 3 }, false},
		// keyed by (k, seq): each joined row once, whichever keyed subtask wrote it
		{"join", `SET 'table.optimizer.reuse-source-enabled' = 'false';
INSERT INTO dst SELECT a.k, a.seq FROM src a JOIN (SELECT k, seq FROM src WHERE seq % 5 = 0) b ON a.k = b.k AND a.seq = b.seq;`,
			func(s int64) bool { return s%5 == 0 }, true},
	}
	for _, q := range queries {
		var want []int64
		for s := range int64(seqs) {
			if q.keep(s) {
				want = append(want, s)
			}
		}
		for _, g := range []string{"none", "at-least-once", "exactly-once"} {
			for _, par := range []int{1, 2, 4} {
				concurrentSinkJob(ctx, t, addr, q.name, q.insert, g, par, keys, want, q.sorted)
			}
		}
	}
}

// concurrentSinkJob runs insert (into dst) with guarantee g at parallelism par and checks that every key of
// dst has the seqs want, in that order unless sorted.
func concurrentSinkJob(ctx context.Context, t *testing.T, addr, name, insert, g string, par, keys int, want []int64, sorted bool) {
	t.Helper()
	topic := fmt.Sprintf("out-%s-%s-%d", name, g, par)
	script := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '30 ms';
SET 'parallelism.default' = '%d';
CREATE TABLE src (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = 'seqs', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE dst (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
  'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'k', 'sink.delivery-guarantee' = '%s', 'sink.transactional-id-prefix' = '%s');
%s`, par, addr, topic, addr, g, topic, insert)
	w0 := kafka.SinkWritersOpened()
	var out lockedWriter
	job := startJob(ctx, t, &out, script)
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("%s, %s at parallelism %d: %v\n%s", name, g, par, err, out.String())
	}
	if w, exp := kafka.SinkWritersOpened()-w0, int64(par); par > 1 && w != exp || par == 1 && w != 0 {
		t.Fatalf("%s, %s at parallelism %d: %d sink writers opened, want %d", name, g, par, w, exp)
	}
	if n := job.Metrics().RowsOut; n != int64(keys*len(want)) {
		t.Errorf("%s, %s at parallelism %d: rows out %d, want %d", name, g, par, n, keys*len(want))
	}
	got := readCommittedSeqs(t, addr, topic)
	if len(got) != keys {
		t.Fatalf("%s, %s at parallelism %d: %d keys in %s, want %d", name, g, par, len(got), topic, keys)
	}
	for k, recs := range got {
		seq := make([]int64, len(recs))
		for i, r := range recs {
			seq[i] = r.Seq
		}
		if sorted {
			slices.Sort(seq)
		}
		if fmt.Sprint(seq) != fmt.Sprint(want) {
			t.Fatalf("%s, %s at parallelism %d: key %s has seqs %v, want %v", name, g, par, k, seq, want)
		}
	}
}

// GROUP BY → upsert-kafka at parallelism 1, 2 and 4: at 2 and 4 the keyed subtasks write the sink themselves
// (one writer each), every key's changes are in its partition in the order the aggregate made them (the
// counts grow), and the last one is the key's total (not a tombstone).
func TestConcurrentUpsertWritersKeepEveryKeysOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	const keys, seqs = 40, 150
	produceSeqs(ctx, t, addr, "seqs", keys, seqs)
	for _, par := range []int{1, 2, 4} {
		topic := fmt.Sprintf("totals-%d", par)
		script := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '30 ms';
SET 'parallelism.default' = '%d';
CREATE TABLE src (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = 'seqs', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE totals (k STRING, n BIGINT, seq BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = '%s', 'properties.bootstrap.servers' = '%s', 'key.format' = 'raw', 'value.format' = 'json');
INSERT INTO totals SELECT k, COUNT(*), MAX(seq) FROM src GROUP BY k;`, par, addr, topic, addr)
		w0 := kafka.SinkWritersOpened()
		var out lockedWriter
		job := startJob(ctx, t, &out, script)
		if err := job.Wait(ctx); err != nil {
			t.Fatalf("parallelism %d: %v\n%s", par, err, out.String())
		}
		if w, exp := kafka.SinkWritersOpened()-w0, int64(par); par > 1 && w != exp || par == 1 && w != 0 {
			t.Fatalf("parallelism %d: %d sink writers opened, want %d", par, w, exp)
		}
		got := readCommittedSeqs(t, addr, topic)
		if len(got) != keys {
			t.Fatalf("parallelism %d: %d keys in %s, want %d", par, len(got), topic, keys)
		}
		m := job.Metrics()
		ckpts := m.LastCheckpoint.ID + m.FailedCheckpoints
		for k, recs := range got {
			last, tombs := int64(0), int64(0)
			for i, r := range recs {
				if r.N == -1 {
					// a -U whose +U came after a checkpoint is written as a tombstone at the checkpoint
					// (upsert_sink.go PreCommit): at most one per checkpoint, and the +U follows, so never
					// a key's last change; a writer that did not drop the -U of each +U makes one per change
					if tombs++; tombs > ckpts {
						t.Fatalf("parallelism %d: key %s: %d tombstones after %d checkpoints: %v", par, k, tombs, ckpts, recs)
					}
					continue
				}
				if r.N <= last {
					t.Fatalf("parallelism %d: key %s: change %d has count %d after %d (lost or reordered): %v", par, k, i, r.N, last, recs)
				}
				last = r.N
			}
			if f := recs[len(recs)-1]; f.N != seqs || f.Seq != seqs-1 {
				t.Fatalf("parallelism %d: key %s ends with %+v, want n=%d seq=%d", par, k, f, seqs, seqs-1)
			}
			if strings.TrimSpace(k) == "" {
				t.Fatalf("parallelism %d: an empty key", par)
			}
		}
	}
}
