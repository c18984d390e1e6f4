package engine

import (
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
	checkFreshStart(t, a, 2, aOut)

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
	restoredB := checkJoinHandover(t, a, b, 1, aOut, bOut)

	// B leaves: A owns both partitions again; B wrote one of them.
	leaveGroup(t, b, addr, "temporal-job", rep, 2, aOut)
	produceRecords(t, addr, d.secondsTo(40, 50, true, -1))
	check("member A after B left", 48, aOut, bOut)
	checkKeptOverRebalances(t, a, 2, restoredB, aOut)
}
