package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

// Exactly-once with several writers: every writer has a transactional producer of its own
// ('<prefix>-<i>-<n>', txn_writer.go), and Restore aborts the lingering transactions of every index up to
// max(the checkpoint's writers, this run's).

// writers opens the subtask writers 0..n-1 of s.
func (s *cpSink) writers(t *testing.T, n int) []connectors.SubtaskWriter {
	t.Helper()
	co, ok := s.out.(connectors.ConcurrentOutput)
	if !ok {
		t.Fatalf("the output %T is not a connectors.ConcurrentOutput", s.out)
	}
	ws := make([]connectors.SubtaskWriter, n)
	for i := range ws {
		w, err := co.NewSubtaskWriter(i)
		if err != nil {
			t.Fatal(err)
		}
		ws[i] = w
	}
	return ws
}

// pushSpread pushes from..to, one row (a INT) each, spread over the writers round-robin in batches of one
// row per writer.
func pushSpread(t *testing.T, ws []connectors.SubtaskWriter, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		var b changelog.Batch
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i))})
		if err := ws[(i-from)%len(ws)].Push(&b); err != nil {
			t.Fatal(err)
		}
	}
}

// pendingIDs are the transactional ids of the pending transactions of a checkpoint state, sorted.
func pendingIDs(t *testing.T, st []byte) []string {
	t.Helper()
	var s struct {
		Pending []struct{ ID string }
	}
	if err := json.Unmarshal(st, &s); err != nil {
		t.Fatalf("state %s: %v", st, err)
	}
	var ids []string
	for _, p := range s.Pending {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}

// stableOffsets reports whether every partition of topic has its last stable offset (what a read_committed
// consumer may read up to) at its high watermark: no transaction is open in it. It returns both per partition.
func stableOffsets(t *testing.T, addr, topic string) (bool, string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hw, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ok := true
	desc := ""
	hw.Each(func(o kadm.ListedOffset) {
		l, _ := lso.Lookup(topic, o.Partition)
		desc += fmt.Sprintf(" p%d: lso %d hw %d;", o.Partition, l.Offset, o.Offset)
		if l.Offset != o.Offset {
			ok = false
		}
	})
	return ok, desc
}

// TestExactlyOnceWritersCrashBetweenPreCommitAndCommit: two writers pre-commit checkpoint 1, each its own
// transaction, and the process dies before Commit with more rows in both writers' open transactions.
// Restoring checkpoint 1 commits both writers' transactions and aborts the open ones: read_committed sees
// every row of checkpoint 1 once, none after it, and the restored writers' rows.
func TestExactlyOnceWritersCrashBetweenPreCommitAndCommit(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eow", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eow", "eow")
	s1 := h.openSink(t, tbl)
	ws := s1.writers(t, 2)
	s1.restore(t, nil, 0)
	pushSpread(t, ws, 1, 20)
	st1 := s1.preCommit(t, 1)
	if got, want := pendingIDs(t, st1), []string{"eow-0-1", "eow-1-1"}; !slices.Equal(got, want) {
		t.Fatalf("checkpoint 1 pre-committed %v, want a transaction of each writer %v; state %s", got, want, st1)
	}
	pushSpread(t, ws, 21, 30) // open transactions eow-0-2 and eow-1-2
	kafka.Crash(t, s1.out)
	if ok, desc := stableOffsets(t, h.addr, "eow"); ok {
		t.Fatalf("before the restore no transaction blocks the topic:%s; the writers' transactions should be open", desc)
	}

	s2 := h.openSink(t, tbl)
	ws2 := s2.writers(t, 2)
	s2.restore(t, st1, 1)
	if ok, desc := stableOffsets(t, h.addr, "eow"); !ok {
		t.Fatalf("after the restore a transaction is still open:%s", desc)
	}
	if got, want := readCommittedInts(t, h.addr, "eow", 2), ints(1, 20); !equalInts(got, want) {
		t.Fatalf("after restore: read_committed sees %v, want %v", got, want)
	}
	pushSpread(t, ws2, 31, 40)
	st2 := s2.preCommit(t, 2)
	if got, want := pendingIDs(t, st2), []string{"eow-0-3", "eow-1-3"}; !slices.Equal(got, want) {
		t.Fatalf("checkpoint 2 pre-committed %v, want %v (numbers after the aborted ones); state %s", got, want, st2)
	}
	s2.commit(t, 2)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eow", 2), ints(1, 20, ints(31, 40)); !equalInts(got, want) {
		t.Fatalf("after checkpoint 2: read_committed sees %v, want %v", got, want)
	}
	if s1.stderr.Len()+s2.stderr.Len() > 0 {
		t.Fatalf("warnings: %s%s", s1.stderr, s2.stderr)
	}
}

