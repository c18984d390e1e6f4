package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// produceSeqRange writes records {"k":"kNN","seq":s} for s in [from, to) and every key, key i to partition
// i % 4, each key's records in seq order.
func produceSeqRange(ctx context.Context, t *testing.T, addr, topic string, keys, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for s := from; s < to; s++ {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(k % 4), Value: fmt.Appendf(nil, `{"k":"k%02d","seq":%d}`, k, s)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitLastCounts consumes topic until every one of keys keys' latest record has count n (a wait for a
// condition, bounded by ctx).
func waitLastCounts(ctx context.Context, t *testing.T, cl *kgo.Client, last map[string]int64, keys int, n int64, what string) {
	t.Helper()
	done := func() bool {
		if len(last) != keys {
			return false
		}
		for _, c := range last {
			if c != n {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: keys never all reached count %d: %v", what, n, last)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v seqRecord
			if r.Value == nil {
				last[string(r.Key)] = -1
				return
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s: record %s: %v", what, r.Value, err)
			}
			last[string(r.Key)] = v.N
		})
	}
}

// GROUP BY → buffered upsert-kafka ('sink.buffer-flush.*') at parallelism 1, 2 and 4, with checkpoints: at 2
// and 4 the keyed subtasks write the sink themselves, each writer reducing its own keys in a buffer of its
// own. The job reads an unbounded topic; the test writes the first half of the input, waits until the topic
// shows every key's count of it, then the second half, waits for the totals and cancels the job. Every key's
// changes are in its partition in the order the aggregate made them (the counts grow), and the last one is
// the key's total (the compacted topic is exact).
//   - max-rows 1000, interval 1 h (more than the 40 keys, longer than the test): only checkpoints flush, so
//     the first half shows only through a checkpoint's PreCommit of the writers' buffers, and a key has at
//     most one record per checkpoint and one at the end (unbuffered writers write one per change, 150).
//   - max-rows 3, interval 10 ms: the writers flush when full and the timer flushes every writer's buffer,
//     concurrently with their pushes.
func TestBufferedUpsertWritersKeepEveryKeysOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, addr := startBroker(t, kfake.DefaultNumPartitions(4))
	const keys, seqs = 40, 150
	for _, buf := range []struct {
		rows     int
		interval string
		bounded  bool // only checkpoints and the end flush
	}{{1000, "1 h", true}, {3, "10 ms", false}} {
		for _, par := range []int{1, 2, 4} {
			src := fmt.Sprintf("seqs-%d-%d", buf.rows, par)
			topic := fmt.Sprintf("buffered-%d-%d", buf.rows, par)
			script := fmt.Sprintf(`SET 'execution.checkpointing.interval' = '30 ms';
SET 'parallelism.default' = '%d';
CREATE TABLE src (k STRING, seq BIGINT) WITH ('connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE totals (k STRING, n BIGINT, seq BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = '%s', 'properties.bootstrap.servers' = '%s', 'key.format' = 'raw', 'value.format' = 'json',
  'sink.buffer-flush.max-rows' = '%d', 'sink.buffer-flush.interval' = '%s');
INSERT INTO totals SELECT k, COUNT(*), MAX(seq) FROM src GROUP BY k;`, par, src, addr, topic, addr, buf.rows, buf.interval)
			produceSeqRange(ctx, t, addr, src, keys, 0, seqs/2)
			w0 := kafka.SinkWritersOpened()
			var out lockedWriter
			job := startJob(ctx, t, &out, script)
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			last := map[string]int64{}
			waitLastCounts(ctx, t, cl, last, keys, seqs/2, topic+" (first half)")
			produceSeqRange(ctx, t, addr, src, keys, seqs/2, seqs)
			waitLastCounts(ctx, t, cl, last, keys, seqs, topic+" (all)")
			cl.Close()
			job.Cancel()
			_ = job.Wait(ctx)
			if w, exp := kafka.SinkWritersOpened()-w0, int64(par); par > 1 && w != exp || par == 1 && w != 0 {
				t.Fatalf("%s: %d sink writers opened, want %d", topic, w, exp)
			}
			got := readCommittedSeqs(t, addr, topic)
			if len(got) != keys {
				t.Fatalf("%s: %d keys, want %d", topic, len(got), keys)
			}
			m := job.Metrics()
			ckpts := m.LastCheckpoint.ID + m.FailedCheckpoints
			for k, recs := range got {
				if buf.bounded && int64(len(recs)) > ckpts+1 {
					t.Fatalf("%s: key %s has %d records after %d checkpoints, want at most one per flush (%d): %v",
						topic, k, len(recs), ckpts, ckpts+1, recs)
				}
				last := int64(0)
				for i, r := range recs {
					if r.N == -1 {
						continue // a -U held at a checkpoint: its +U follows (never a key's last change, below)
					}
					if r.N <= last {
						t.Fatalf("%s: key %s: change %d has count %d after %d (lost or reordered): %v", topic, k, i, r.N, last, recs)
					}
					last = r.N
				}
				if f := recs[len(recs)-1]; f.N != seqs || f.Seq != seqs-1 {
					t.Fatalf("%s: key %s ends with %+v, want n=%d seq=%d", topic, k, f, seqs, seqs-1)
				}
			}
		}
	}
}
