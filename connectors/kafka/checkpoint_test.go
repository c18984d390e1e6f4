package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

// cpSink is an open sink output and its checkpoint interface.
type cpSink struct {
	out    changelog.Output
	cs     connectors.CheckpointedSink
	stderr *bytes.Buffer
}

// openSink creates and opens the sink of tbl; its output must implement connectors.CheckpointedSink.
func (h *harness) openSink(t *testing.T, tbl *catalog.Table) *cpSink {
	t.Helper()
	var stderr bytes.Buffer
	snk, err := h.createSink(tbl, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := snk.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cs, ok := out.(connectors.CheckpointedSink)
	if !ok {
		t.Fatalf("the output %T of table %s is not a connectors.CheckpointedSink", out, tbl.Name)
	}
	return &cpSink{out: out, cs: cs, stderr: &stderr}
}

func (h *harness) mustTable(t *testing.T, name, def string) *catalog.Table {
	t.Helper()
	tbl, err := h.parseTable(name, def)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// pushInts pushes one insert row (a INT) for each of from..to.
func pushInts(t *testing.T, out changelog.Output, from, to int) {
	t.Helper()
	var b changelog.Batch
	for i := from; i <= to; i++ {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i))})
	}
	if err := out.Push(&b); err != nil {
		t.Fatal(err)
	}
}

func (s *cpSink) preCommit(t *testing.T, id int64) []byte {
	t.Helper()
	st, err := s.cs.PreCommit(context.Background(), id)
	if err != nil {
		t.Fatalf("PreCommit(%d): %v", id, err)
	}
	return st
}

func (s *cpSink) commit(t *testing.T, id int64) {
	t.Helper()
	if err := s.cs.Commit(context.Background(), id); err != nil {
		t.Fatalf("Commit(%d): %v", id, err)
	}
}

func (s *cpSink) restore(t *testing.T, state []byte, id int64) {
	t.Helper()
	if err := s.cs.Restore(context.Background(), state, id); err != nil {
		t.Fatalf("Restore(%d): %v", id, err)
	}
}

// ints returns from..to, followed by the lists in more.
func ints(from, to int, more ...[]int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	for _, m := range more {
		out = append(out, m...)
	}
	return out
}

// readCommittedInts reads topic ({"a":n} values) with a read_committed franz-go consumer. To know where the
// end is, it first writes a non-transactional end marker ({"a":-1}) to every partition: a read_committed
// consumer only gets it once every transaction before it is committed or aborted, so a transaction left open
// makes the read time out instead of passing. It returns the values sorted.
func readCommittedInts(t *testing.T, addr, topic string, partitions int) []int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	// The end marker of this call in each partition (earlier calls left markers too: only this call's count).
	marker := map[int32]int64{}
	for p := 0; p < partitions; p++ {
		r, err := pr.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(`{"a":-1}`)}).First()
		if err != nil {
			t.Fatal(err)
		}
		marker[r.Partition] = r.Offset
	}
	pr.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []int
	ends := 0
	for ends < partitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed consumer of %s did not reach the end markers within 15 s (a transaction is still open?); read so far: %v", topic, out)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v struct{ A int }
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			if v.A == -1 {
				if r.Offset == marker[r.Partition] {
					ends++
				}
				return
			}
			out = append(out, v.A)
		})
	}
	sort.Ints(out)
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eoTable is an exactly-once sink of {"a":n} into topic, with prefix.
func eoTable(h *harness, t *testing.T, topic, prefix string) *catalog.Table {
	h.session["execution.checkpointing.interval"] = "1 s"
	return h.mustTable(t, "out", "a INT\ntopic="+topic+"\nproperties.bootstrap.servers=$BROKER\nformat=json\n"+
		"sink.delivery-guarantee=exactly-once\nsink.transactional-id-prefix="+prefix)
}