// TestExactlyOnceWritersRescale restores a checkpoint of 2 writers with 3, and one of 3 writers with 1 (the
// sink's own Push): the transactions a crashed run left open are aborted for every writer index up to
// max(old, new), so the last stable offset reaches the high watermark and read_committed readers are not
// blocked; the rows are those of the completed checkpoints, once.
func TestExactlyOnceWritersRescale(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to int // writers; to 0: the sink's own Push
		wantNew  []string
	}{
		{"2to3", 2, 3, []string{"eor2to3-0-3", "eor2to3-1-3", "eor2to3-2-1"}},
		{"3to1", 3, 0, []string{"eor3to1-0-3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			topic := "eor" + tc.name
			if err := h.cluster.CreateTopic(topic, 3, nil); err != nil {
				t.Fatal(err)
			}
			tbl := eoTable(h, t, topic, topic)
			s1 := h.openSink(t, tbl)
			ws := s1.writers(t, tc.from)
			s1.restore(t, nil, 0)
			pushSpread(t, ws, 1, 30)
			st1 := s1.preCommit(t, 1)
			s1.commit(t, 1)
			pushSpread(t, ws, 31, 45) // open in every writer: '<prefix>-<i>-2'
			kafka.Crash(t, s1.out)
			if ok, desc := stableOffsets(t, h.addr, topic); ok {
				t.Fatalf("before the restore no transaction blocks the topic:%s", desc)
			}

			s2 := h.openSink(t, tbl)
			var ws2 []connectors.SubtaskWriter
			if tc.to > 0 {
				ws2 = s2.writers(t, tc.to)
			}
			s2.restore(t, st1, 1)
			if ok, desc := stableOffsets(t, h.addr, topic); !ok {
				t.Fatalf("after the restore a transaction is still open:%s", desc)
			}
			if got, want := readCommittedInts(t, h.addr, topic, 3), ints(1, 30); !equalInts(got, want) {
				t.Fatalf("after restore: read_committed sees %v, want %v", got, want)
			}
			if tc.to > 0 {
				pushSpread(t, ws2, 46, 60)
			} else {
				pushInts(t, s2.out, 46, 60)
			}
			st2 := s2.preCommit(t, 2)
			if got := pendingIDs(t, st2); !slices.Equal(got, tc.wantNew) {
				t.Fatalf("checkpoint 2 pre-committed %v, want %v; state %s", got, tc.wantNew, st2)
			}
			s2.commit(t, 2)
			if err := s2.out.End(); err != nil {
				t.Fatal(err)
			}
			if got, want := readCommittedInts(t, h.addr, topic, 3), ints(1, 30, ints(46, 60)); !equalInts(got, want) {
				t.Fatalf("after checkpoint 2: read_committed sees %v, want %v", got, want)
			}
			if s1.stderr.Len()+s2.stderr.Len() > 0 {
				t.Fatalf("warnings: %s%s", s1.stderr, s2.stderr)
			}
		})
	}
}

// TestExactlyOnceRestoresVersion1State restores a checkpoint state of the one-transaction format (version 1:
// 'next' and 'pending' only, as savepoints of earlier Sluice versions hold): its transaction is committed
// and the one left open after it ('<prefix>-0-2') aborted.
func TestExactlyOnceRestoresVersion1State(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eov1", 1, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eov1", "eov1")
	s1 := h.openSink(t, tbl)
	s1.restore(t, nil, 0)
	pushInts(t, s1.out, 1, 10)
	st := s1.preCommit(t, 1)
	pushInts(t, s1.out, 11, 15) // open: eov1-0-2
	kafka.Crash(t, s1.out)
	// The same checkpoint as the previous format wrote it.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(st, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["writers"]; !ok {
		t.Fatalf("state %s has no 'writers'", st)
	}
	delete(m, "writers")
	m["v"] = json.RawMessage("1")
	old, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(old), `{"next":2,"pending":[{"checkpoint":1,"id":"eov1-0-1",`; len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("version 1 state %s, want it to start %s", got, want)
	}

	s2 := h.openSink(t, tbl)
	s2.restore(t, old, 1)
	if ok, desc := stableOffsets(t, h.addr, "eov1"); !ok {
		t.Fatalf("after the restore of %s a transaction is still open:%s (%s)", old, desc, s2.stderr)
	}
	pushInts(t, s2.out, 16, 20)
	st2 := s2.preCommit(t, 2)
	if got, want := pendingIDs(t, st2), []string{"eov1-0-3"}; !slices.Equal(got, want) {
		t.Fatalf("checkpoint 2 pre-committed %v, want %v; state %s", got, want, st2)
	}
	s2.commit(t, 2)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eov1", 1), ints(1, 10, ints(16, 20)); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
	if s1.stderr.Len()+s2.stderr.Len() > 0 {
		t.Fatalf("warnings: %s%s", s1.stderr, s2.stderr)
	}
}

// TestExactlyOnceWritersSharingAnIndex: the engine may give two writers one subtask index (several groups of
// subtasks); their transactions still get ids of their own, and the sink's own Push (writer 0) takes a free
// index too, so no two producers fence each other.
func TestExactlyOnceWritersSharingAnIndex(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("eos", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "eos", "eos")
	s := h.openSink(t, tbl)
	co := s.out.(connectors.ConcurrentOutput)
	var ws []connectors.SubtaskWriter
	for _, i := range []int{0, 0, 1} {
		w, err := co.NewSubtaskWriter(i)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	s.restore(t, nil, 0)
	pushSpread(t, ws, 1, 30)
	pushInts(t, s.out, 31, 35) // writer 0 of the sink's own Push
	st := s.preCommit(t, 1)
	if got, want := pendingIDs(t, st), []string{"eos-0-1", "eos-1-1", "eos-2-1", "eos-3-1"}; !slices.Equal(got, want) {
		t.Fatalf("pre-committed %v, want %v; state %s", got, want, st)
	}
	s.commit(t, 1)
	if err := s.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCommittedInts(t, h.addr, "eos", 2), ints(1, 35); !equalInts(got, want) {
		t.Fatalf("read_committed sees %v, want %v", got, want)
	}
	if s.stderr.Len() > 0 {
		t.Fatalf("warnings: %s", s.stderr)
	}
}
