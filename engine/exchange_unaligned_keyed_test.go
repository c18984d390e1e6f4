package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
)

// TestUnalignedKeyedInFlight: unaligned barriers into exchanges fed by keyed subtasks (exec:
// exchange_unaligned_keyed.go), at parallelism 2. A GROUP BY's subtask of user 0 blocks in its forward chain
// (the function hold) while the sources queue rows behind it; a checkpoint starts then. The other first-level
// subtask takes its barrier and forwards it: the second-level subtasks cut their state at that first barrier.
// Then the blocked subtask goes on: the -U/+U of user 0 it sends before its own barrier are in flight on its
// channel, recorded as channel state of the second level's exchange. A job restored from the checkpoint
// replays them before its new input: the levels are exact. With the replay skipped (noChannelReplay) they are
// not. Shapes: GROUP BY → GROUP BY into the sink (the second level holds what comes after its first barrier
// until the release), and GROUP BY → GROUP BY → GROUP BY (the middle one feeds another exchange: it writes its
// state and forwards the barrier at its first barrier, and runs on).
func TestUnalignedKeyedInFlight(t *testing.T) {
	for _, shape := range []struct{ name, insert string }{
		{"twolevel", `INSERT INTO levels SELECT cnt, COUNT(*) FROM (SELECT user_id, hold(user_id, COUNT(*)) AS cnt FROM p GROUP BY user_id) GROUP BY cnt`},
		{"threelevel", `INSERT INTO levels SELECT users, COUNT(*) FROM (SELECT cnt, COUNT(*) AS users FROM (SELECT user_id, hold(user_id, COUNT(*)) AS cnt FROM p GROUP BY user_id) GROUP BY cnt) GROUP BY users`},
	} {
		want := levelsWant
		if shape.name == "threelevel" {
			want = levelsOfLevelsWant
		}
		for _, mode := range []string{"replay", "hook"} {
			t.Run(shape.name+"/"+mode, func(t *testing.T) {
				unalignedKeyedInFlight(t, shape.insert, mode == "hook", want)
			})
		}
	}
}

func unalignedKeyedInFlight(t *testing.T, insert string, skip bool, want func(int) map[string]string) {
	addr := exchangeBroker(t)
	const n0, more, after = 37 * 20, 37 * 20, 37 * 10
	produceExchangeOrders(t, addr, "ord", 0, n0)
	u, armed, blocked, release := newUserHold(t, 0)
	s, notice := barrierSession(t, addr, 2, "1 h", u)
	execScript(t, s, unalignedOn+"SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\n")
	j := startInsert(t, s, insert)
	released := false
	defer func() {
		if !released {
			close(release)
		}
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	waitUpsert(t, addr, "levels", want(n0))
	if strings.Contains(notice.String(), "stay aligned") {
		t.Fatalf("a warning that barriers stay aligned:\n%s", notice)
	}
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if len(g.exchanges) < 2 || !g.barrierCheckpoints() {
		t.Fatalf("%d exchanges, barrier checkpoints %v; want keyed → keyed exchanges cut with barriers", len(g.exchanges), g.barrierCheckpoints())
	}
	for _, r := range g.exchanges {
		if !r.x.CanUnalign() {
			t.Fatalf("the barriers of %s stay aligned", r.name)
		}
	}
	// built from the sink up: the last is the first GROUP BY's (fed by the sources), the one before it the
	// exchange it feeds
	first, fed := g.exchanges[len(g.exchanges)-1].x, g.exchanges[len(g.exchanges)-2].name
	armed.Store(true)
	produceExchangeOrders(t, addr, "ord", n0, 1) // order n0: user 0
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("the keyed subtask of user 0 never called hold")
	}
	before := first.Pending()
	produceExchangeOrders(t, addr, "ord", n0+1, more)
	if !waitUntil(20*time.Second, func() bool { return first.Pending() >= before+2 }) {
		t.Fatalf("the sources queued nothing behind the blocked item (%d items pending)\n%s", first.Pending(), notice)
	}
	if !waitUntil(20*time.Second, func() bool { return j.Metrics().RowsIn >= n0+1+more }) {
		t.Fatalf("the sources read %d of %d orders", j.Metrics().RowsIn, n0+1+more)
	}
	c0 := exec.UnalignedTotals()
	// the second level's subtasks both cut their state at the barrier the other first-level subtask forwarded
	path := checkpointHeld(t, g, "the second-level subtasks did not both cut at a first barrier",
		func() bool { return exec.UnalignedTotals().Cuts-c0.Cuts >= 2 }, func() { close(release); released = true })
	c1 := exec.UnalignedTotals()
	t.Logf("items recorded per channel %d, written %d", c1.PerChannel-c0.PerChannel, c1.Written-c0.Written)
	if c1.PerChannel-c0.PerChannel < 1 || c1.Written-c0.Written < 1 {
		t.Fatalf("recorded %d items per channel, the checkpoint wrote %d; want both > 0", c1.PerChannel-c0.PerChannel, c1.Written-c0.Written)
	}
	total := n0 + 1 + more
	waitUpsert(t, addr, "levels", want(total))
	j.Cancel()
	_ = j.Wait(context.Background())

	noChannelReplay = skip
	defer func() { noChannelReplay = false }()
	s2, notice2 := barrierSession(t, addr, 2, "1 h", u)
	execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
	j2 := startInsert(t, s2, insert)
	defer func() {
		j2.Cancel()
		_ = j2.Wait(context.Background())
	}()
	if !skip && !keyedRestoreNoted(notice2.String(), fed) {
		t.Fatalf("no notice of in-flight rows of %s restored:\n%s", fed, notice2)
	}
	produceExchangeOrders(t, addr, "ord", total, after)
	total += after
	got := settledUpsert(t, j2, addr, "levels", after)
	exact := fmt.Sprint(got) == fmt.Sprint(want(total))
	c2 := exec.UnalignedTotals()
	t.Logf("items replayed %d", c2.Replayed-c1.Replayed)
	switch {
	case !skip && !exact:
		t.Fatalf("restored from an unaligned checkpoint: levels\n%v\nwant\n%v", got, want(total))
	case !skip && c2.Replayed-c1.Replayed < 1:
		t.Fatal("no item of channel state was replayed")
	case skip && exact:
		t.Fatal("the levels are exact with the channel state dropped: the test does not see the replay")
	}
}

// keyedRestoreNoted reports whether notice tells of in-flight rows of exchange name restored.
func keyedRestoreNoted(notice, name string) bool {
	for _, l := range strings.Split(notice, "\n") {
		if strings.HasPrefix(l, "[INFO] Restored ") && strings.Contains(l, " in-flight rows of "+name+" from ") {
			return true
		}
	}
	return false
}

// levelsOfLevelsWant is, after n orders (user i % 37), per number of users sharing an order count the number of
// such counts.
func levelsOfLevelsWant(n int) map[string]string {
	per := map[int]int{}
	for i := range n {
		per[i%37]++
	}
	users := map[int]int{}
	for _, c := range per {
		users[c]++
	}
	counts := map[int]int{}
	for _, u := range users {
		counts[u]++
	}
	want := map[string]string{}
	for u, c := range counts {
		want[fmt.Sprintf(`{"cnt":%d}`, u)] = fmt.Sprintf(`{"cnt":%d,"users":%d}`, u, c)
	}
	return want
}