// TestExactlyOnceCrashBeforeCommit: checkpoint 1 is committed, checkpoints 2 and 3 only pre-committed when
// the process dies, with more rows in an open transaction, and checkpoint 2 is the last durable one.
// Restoring it commits its transaction and aborts the two after it: a read_committed consumer sees the rows of checkpoints 1 and 2 once, and not the rows
// after them, and the rows the restored sink writes next.
func TestExactlyOnceCrashBeforeCommit(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eo", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eo", "job")

	s1 := h.openSink(t, tbl)
	s1.restore(t, nil, 0)
	pushInts(t, s1.out, 1, 10)
	s1.preCommit(t, 1)
	s1.commit(t, 1)
	pushInts(t, s1.out, 11, 20)
	st2 := s1.preCommit(t, 2)
	// Checkpoint 3 is pre-committed but never completes (its state is lost with the process), and more rows
	// wait in an open transaction: both transactions must be aborted.
	pushInts(t, s1.out, 21, 25)
	s1.preCommit(t, 3)
	pushInts(t, s1.out, 26, 30)
	// The checkpoint state names the pending transaction and the next one.
	var st struct {
		Next    int64
		Pending []struct{ ID string }
	}
	if err := json.Unmarshal(st2, &st); err != nil {
		t.Fatalf("state %s: %v", st2, err)
	}
	if len(st.Pending) != 1 || st.Pending[0].ID != "job-0-2" || st.Next != 3 {
		t.Fatalf("state of checkpoint 2: %s", st2)
	}
	kafka.Crash(t, s1.out)

	s2 := h.openSink(t, tbl)
	s2.restore(t, st2, 2)
	if got, want := readCommittedInts(t, h.addr, "eo", 2), ints(1, 20); !equalInts(got, want) {
		t.Fatalf("after restore: read_committed sees %v, want %v", got, want)
	}
	pushInts(t, s2.out, 31, 35)
	s2.preCommit(t, 3)
	s2.commit(t, 3)
	if s2.stderr.Len() > 0 {
		t.Fatalf("warnings: %s", s2.stderr)
	}
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eo", 2), ints(1, 20, ints(31, 35)); !equalInts(got, want) {
		t.Fatalf("after checkpoint 3: read_committed sees %v, want %v", got, want)
	}
	if s1.stderr.Len()+s2.stderr.Len() > 0 {
		t.Fatalf("warnings: %s%s", s1.stderr, s2.stderr)
	}
}

// TestExactlyOnceCrashAfterCommit: checkpoint 2 is committed, then the process dies before checkpoint 3.
// Restoring checkpoint 2 commits its transaction again, which is harmless, and aborts the open one; so does a
// second restore of the same checkpoint. Nothing is duplicated.
func TestExactlyOnceCrashAfterCommit(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eo2", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eo2", "job2")
	s1 := h.openSink(t, tbl)
	s1.restore(t, nil, 0)
	pushInts(t, s1.out, 1, 10)
	s1.preCommit(t, 1)
	s1.commit(t, 1)
	pushInts(t, s1.out, 11, 20)
	st2 := s1.preCommit(t, 2)
	s1.commit(t, 2)
	pushInts(t, s1.out, 21, 25)
	kafka.Crash(t, s1.out)

	s2 := h.openSink(t, tbl)
	s2.restore(t, st2, 2)
	pushInts(t, s2.out, 26, 30)
	s2.preCommit(t, 3)
	s2.commit(t, 3)
	kafka.Crash(t, s2.out)
	want := ints(1, 20, ints(26, 30))
	if got := readCommittedInts(t, h.addr, "eo2", 1); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}

	// Restore checkpoint 2 once more (its transaction and checkpoint 3's are committed): no error, no change.
	s3 := h.openSink(t, tbl)
	s3.restore(t, st2, 2)
	if err := s3.out.End(); err != nil {
		t.Fatal(err)
	}
	if got := readCommittedInts(t, h.addr, "eo2", 1); !equalInts(got, want) {
		t.Fatalf("after a second restore: read_committed sees %v, want %v", got, want)
	}
	for i, s := range []*cpSink{s1, s2, s3} {
		if s.stderr.Len() > 0 {
			t.Errorf("sink %d warned: %s", i+1, s.stderr)
		}
	}
}

