package crashtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// Kills of scale-out members that are restarted: three sql-client processes run one job, and members
// picked at random are killed with SIGKILL at random moments and started again, so that partitions move
// to the survivors and back to the new process, each move a restore from the stages' changelog topics.

// scaleOutRestartKillResult is what scaleOutRestartKills saw.
type scaleOutRestartKillResult struct {
	total    int           // input units fed
	kills    int           // members killed (and restarted)
	took     time.Duration // from the last restart to the exact output
	restored int           // state entries that members restored after the first kill
}

// scaleOutRestartKills runs query (scaleOutScript's INSERT and the tables it needs) in three processes (a
// scale-out group) over the input that start(addr) produces and goes on feeding, waits until every member
// restored its partitions and working(addr) holds, then min(-crash.kills, 3) times: waits 0.5 to 3 s,
// kills a random member with SIGKILL, starts it again 0 to 2.5 s later (before or after its session of 2 s
// expired) and waits until the new process restored its partitions. The feed stops 2 s after the last
// restart; diff(addr, units fed) compares the output with the one expected ("" when equal). It fails the
// test if a member ended by itself, the output is not exact within 60 s, or (with kills) no member
// restored state entries after the first kill.
func scaleOutRestartKills(t *testing.T, query string, start func(addr string) *feeder, working func(addr string) bool,
	diff func(addr string, total int) string) scaleOutRestartKillResult {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	f := start(addr)
	sql := scaleOutScript(addr, query)
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return working(addr) })
	// base is each process's restored entries when the first kill comes (0 for the ones started later).
	base := map[*proctest.Client]int{}
	for _, c := range members {
		base[c] = restoredEntries(c.Output())
	}
	all := slices.Clone(members)
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
	for range n {
		time.Sleep(randomDelay(rng, 500*time.Millisecond, 3*time.Second))
		checkAlive()
		i := rng.IntN(len(members))
		members[i].Kill()
		time.Sleep(randomDelay(rng, 0, 2500*time.Millisecond))
		c := proctest.Start(t, clientBin, dir, sql)
		t.Cleanup(c.Kill)
		members[i], all = c, append(all, c)
		if !waitFor(30*time.Second, func() bool { return strings.Contains(c.Output(), "restored partitions") || c.Exited() }) || c.Exited() {
			t.Fatalf("the restarted member %d did not restore its partitions:\n%s", i, dump())
		}
	}
	restartedAt := time.Now()
	time.Sleep(2 * time.Second)
	total := f.end()
	var d string
	ok := waitFor(60*time.Second, func() bool {
		d = diff(addr, total)
		return d == ""
	})
	checkAlive()
	if !ok {
		t.Fatalf("after %d kills (%d input units): %s\n%s", n, total, d, dump())
	}
	restored := 0
	for _, c := range all {
		restored += restoredEntries(c.Output()) - base[c]
	}
	if n > 0 && restored == 0 {
		t.Fatalf("no member restored state from the changelogs after the kills:\n%s", dump())
	}
	return scaleOutRestartKillResult{total: total, kills: n, took: time.Since(restartedAt), restored: restored}
}

// diffKeyed compares a compacted output got with want, both key -> value, as "" when equal or else the
// counts of keys lost (wanted, absent), unexpected (present, not wanted) and wrong (another value: a row
// taken twice, or ranked or counted from lost state), with an example.
func diffKeyed(got, want map[string]string) string {
	lost, extra, wrong, example := 0, 0, 0, ""
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			lost++
			if example == "" {
				example = fmt.Sprintf("key %s lost, want %s", k, want[k])
			}
		case g != want[k]:
			wrong++
			if example == "" {
				example = fmt.Sprintf("key %s is %s, want %s", k, g, want[k])
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			extra++
			if example == "" {
				example = fmt.Sprintf("key %s unexpected: %s", k, g)
			}
		}
	}
	if lost+extra+wrong == 0 {
		return ""
	}
	return fmt.Sprintf("of %d keys %d lost, %d wrong, %d unexpected (%s)", len(want), lost, wrong, extra, example)
}

// compactedOf reads topic (read_committed) as a compacted topic reads, a record's key and value written as
// their columns' JSON texts joined by "/" (keyCols, valCols; a missing column or a null as "null").
func compactedOf(t *testing.T, addr, topic string, keyCols, valCols []string) map[string]string {
	t.Helper()
	join := func(raw []byte, cols []string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("unreadable record %q in '%s': %v", raw, topic, err)
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			if parts[i] = string(m[c]); parts[i] == "" {
				parts[i] = "null"
			}
		}
		return strings.Join(parts, "/")
	}
	got := map[string]string{}
	for _, r := range consume(t, addr, topic, true) {
		k := join(r.Key, keyCols)
		if r.Value == nil {
			delete(got, k)
			continue
		}
		got[k] = join(r.Value, valCols)
	}
	return got
}
