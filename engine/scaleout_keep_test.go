package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMembers returns the members of the job's group once it is stable, with the repartition partitions
// each was given (-1: not stable yet).
func groupMembers(t *testing.T, addr, group, rep string) (int, map[string][]int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return -1, nil
	}
	g, ok := gs[group]
	if !ok || g.Err != nil || g.State != "Stable" {
		return -1, nil
	}
	parts := map[string][]int32{}
	for _, mem := range g.Members {
		if a, ok := mem.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				if tp.Topic == rep {
					parts[mem.MemberID] = tp.Partitions
				}
			}
		}
	}
	return len(g.Members), parts
}

// TestScaleOutKeepsStateOverRebalance: a member keeps the state of the partitions it owns again after a
// rebalance whose changelog partitions nobody wrote in between, and restores those that another member
// wrote. Member A runs alone (its restore at start reads empty changelog partitions), member B joins (A
// keeps the four partitions it is left, B restores the other four) and leaves again (A keeps its four
// again and restores B's four, which B wrote). The totals are those of one member throughout, and A never
// reads a changelog record of its own partitions.
func TestScaleOutKeepsStateOverRebalance(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 100
	const rep = "totals-job-agg-repartition"
	produceOrders(t, addr, 0, 3000, users)
	script := scaleOutTestScript(addr, scaleOutTotalsDDL,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`)
	a, aOut := startTestMember(t, script)
	var got map[int64]testTotal
	n := 3000
	waitTotals := func(what string, outs ...*syncBuffer) {
		t.Helper()
		if !waitUntil(40*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(n, users)) }) {
			t.Fatalf("%s: got %v, want %v\n%s", what, got, wantTotals(n, users), outs)
		}
	}
	waitTotals("one member", aOut)
	checkFreshStart(t, a, 8, aOut)

	// B joins while no orders come (A is between transactions at the rebalance).
	b, bOut := startTestMember(t, script)
	var parts map[string][]int32
	if !waitUntil(30*time.Second, func() bool {
		var k int
		k, parts = groupMembers(t, addr, "totals-job", rep)
		return k == 2 && len(parts) == 2 && len(parts[firstKey(parts)]) == 4
	}) {
		t.Fatalf("member B did not join: %v\n%s\n---\n%s", parts, aOut, bOut)
	}
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	waitTotals("two members", aOut, bOut)
	restoredB := checkJoinHandover(t, a, b, 4, aOut, bOut)

	// B leaves: A owns every partition again; B wrote four of them.
	leaveGroup(t, b, addr, "totals-job", rep, 8, aOut)
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	waitTotals("member A after B left", aOut, bOut)
	checkKeptOverRebalances(t, a, 8, restoredB, aOut)
}

func firstKey(m map[string][]int32) string {
	for k := range m {
		return k
	}
	return ""
}

// TestScaleOutRestoresRewrittenPartition: a member restores a partition it owns again after a rebalance when
// its changelog partition was written in between by someone else (here a producer that commits again the
// last record of every changelog partition, as another member or a zombie would write: the state it gives
// is the same, so the totals stay exact), although no other member owned the partition.
func TestScaleOutRestoresRewrittenPartition(t *testing.T) {
	addr := scaleOutTestBroker(t)
	const users = 100
	const rep, cl = "totals-job-agg-repartition", "totals-job-agg-changelog"
	produceOrders(t, addr, 0, 3000, users)
	script := scaleOutTestScript(addr, scaleOutTotalsDDL,
		`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`)
	a, aOut := startTestMember(t, script)
	var got map[int64]testTotal
	n := 3000
	waitTotals := func(what string, outs ...*syncBuffer) {
		t.Helper()
		if !waitUntil(40*time.Second, func() bool { got = readTotals(t, addr); return fmt.Sprint(got) == fmt.Sprint(wantTotals(n, users)) }) {
			t.Fatalf("%s: got %v, want %v\n%s", what, got, wantTotals(n, users), outs)
		}
	}
	waitTotals("one member", aOut)

	// Another writer commits the last record of every changelog partition again.
	last := map[int32]*kgo.Record{}
	for _, r := range readCommitted(t, addr, cl) {
		last[r.Partition] = r
	}
	if len(last) != 8 {
		t.Fatalf("the changelog has records in partitions %v, want 8", last)
	}
	w, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("another-writer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p, r := range last {
		if err := w.ProduceSync(ctx, &kgo.Record{Topic: cl, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	// B joins: A owns four partitions again, each written by the other writer since A's last transaction.
	_, bOut := startTestMember(t, script)
	var parts map[string][]int32
	if !waitUntil(30*time.Second, func() bool {
		var k int
		k, parts = groupMembers(t, addr, "totals-job", rep)
		return k == 2 && len(parts) == 2 && len(parts[firstKey(parts)]) == 4
	}) {
		t.Fatalf("member B did not join: %v\n%s\n---\n%s", parts, aOut, bOut)
	}
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	waitTotals("two members", aOut, bOut)
	restored, kept, _ := a.scaleOut.snapshot()
	if len(kept) != 0 {
		t.Fatalf("A kept partitions %v whose changelog another writer wrote\n%s", kept, aOut)
	}
	again := 0
	for _, c := range restored {
		if c > 0 {
			again++ // at start A read empty partitions
		}
	}
	if again != 4 {
		t.Fatalf("A read changelog records %v: want a restore of the 4 partitions it owns again\n%s", restored, aOut)
	}
}

// TestScaleOutKeepBookkeeping: a committed transaction moves the known end of the partitions it wrote behind
// its commit marker (and forgets it when a record's offset is unknown); an aborted one drops the state of
// the partitions that got rows or changelog records in it and keeps the others; a rebalance holds the
// partitions whose end is known and the new assignment drops those it did not give back.
func TestScaleOutKeepBookkeeping(t *testing.T) {
	m := &member{rep: "rep", parts: map[int32]*aggPart{}, jparts: map[int32]*joinPart{}, rparts: map[int32]*rankPart{},
		ivTouched: map[int32]*winPart{}}
	m.keep.init(8, newScaleOutStats())
	for p := range int32(5) {
		m.parts[p] = &aggPart{part: p}
		m.keep.restoredFrom(p, 10*int64(p), 0)
	}
	m.keep.delivered(1, 30, nil)
	m.keep.delivered(1, 31, nil)
	m.keep.delivered(2, -1, nil) // the producer did not report the offset
	m.keep.committed()
	want := map[int32]int64{0: 0, 1: 33, 3: 30, 4: 40}
	if fmt.Sprint(m.keep.ends) != fmt.Sprint(want) {
		t.Fatalf("after a commit: ends %v, want %v", m.keep.ends, want)
	}

	m.keep.touch(3)              // got rows in the aborted transaction
	m.keep.delivered(4, 50, nil) // wrote its changelog in it
	m.dropAborted()
	if len(m.parts) != 3 || m.parts[3] != nil || m.parts[4] != nil {
		t.Fatalf("after an abort: partitions %v loaded, want 0, 1 and 2", m.parts)
	}
	want = map[int32]int64{0: 0, 1: 33}
	if fmt.Sprint(m.keep.ends) != fmt.Sprint(want) {
		t.Fatalf("after an abort: ends %v, want %v", m.keep.ends, want)
	}

	m.hold() // partition 2's end is unknown: not held
	if len(m.parts) != 0 || len(m.keep.held) != 2 || m.keep.held[0].agg == nil || m.keep.held[1].agg == nil {
		t.Fatalf("after a revoke: loaded %v, held %v; want 0 and 1 held", m.parts, m.keep.held)
	}
	m.assignedHeld(map[string][]int32{"rep": {1, 5}, "src": {0}})
	if len(m.keep.held) != 1 || m.keep.held[1].agg == nil || fmt.Sprint(m.keep.ends) != "map[1:33]" {
		t.Fatalf("after the assignment: held %v, ends %v; want partition 1 at 33", m.keep.held, m.keep.ends)
	}
}

// checkFreshStart checks that member a, alone on an empty changelog, restored all n partitions and read no
// record of any.
func checkFreshStart(t *testing.T, a *Job, n int, aOut *syncBuffer) {
	t.Helper()
	restored0, _, _ := a.scaleOut.snapshot()
	if len(restored0) != n {
		t.Fatalf("member A restored partitions %v at start, want all %d\n%s", restored0, n, aOut)
	}
	for p, c := range restored0 {
		if c != 0 {
			t.Fatalf("member A read %d changelog records of partition %d at start, the changelog was empty\n%s", c, p, aOut)
		}
	}
}

// checkJoinHandover checks the partitions after member b joined a's group: a kept want partitions and b
// restored want others, reading the changelog records a wrote of each; it returns what b restored.
func checkJoinHandover(t *testing.T, a, b *Job, want int, aOut, bOut *syncBuffer) map[int32]int64 {
	t.Helper()
	_, kept1, _ := a.scaleOut.snapshot()
	restoredB, _, _ := b.scaleOut.snapshot()
	if len(kept1) != want || len(restoredB) != want {
		t.Fatalf("B joined: A kept partitions %v, B restored %v; want %d each\n%s\n---\n%s", kept1, restoredB, want, aOut, bOut)
	}
	for p := range restoredB {
		if kept1[p] > 0 {
			t.Fatalf("A kept partition %d, which B owns\n%s", p, aOut)
		}
		if restoredB[p] == 0 {
			t.Fatalf("B read no changelog record of partition %d, which A wrote\n%s", p, bOut)
		}
	}
	return restoredB
}

// leaveGroup cancels member b and waits until the group of job (repartition topic rep) is one member owning
// all n partitions.
func leaveGroup(t *testing.T, b *Job, addr, job, rep string, n int, aOut *syncBuffer) {
	t.Helper()
	b.Cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	_ = b.Wait(wctx)
	if !waitUntil(30*time.Second, func() bool {
		k, parts := groupMembers(t, addr, job, rep)
		return k == 1 && len(parts[firstKey(parts)]) == n
	}) {
		t.Fatalf("the group did not rebalance to member A alone\n%s", aOut)
	}
}

// checkKeptOverRebalances checks member a's n partitions after b joined and left: those b wrote (restoredB)
// a restored from the changelog; its own it kept over both rebalances without reading a record, or, when a
// rebalance aborted a transaction of a's that touched one (franz-go aborts one that is open when a
// rebalance begins), kept it at least once.
func checkKeptOverRebalances(t *testing.T, a *Job, n int32, restoredB map[int32]int64, aOut *syncBuffer) {
	t.Helper()
	restored, kept, _ := a.scaleOut.snapshot()
	aborted := a.scaleOut.abortDrops()
	for p := range n {
		if _, ofB := restoredB[p]; ofB {
			if restored[p] == 0 || kept[p] != 0 {
				t.Fatalf("partition %d, written by B: A read %d changelog records of it and kept it %d times; want a restore\n%s", p, restored[p], kept[p], aOut)
			}
			continue
		}
		if aborted[p] > 0 {
			if kept[p] < 1 {
				t.Fatalf("partition %d, A's throughout: A kept it %d times (want at least 1; %d aborted transactions dropped it)\n%s", p, kept[p], aborted[p], aOut)
			}
			continue
		}
		if kept[p] != 2 || restored[p] != 0 {
			t.Fatalf("partition %d, A's throughout: A kept it %d times (want 2) and read %d changelog records of it (want 0; no aborted transaction dropped it)\n%s", p, kept[p], restored[p], aOut)
		}
	}
	t.Logf("A kept %v, read changelog records %v (dropped after aborted transactions: %v); B read %v", kept, restored, aborted, restoredB)
}