// TestExactlyOnceIdleCheckpoints: checkpoints without rows open no transaction, pending transactions of
// several checkpoints are all committed by a later Commit, and a fresh start (no Restore) aborts what an
// earlier run of the prefix left open.
func TestExactlyOnceIdleCheckpoints(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eo3", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eo3", "job3")
	s1 := h.openSink(t, tbl)
	s1.restore(t, nil, 0)
	pushInts(t, s1.out, 1, 5)
	s1.preCommit(t, 1)
	s1.preCommit(t, 2) // idle
	pushInts(t, s1.out, 6, 10)
	st3 := s1.preCommit(t, 3)
	if !strings.Contains(string(st3), `"id":"job3-0-1"`) || !strings.Contains(string(st3), `"id":"job3-0-2"`) || !strings.Contains(string(st3), `"next":3`) {
		t.Fatalf("state of checkpoint 3: %s", st3)
	}
	s1.commit(t, 3) // commits the transactions of checkpoints 1 and 3
	pushInts(t, s1.out, 11, 15)
	kafka.Crash(t, s1.out) // job3-0-3 stays open

	// A fresh start without Restore: the first Push aborts job3-0-3.
	s2 := h.openSink(t, tbl)
	pushInts(t, s2.out, 16, 20)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eo3", 1), ints(1, 10, ints(16, 20)); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// TestExactlyOnceCancelAborts: End of a cancelled job aborts the open transaction.
func TestExactlyOnceCancelAborts(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eo4", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eo4", "job4")
	snk, err := h.createSink(tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, err := snk.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs := out.(connectors.CheckpointedSink)
	pushInts(t, out, 1, 3)
	if _, err := cs.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := cs.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	pushInts(t, out, 4, 6)
	cancel()
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eo4", 1), ints(1, 3); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}

// delayProduce makes the broker hold every produce request until release is closed; produced counts them.
func delayProduce(c *kfake.Cluster, release chan struct{}, produced *atomic.Int32) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		produced.Add(1)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
}

