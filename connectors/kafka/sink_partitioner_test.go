package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// partRecord is a record of an output topic and the partition it is in.
type partRecord struct {
	seqRecord
	part int32
}

// readPartitions reads topic (parts partitions) with isolation read_committed up to end markers that it
// writes first, and returns each key's records in their partition's order.
func readPartitions(t *testing.T, addr, topic string, parts int32) map[string][]partRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	marker := map[int32]int64{}
	for p := range parts {
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
	out := map[string][]partRecord{}
	for ends := int32(0); ends < parts; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed consumer of %s did not reach the end markers (a transaction is still open?)", topic)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= marker[r.Partition] {
				if r.Offset == marker[r.Partition] {
					ends++
				}
				return
			}
			var v seqRecord
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s: record %s: %v", topic, r.Value, err)
			}
			out[string(r.Key)] = append(out[string(r.Key)], partRecord{v, r.Partition})
		})
	}
	return out
}

// kafka → filter → kafka with each 'sink.partitioner', at parallelism 1, 2 and 4 (the source subtasks write
// the sink, one writer each), into a topic of 4 and one of 1 partition, exactly-once with checkpoints:
//   - 'fixed' (Flink's FlinkFixedPartitioner): the records of sink subtask i are all in partition
//     i % partitions. Input key k is in partition k % 4 of 'seqs', which source subtask
//     SplitOwner('seqs', k % 4, P) reads and writes, so every key is in exactly that partition, in order; at
//     P=1 (the sink's own Push) everything is in partition 0.
//   - 'default': a keyed record goes to murmur2(key) % partitions (Kafka's Java client), whichever writer
//     produces it: every key in that one partition, in order.
//   - 'round-robin' (Kafka's RoundRobinPartitioner, keys ignored): the records of every writer spread over
//     all partitions.
//
// In every case each input record is in the output exactly once.
func TestSinkPartitionerWithSeveralWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var one []string
	for _, pt := range []string{"fixed", "default", "round-robin"} {
		for _, par := range []int{1, 2, 4} {
			one = append(one, fmt.Sprintf("part-%s-%d-1", pt, par))
		}
	}
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4), kfake.SeedTopics(1, one...))
	const keys, seqs = 24, 60
	produceSeqs(ctx, t, addr, "seqs", keys, seqs)
	var want []int64
	for s := range int64(seqs) {
		if s%7 != 3 {
			want = append(want, s)
		}
	}
	murmur := kgo.StickyKeyPartitioner(nil)
	for _, pt := range []string{"fixed", "default", "round-robin"} {
		for _, par := range []int{1, 2, 4} {
			for _, parts := range []int32{4, 1} {
				topic := fmt.Sprintf("part-%s-%d-%d", pt, par, parts)
				script := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '30 ms';
SET 'parallelism.default' = '%d';
CREATE TABLE src (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = 'seqs', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE dst (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
  'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'k', 'sink.partitioner' = '%s',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '%s');
INSERT INTO dst SELECT k, seq FROM src WHERE seq %% 7 <> 3;`, par, addr, topic, addr, pt, topic)
				w0 := kafka.SinkWritersOpened()
				var out lockedWriter
				job := startJob(ctx, t, &out, script)
				if err := job.Wait(ctx); err != nil {
					t.Fatalf("%s: %v\n%s", topic, err, out.String())
				}
				if w, exp := kafka.SinkWritersOpened()-w0, int64(par); par > 1 && w != exp || par == 1 && w != 0 {
					t.Fatalf("%s: %d sink writers opened, want %d", topic, w, exp)
				}
				got := readPartitions(t, addr, topic, parts)
				if len(got) != keys {
					t.Fatalf("%s: %d keys, want %d", topic, len(got), keys)
				}
				used := map[int32]bool{}
				for k, recs := range got {
					var n int
					if _, err := fmt.Sscanf(k, "k%d", &n); err != nil {
						t.Fatalf("%s: key %q: %v", topic, k, err)
					}
					var wantPart int32 = -1 // any
					switch pt {
					case "fixed":
						sub := 0
						if par > 1 {
							sub = kafka.SplitOwner("seqs", int32(n%4), par)
						}
						wantPart = int32(sub) % parts
					case "default":
						wantPart = int32(murmur.ForTopic(topic).Partition(&kgo.Record{Key: []byte(k)}, int(parts)))
					}
					seq := make([]int64, len(recs))
					for i, r := range recs {
						used[r.part] = true
						if wantPart >= 0 && r.part != wantPart {
							t.Fatalf("%s: key %s has a record in partition %d, want all in %d", topic, k, r.part, wantPart)
						}
						seq[i] = r.Seq
					}
					if wantPart < 0 {
						slices.Sort(seq) // round-robin: a key's records are in several partitions
					}
					if fmt.Sprint(seq) != fmt.Sprint(want) {
						t.Fatalf("%s: key %s has seqs %v, want %v", topic, k, seq, want)
					}
				}
				var wantUsed []int32
				switch pt {
				case "fixed":
					for i := range int32(min(par, int(parts))) {
						wantUsed = append(wantUsed, i)
					}
				default: // 24 keys over 4 partitions, 1,000 records round-robin: every partition has some
					for i := range parts {
						wantUsed = append(wantUsed, i)
					}
				}
				var gotUsed []int32
				for p := range parts {
					if used[p] {
						gotUsed = append(gotUsed, p)
					}
				}
				if fmt.Sprint(gotUsed) != fmt.Sprint(wantUsed) {
					t.Fatalf("%s: records in partitions %v, want %v", topic, gotUsed, wantUsed)
				}
			}
		}
	}
}
