package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Watermarks of an upsert-kafka table per partition, below its ChangelogNormalize (as Flink pushes the
// WATERMARK into the source).

const lagTables = `
CREATE TABLE lrates (id BIGINT, v BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND,
  PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'RATES', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json'OPTS);
CREATE TABLE lords (id BIGINT, k BIGINT, t BIGINT, rt AS TO_TIMESTAMP_LTZ(t, 3), WATERMARK FOR rt AS rt - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'ORDS', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');
CREATE TABLE lout (id BIGINT, k BIGINT, v BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = 'OUT', 'properties.bootstrap.servers' = 'ADDR', 'key.format' = 'json', 'value.format' = 'json');
`

const lagInsert = `INSERT INTO lout SELECT o.id, o.k, r.v FROM lords AS o LEFT JOIN lrates FOR SYSTEM_TIME AS OF o.rt AS r ON o.k = r.id`

func lagScript(addr, suffix, opts string) string {
	return strings.NewReplacer("ADDR", addr, "RATES", "lrates"+suffix, "ORDS", "lords"+suffix, "OUT", "lout"+suffix, "OPTS", opts).Replace(lagTables)
}

func rateRecord(topic string, p int32, k, t, v int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf(`{"id":%d}`, k)), Value: []byte(fmt.Sprintf(`{"id":%d,"v":%d,"t":%d}`, k, v, t))}
}

func orderRecord(topic string, p int32, id, k, t int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf(`{"id":%d,"k":%d,"t":%d}`, id, k, t))}
}

// waitRowsIn waits until the job's sources read n rows.
func waitRowsIn(t *testing.T, j *Job, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for j.Metrics().RowsIn < n {
		if time.Now().After(deadline) {
			t.Fatalf("the sources read %d rows, want %d", j.Metrics().RowsIn, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpsertWatermarkLaggingPartition: an upsert-kafka versioned table of 4 partitions (keys 0..39 in
// partition k % 4, a version every 10 s of event time up to 180 s, and one at 300 s per partition) of which
// partition 3 is read 5 minutes of event time behind the others: its records are written only once the job
// has read all the others' and all the orders (0..180 s). The table's watermark is the minimum over its
// partitions, so it waits for partition 3 and no version of it is late: the LEFT temporal join into
// upsert-kafka finds for every order the version valid at its time (Flink keeps them all: per-partition
// watermarks in the source, no idle timeout). With one watermark over all partitions above the normalize,
// the orders on partition 3's keys joined no version (null). At parallelism 1 and 3.
func TestUpsertWatermarkLaggingPartition(t *testing.T) {
	addr := exchangeBroker(t)
	for _, par := range []int{1, 3} {
		suffix := fmt.Sprint(par)
		rates, ords, out := "lrates"+suffix, "lords"+suffix, "lout"+suffix
		var early, late, orders []*kgo.Record
		for k := int64(0); k < 40; k++ {
			for ts := int64(0); ts <= 180_000; ts += 10_000 {
				r := rateRecord(rates, int32(k%4), k, ts+k*10, k*1000+ts/10_000)
				if k%4 == 3 {
					late = append(late, r)
				} else {
					early = append(early, r)
				}
			}
		}
		for p := int64(0); p < 4; p++ { // moves every partition's watermark past the orders
			r := rateRecord(rates, int32(p), 100+p, 300_000, 0)
			if p == 3 {
				late = append(late, r)
			} else {
				early = append(early, r)
			}
		}
		want := map[string]string{}
		for id := int64(0); id < 400; id++ {
			k, ts := id%40, id*450+5
			orders = append(orders, orderRecord(ords, int32(id%4), id, k, ts))
			v := "null"
			if ts >= k*10 {
				v = fmt.Sprint(k*1000 + (ts-k*10)/10_000)
			}
			want[fmt.Sprintf(`{"id":%d}`, id)] = fmt.Sprintf(`{"id":%d,"k":%d,"v":%s}`, id, k, v)
		}
		for p := int64(0); p < 4; p++ { // fences: move the orders' watermark past the orders (they wait)
			orders = append(orders, orderRecord(ords, int32(p), 1000+p, 999, 250_000))
		}
		// order the records of each topic by partition, then write the early ones
		produceRecords(t, addr, append(early, orders...))
		s := exchangeSession(t, par)
		execScript(t, s, lagScript(addr, suffix, ""))
		res := executeInsert(t, s, lagInsert)
		waitRowsIn(t, res.Job, int64(len(early)+len(orders)))
		time.Sleep(300 * time.Millisecond)
		if n := res.Job.Metrics().RowsOut; n != 0 {
			t.Fatalf("parallelism %d: %d rows out before partition 3 of %s was read: its watermark must wait for it", par, n, rates)
		}
		produceRecords(t, addr, late)
		waitUpsert(t, addr, out, want)
		res.Job.Cancel()
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestUpsertWatermarkOneKeyP4: an unbounded temporal join at parallelism 4 against an upsert-kafka table
// with a single key still emits. The versions are in one partition of a topic of one partition, so three
// source subtasks own none (idle, as Flink marks a reader without splits) and three of the four keyed
// normalize subtasks get no row: they still forward the watermarks every source subtask sends them (the
// watermark comes from the source's splits, not from the rows a keyed subtask sees), so the join's watermark
// advances. Then the same with the versions in partition 0 of a 4-partition topic and
// 'scan.watermark.idle-timeout': the empty partitions go idle. The orders are in all 4 partitions.
func TestUpsertWatermarkOneKeyP4(t *testing.T) {
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "lrates1p"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, "lratesidle"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ suffix, opts string }{
		{"1p", ""},
		{"idle", ", 'scan.watermark.idle-timeout' = '200 ms'"},
	} {
		rates, ords, out := "lrates"+c.suffix, "lords"+c.suffix, "lout"+c.suffix
		var recs, versions []*kgo.Record
		for ts := int64(0); ts <= 40_000; ts += 10_000 {
			versions = append(versions, rateRecord(rates, 0, 7, ts, ts/10_000))
		}
		want := map[string]string{}
		for id := int64(0); id < 40; id++ {
			ts := id * 500
			recs = append(recs, orderRecord(ords, int32(id%4), id, 7, ts))
			want[fmt.Sprintf(`{"id":%d}`, id)] = fmt.Sprintf(`{"id":%d,"k":7,"v":%d}`, id, ts/10_000)
		}
		for p := int64(0); p < 4; p++ {
			recs = append(recs, orderRecord(ords, int32(p), 1000+p, 7, 30_000))
		}
		produceRecords(t, addr, recs)
		s := exchangeSession(t, 4)
		execScript(t, s, lagScript(addr, c.suffix, c.opts))
		built, keyed := exchangesBuilt.Load(), keyedExchangesBuilt.Load()
		res := executeInsert(t, s, lagInsert)
		if n, k := exchangesBuilt.Load()-built, keyedExchangesBuilt.Load()-keyed; n != 2 || k != 1 {
			t.Fatalf("%s: %d exchanges, %d keyed → keyed built; want the normalize's and the join's", c.suffix, n, k)
		}
		// The versions come once the empty partitions went idle: had partition 0 gone idle before the last
		// of them, the union of the subtasks would keep its watermark back (exec.NewUnion: when every input
		// is idle the watermark stays; Flink's StatusWatermarkValve forwards the maximum then).
		time.Sleep(time.Second)
		produceRecords(t, addr, versions)
		waitUpsert(t, addr, out, want)
		res.Job.Cancel()
		if err := res.Job.Wait(context.Background()); err != nil {
			t.Fatalf("%s: %v", c.suffix, err)
		}
	}
}
