package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestScaleOutTemporalJoinKeepsStateOverRebalance: a member running a LEFT temporal join keeps the state
// (waiting orders, versions, source watermarks) of the repartition partition it owns again after a
// rebalance whose changelog partition nobody wrote in between, and restores the one that the other member
// wrote. Member A runs alone, member B joins (A keeps one partition, B restores the other) and leaves
// again (A keeps its partition again and restores B's). The rows equal those of a P=1 job and of the input
// at every phase, and A never reads a changelog record of the partition it owned throughout (unless a
// transaction of A's that a rebalance aborted dropped it).
func TestScaleOutTemporalJoinKeepsStateOverRebalance(t *testing.T) {
	addr := temporalCluster(t)
	const rep = "temporal-job-join-repartition"
	d := &tjData{}
	produceRecords(t, addr, d.secondsTo(0, 20, true, -1))
	script, single := temporalScripts(addr, "LEFT")
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	check := func(what string, wm int, outs ...*syncBuffer) {
		t.Helper()
		want := d.want(true, wm)
		var got, got1 []string
		if !waitUntil(40*time.Second, func() bool {
			got, got1 = readPriced(t, addr, "priced"), readPriced(t, addr, "priced1")
			return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
		}) {
			var texts []string
			for _, o := range outs {
				texts = append(texts, o.String())
			}
			t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
				what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), strings.Join(texts, "\n---\n"))
		}
	}
	check("one member", 18, aOut)
	restored0, _, _ := a.scaleOut.snapshot()
	if len(restored0) != 2 {
		t.Fatalf("member A restored partitions %v at start, want both\n%s", restored0, aOut)
	}
	for p, c := range restored0 {
		if c != 0 {
			t.Fatalf("member A read %d changelog records of partition %d at start, the changelog was empty\n%s", c, p, aOut)
		}
	}

	// B joins while no rows come.
	b, bOut := startTestMember(t, script)
	var parts map[string][]int32
	if !waitUntil(30*time.Second, func() bool {
		var k int
		k, parts = groupMembers(t, addr, "temporal-job", rep)
		return k == 2 && len(parts) == 2 && len(parts[firstKey(parts)]) == 1
	}) {
		t.Fatalf("member B did not join: %v\n%s\n---\n%s", parts, aOut, bOut)
	}
	produceRecords(t, addr, d.secondsTo(20, 40, true, -1))
	check("two members", 38, aOut, bOut)
	_, kept1, _ := a.scaleOut.snapshot()
	restoredB, _, _ := b.scaleOut.snapshot()
	if len(kept1) != 1 || len(restoredB) != 1 {
		t.Fatalf("B joined: A kept partitions %v, B restored %v; want one each\n%s\n---\n%s", kept1, restoredB, aOut, bOut)
	}
	for p := range restoredB {
		if kept1[p] > 0 {
			t.Fatalf("A kept partition %d, which B owns\n%s", p, aOut)
		}
		if restoredB[p] == 0 {
			t.Fatalf("B read no changelog record of partition %d, which A wrote\n%s", p, bOut)
		}
	}

	// B leaves: A owns both partitions again; B wrote one of them.
	b.Cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	_ = b.Wait(wctx)
	if !waitUntil(30*time.Second, func() bool {
		k, parts := groupMembers(t, addr, "temporal-job", rep)
		return k == 1 && len(parts[firstKey(parts)]) == 2
	}) {
		t.Fatalf("the group did not rebalance to member A alone\n%s", aOut)
	}
	produceRecords(t, addr, d.secondsTo(40, 50, true, -1))
	check("member A after B left", 48, aOut, bOut)
	restored, kept, _ := a.scaleOut.snapshot()
	aborted := a.scaleOut.abortDrops()
	for p := range int32(2) {
		if _, ofB := restoredB[p]; ofB {
			if restored[p] == 0 || kept[p] != 0 {
				t.Fatalf("partition %d, written by B: A read %d changelog records of it and kept it %d times; want a restore\n%s", p, restored[p], kept[p], aOut)
			}
			continue
		}
		if aborted[p] > 0 {
			// A rebalance aborted a transaction of A's that touched the partition: it was dropped and
			// restored, so A kept it at least once.
			if kept[p] < 1 {
				t.Fatalf("partition %d, A's throughout: A kept it %d times (want at least 1; %d aborted transactions dropped it)\n%s", p, kept[p], aborted[p], aOut)
			}
			continue
		}
		if kept[p] != 2 || restored[p] != 0 {
			t.Fatalf("partition %d, A's throughout: A kept it %d times (want 2) and read %d changelog records of it (want 0)\n%s", p, kept[p], restored[p], aOut)
		}
	}
	t.Logf("A kept %v, read changelog records %v (dropped after aborted transactions: %v); B read %v", kept, restored, aborted, restoredB)
}