// TestAtLeastOncePreCommitWaitsForAcks: PreCommit returns only once the broker acknowledged the records.
// With 'none' it returns at once.
func TestAtLeastOncePreCommitWaitsForAcks(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "none"} {
		t.Run(guarantee, func(t *testing.T) {
			h := newHarness(t)
			if err := h.cluster.CreateTopic("alo", 1, nil); err != nil {
				t.Fatal(err)
			}
			tbl := h.mustTable(t, "out", "a INT\ntopic=alo\nproperties.bootstrap.servers=$BROKER\nformat=json\nsink.delivery-guarantee="+guarantee)
			s := h.openSink(t, tbl)
			release := make(chan struct{})
			var produced atomic.Int32
			delayProduce(h.cluster, release, &produced)
			pushInts(t, s.out, 1, 100)
			done := make(chan error, 1)
			go func() {
				_, err := s.cs.PreCommit(context.Background(), 1)
				done <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for produced.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if produced.Load() == 0 {
				t.Fatal("no produce request reached the broker")
			}
			select {
			case err := <-done:
				if guarantee == "at-least-once" {
					t.Fatalf("PreCommit returned (%v) while the broker still held the produce request", err)
				}
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(500 * time.Millisecond):
				if guarantee == "none" {
					t.Fatal("PreCommit of a 'none' sink waited for the broker")
				}
			}
			close(release)
			if guarantee == "at-least-once" {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				// Acknowledged: every record is in the topic now.
				if n := len(consumeAll(t, h.addr, "alo")); n != 100 {
					t.Fatalf("after PreCommit the topic holds %d records, want 100", n)
				}
			}
			if err := s.out.End(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAtLeastOncePreCommitFails: a produce that the broker refuses makes PreCommit fail naming the table,
// topic and partition; the next Push fails too.
func TestAtLeastOncePreCommitFails(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("refused", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := h.mustTable(t, "out", "a INT\ntopic=refused\nproperties.bootstrap.servers=$BROKER\nformat=json")
	s := h.openSink(t, tbl)
	h.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		h.cluster.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	pushInts(t, s.out, 1, 3)
	_, err := s.cs.PreCommit(context.Background(), 1)
	if err == nil {
		t.Fatal("PreCommit succeeded although the broker refused every record")
	}
	want := "kafka table 'out': write a record to topic 'refused' partition 0: INVALID_RECORD"
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("PreCommit error %q, want it to start with %q", err, want)
	}
	var b changelog.Batch
	b.Append(changelog.Insert, []types.Value{types.IntValue(4)})
	if err := s.out.Push(&b); err == nil || !strings.Contains(err.Error(), "topic 'refused'") {
		t.Fatalf("Push after a lost record: %v", err)
	}
	if err := s.out.End(); err == nil {
		t.Fatal("End succeeded after a lost record")
	}
}

// TestUpsertPreCommitFlushesBuffer: PreCommit writes the sink.buffer-flush buffer (and a trailing unpaired
// -U as a tombstone) and waits for the acknowledgements, long before the buffer's interval.
func TestUpsertPreCommitFlushesBuffer(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("ups", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	tbl := h.mustTable(t, "out", "k STRING, v INT\nPRIMARY KEY (k)\nconnector=upsert-kafka\ntopic=ups\n"+
		"properties.bootstrap.servers=$BROKER\nkey.format=json\nvalue.format=json\n"+
		"sink.buffer-flush.max-rows=1000\nsink.buffer-flush.interval=1 h")
	s := h.openSink(t, tbl)
	row := func(k string, v int64) []types.Value { return []types.Value{types.StringValue(k), types.IntValue(v)} }
	var b changelog.Batch
	b.Append(changelog.Insert, row("a", 1))
	b.Append(changelog.Insert, row("b", 1))
	b.Append(changelog.UpdateBefore, row("a", 1))
	b.Append(changelog.UpdateAfter, row("a", 2))
	b.Append(changelog.UpdateBefore, row("b", 1)) // its +U comes after the checkpoint
	if err := s.out.Push(&b); err != nil {
		t.Fatal(err)
	}
	buffered := s.out.(interface{ Buffered() int })
	if n := buffered.Buffered(); n != 2 {
		t.Fatalf("%d keys buffered before PreCommit, want 2 (a and b; b's -U waits for the next row)", n)
	}
	s.preCommit(t, 1)
	if n := buffered.Buffered(); n != 0 {
		t.Fatalf("%d keys buffered after PreCommit", n)
	}
	var got []string
	for _, r := range consumeAll(t, h.addr, "ups") {
		got = append(got, fmt.Sprintf("%s=%s", r.Key, r.Value))
	}
	if want := `{"k":"a"}={"k":"a","v":2} {"k":"b"}=`; strings.Join(got, " ") != want {
		t.Fatalf("after PreCommit the topic holds %s, want %s", strings.Join(got, " "), want)
	}
	var b2 changelog.Batch
	b2.Append(changelog.UpdateAfter, row("b", 2))
	if err := s.out.Push(&b2); err != nil {
		t.Fatal(err)
	}
	if err := s.out.End(); err != nil {
		t.Fatal(err)
	}
	if n := len(consumeAll(t, h.addr, "ups")); n != 3 {
		t.Fatalf("after End the topic holds %d records, want 3", n)
	}
}

// TestRestoreExactlyOnceStateAtLeastOnce: a table switched from exactly-once to at-least-once between runs
// still finishes the old run's transactions on restore: it commits the pre-committed one and aborts the
// open one. A state that is not the sink's is refused with the table's name.
func TestRestoreExactlyOnceStateAtLeastOnce(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eo5", 1, nil); err != nil {
		t.Fatal(err)
	}
	s1 := h.openSink(t, eoTable(h, t, "eo5", "job5"))
	pushInts(t, s1.out, 1, 5)
	st1 := s1.preCommit(t, 1)
	pushInts(t, s1.out, 6, 10)
	kafka.Crash(t, s1.out)

	alo := h.mustTable(t, "out", "a INT\ntopic=eo5\nproperties.bootstrap.servers=$BROKER\nformat=json")
	s2 := h.openSink(t, alo)
	err := s2.cs.Restore(context.Background(), []byte("not json"), 1)
	if err == nil || !strings.HasPrefix(err.Error(), "kafka table 'out': restore checkpoint 1: the sink's checkpoint state is not readable") {
		t.Fatalf("Restore of a bad state: %v", err)
	}
	s2.restore(t, st1, 1)
	pushInts(t, s2.out, 11, 15)
	s2.preCommit(t, 2)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eo5", 1), ints(1, 5, ints(11, 15)); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
}
