package crashtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/proctest"
)

// Kills of scale-out members in the middle of a backlog: the orders are there before any member runs, and
// a member's poll (so its transaction) is capped at 'sluice.scale-out.max-poll-records' records, so the
// members work the backlog off in many transactions. A member killed between two of them must have
// committed exactly the offsets of the records it processed: the next owner of its partitions goes on from
// there, with the state of the same transactions.

const (
	backlogKillOrders = 40000 // the backlog, over the 8 partitions of 'orders'
	backlogKillUsers  = 500
	backlogKillCap    = 100 // 'sluice.scale-out.max-poll-records'
	// backlogKillCommit is how long the broker takes to answer a transaction's commit (EndTxn). A member's
	// transaction holds at most 100 records (of stage 1 or 2) and takes at least 100 ms, so three members
	// process at most 3000 records a second: the backlog's 80000 (each order once in either stage) take
	// over 26 s on any machine, long enough for the kills to come inside it.
	backlogKillCommit = 100 * time.Millisecond
)

// TestScaleOutBacklogKill: 40000 orders wait in 'orders' when three members of a GROUP BY job into
// upsert-kafka start with 'sluice.scale-out.max-poll-records' = '100'. From the first rows aggregated on,
// while they join and work the backlog off (and orders keep coming), a random member is killed with
// SIGKILL and started again, min(-crash.kills, 3) times, each kill while the rows that committed
// transactions aggregated (the group's committed offsets on the repartition topic) are fewer than the
// backlog: the output is still incomplete. The compacted output must then equal the totals of every order
// fed (users absent, orders lost and orders counted twice are counted apart), and the brokers must have
// ended at least 2 x 40000 / 100 transactions (each order goes through stage 1 and stage 2, in transactions
// of at most 100 records).
func TestScaleOutBacklogKill(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	addr, cluster := scaleOutBroker(t)
	ends := slowEndTxn(cluster, backlogKillCommit)
	dir := t.TempDir()
	for i := 0; i < backlogKillOrders; i += 5000 {
		produce(t, addr, "orders", orders(i, 5000, backlogKillUsers))
	}
	adm := backlogAdmin(t, addr)
	sql := scaleOutScript(addr, fmt.Sprintf("SET 'sluice.scale-out.max-poll-records' = '%d';\n%s", backlogKillCap, scaleOutQuery))
	started := time.Now()
	// The kills start as soon as the job has aggregated rows, while the members may still be joining.
	var members []*proctest.Client
	for range 3 {
		c := proctest.Start(t, clientBin, dir, sql)
		t.Cleanup(c.Kill)
		members = append(members, c)
	}
	if !waitFor(30*time.Second, func() bool {
		_, rep := committedOffsets(t, adm)
		return rep > 0
	}) {
		t.Fatalf("the members did not start working:\n%s\n---\n%s\n---\n%s", indent(members[0].Output()), indent(members[1].Output()), indent(members[2].Output()))
	}
	f := feedSlowly(t, addr, backlogKillOrders, backlogKillUsers)
	dump := func() string {
		var b strings.Builder
		for i, c := range members {
			fmt.Fprintf(&b, "member %d:\n%s\n", i, indent(c.Output()))
		}
		return b.String()
	}
	checkAlive := func() {
		t.Helper()
		for i, c := range members {
			if c.Exited() {
				t.Fatalf("member %d ended by itself:\n%s", i, dump())
			}
		}
	}
	n := min(*kills, 3)
	var at []string                  // the group's committed offsets at each kill
	var restarted []*proctest.Client // the members started again
	for k := range n {
		time.Sleep(randomDelay(rng, 300*time.Millisecond, 1500*time.Millisecond))
		checkAlive()
		src, rep := committedOffsets(t, adm)
		if rep >= backlogKillOrders {
			t.Fatalf("kill %d of %d would come after the backlog was aggregated (repartition offsets %d committed of a backlog of %d, %s after the start): it would test no kill in a backlog",
				k+1, n, rep, backlogKillOrders, time.Since(started).Round(100*time.Millisecond))
		}
		at = append(at, fmt.Sprintf("%d/%d", src, rep))
		i := rng.IntN(len(members))
		members[i].Kill()
		time.Sleep(randomDelay(rng, 0, 2500*time.Millisecond))
		c := proctest.Start(t, clientBin, dir, sql)
		t.Cleanup(c.Kill)
		members[i], restarted = c, append(restarted, c)
		if !waitFor(30*time.Second, func() bool { return strings.Contains(c.Output(), "restored partitions") || c.Exited() }) || c.Exited() {
			t.Fatalf("the restarted member %d did not restore its partitions:\n%s", i, dump())
		}
	}
	time.Sleep(time.Second)
	total := f.end()
	want := expectedTotals(total, backlogKillUsers)
	var d string
	if !waitFor(60*time.Second, func() bool {
		d = diffCounted(totalsOf(t, addr), want)
		return d == ""
	}) {
		t.Fatalf("after %d kills at %v (committed source/repartition offsets) in a backlog of %d orders (%d in all): %s\n%s",
			n, at, backlogKillOrders, total, d, dump())
	}
	checkAlive()
	restored := 0
	for _, c := range restarted {
		restored += restoredEntries(c.Output())
	}
	if n > 0 && restored == 0 {
		t.Fatalf("no restarted member restored state entries from the changelog:\n%s", dump())
	}
	if e, least := ends.Load(), int64(2*backlogKillOrders/backlogKillCap); e < least {
		t.Fatalf("the brokers ended %d transactions, want at least %d: a transaction held more than %d records", e, least, backlogKillCap)
	}
	t.Logf("%d kills at %v (committed source/repartition offsets) in a backlog of %d orders; %d orders in all, %d transactions ended, the restarted members restored %d state entries, totals of %d users exact %s after the start",
		n, at, backlogKillOrders, total, ends.Load(), restored, len(want), time.Since(started).Round(100*time.Millisecond))
}

