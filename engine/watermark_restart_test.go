package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWatermarkWindowRestart: a TUMBLE window aggregate over a kafka table with a WATERMARK, at parallelism 1
// (the assigner in the graph) and 2 (chained into the source subtasks), over 1 and 4 partitions, with an
// idle partition (idle timeout 5 s: long, as a partition the reader neglects that long under load drops its
// rows as late) and with a partition that holds one row far ahead of the others (read long before the
// failure, nothing after: its watermark is that row's). Checkpoints every 20 ms while the input arrives in
// chunks; a function on the input fails once, three quarters into it, and the job restarts in-process from
// its latest checkpoint. Every window the final watermark closes fires, exactly: the watermark moves on
// after the restart. Restored, a partition whose rows were all read before the checkpoint starts from its
// checkpointed watermark (exec.SplitWatermarks.NameSplit); from the lowest one (before) it held the
// watermark back for good: "ahead" always (at parallelism 2 when its subtask reads another partition too),
// the others when a partition was read to its end before the checkpoint.
func TestWatermarkWindowRestart(t *testing.T) {
	const n, chunk = 6000, 300
	for _, par := range []int{1, 2} {
		for _, tc := range []struct {
			name       string
			partitions int  // of the topic
			idle       bool // the last partition gets no rows (idle timeout 5 s)
			ahead      bool // the last partition gets one row far ahead, before the job starts, and no more
		}{
			{"1p", 1, false, false},
			{"4p", 4, false, false},
			{"4p-idle", 4, true, false},
			{"4p-ahead", 4, false, true},
			{"2p-ahead", 2, false, true}, // at parallelism 2 the partition ahead is its subtask's only one
		} {
			t.Run(fmt.Sprintf("%s/P%d", tc.name, par), func(t *testing.T) {
				addr := exchangeBroker(t)
				used := tc.partitions
				if tc.idle || tc.ahead {
					used--
				}
				createTopic(t, addr, "wr", tc.partitions)
				if tc.ahead {
					produceWindowRecord(t, addr, "wr", int32(tc.partitions-1), n+1000)
				}
				fail, pace := newFailOnce(t, 10*time.Microsecond, n*3/4)
				produceWindowOrders(t, addr, "wr", used, 0, chunk)
				s, notice := barrierSession(t, addr, par, "20 ms", pace)
				idle := ""
				if tc.idle {
					idle = ", 'scan.watermark.idle-timeout' = '5 s'"
				}
				execScript(t, s, strings.NewReplacer("ADDR", addr, "IDLE", idle).Replace(`
CREATE TABLE wr (id BIGINT, user_id BIGINT, amount BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 10, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'wr',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset'IDLE);
CREATE TABLE wins (first_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (first_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
CREATE TEMPORARY VIEW wv AS SELECT id, user_id, pace(amount) AS amount, ts FROM wr;
`))
				j := startInsert(t, s, `INSERT INTO wins SELECT MIN(id), COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE wv, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`)
				defer func() {
					j.Cancel()
					_ = j.Wait(context.Background())
				}()
				for c := chunk; c < n; c += chunk {
					time.Sleep(10 * time.Millisecond)
					produceWindowOrders(t, addr, "wr", used, c, chunk)
				}
				// the watermark ends 1 s behind the last order of the slowest partition (ids below n): the windows
				// of ids below n - 200 fire (not the one ahead)
				waitWins(t, addr, windowsWant(n-200), notice)
				fail.checkOneRestart(t, j, notice)
			})
		}
	}
}

// createTopic creates topic with the given number of partitions.
func createTopic(t *testing.T, addr, topic string, partitions int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produceWindowOrders writes orders n0..n0+n-1 (as produceExchangeOrders) to topic, order i to partition
// i % partitions.
func produceWindowOrders(t *testing.T, addr, topic string, partitions, n0, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := n0; i < n0+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, i, i%37, i%7))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitWins waits until the upsert table wins equals want, and else fails with how it differs.
func waitWins(t *testing.T, addr string, want map[string]string, notice fmt.Stringer) {
	t.Helper()
	var got map[string]string
	if waitUntil(30*time.Second, func() bool {
		got = upsertTable(t, addr, "wins")
		return fmt.Sprint(got) == fmt.Sprint(want)
	}) {
		return
	}
	var missing, wrong, extra []string
	for k, v := range want {
		switch g, ok := got[k]; {
		case !ok:
			missing = append(missing, k)
		case g != v:
			wrong = append(wrong, g+" want "+v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(wrong)
	slices.Sort(extra)
	t.Fatalf("wins: %d rows, want %d: %d missing %.300v, %d wrong %.300v, %d extra %.300v\n%s", len(got), len(want),
		len(missing), missing, len(wrong), wrong, len(extra), extra, notice)
}

// produceWindowRecord writes order id (as produceWindowOrders) to partition p of topic.
func produceWindowRecord(t *testing.T, addr, topic string, p int32, id int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%d,"amount":%d}`, id, id%37, id%7))}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