// backlogAdmin is an admin client of the broker at addr, closed when the test ends.
func backlogAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committedOffsets sums the offsets that the job's group ('totals-job') committed on 'orders' (the source
// records of committed transactions) and on its repartition topic: at least the rows that committed
// transactions aggregated (the repartition topic's offsets count its transaction markers too), so a sum
// below the backlog means that the output does not have the backlog's totals yet.
func committedOffsets(t *testing.T, adm *kadm.Client) (orders, repartition int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, "totals-job")
	if err == nil {
		err = offs.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, 0 // no member has joined yet
	}
	if err != nil {
		t.Fatalf("committed offsets of group 'totals-job': %v", err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		switch {
		case o.At <= 0:
		case o.Topic == "orders":
			orders += o.At
		case strings.HasSuffix(o.Topic, "-repartition"):
			repartition += o.At
		}
	})
	return orders, repartition
}

// feedSlowly produces orders n0, n0+1, ... (users as orders does) in batches of 20 every 50 ms until end:
// new input beside the backlog, slower than the members work, so that the backlog shrinks.
func feedSlowly(t *testing.T, addr string, n0, users int) *feeder {
	return feedEvery(t, addr, "orders", n0, users, 20, 50*time.Millisecond, false)
}

// diffCounted describes how the totals got differ from want ("" when equal): users absent, users with
// fewer orders than fed (orders lost), users with more (orders counted twice), users with the right count
// and a wrong sum, and users not fed, with an example.
func diffCounted(got, want map[int64]userTotal) string {
	absent, fewer, more, sum, extra, example := 0, 0, 0, 0, 0, ""
	note := func(s string) {
		if example == "" {
			example = s
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		w := want[k]
		switch {
		case !ok:
			absent++
			note(fmt.Sprintf("user %d absent, want %+v", k, w))
		case g.Cnt < w.Cnt:
			fewer++
			note(fmt.Sprintf("user %d: %+v, want %+v", k, g, w))
		case g.Cnt > w.Cnt:
			more++
			note(fmt.Sprintf("user %d: %+v, want %+v", k, g, w))
		case g.Total != w.Total:
			sum++
			note(fmt.Sprintf("user %d: %+v, want %+v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			extra++
			note(fmt.Sprintf("user %d unexpected: %+v", k, g))
		}
	}
	if absent+fewer+more+sum+extra == 0 {
		return ""
	}
	return fmt.Sprintf("of %d users %d absent, %d with orders lost, %d with orders counted twice, %d with a wrong sum, %d unexpected (%s)",
		len(want), absent, fewer, more, sum, extra, example)
}
