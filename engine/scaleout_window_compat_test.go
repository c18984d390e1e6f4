package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// writeOldWindowChangelog makes TestScaleOutWindowRestoresOldChangelog write its golden changelog instead of
// restoring it. The golden was written by the build before window aggregates wrote their changelog per key
// (commit 399aabe, which compared a full snapshot with the changelog): written again by a later build it
// would no longer show that a changelog of that build restores.
var writeOldWindowChangelog = flag.Bool("write-old-window-changelog", false,
	"write testdata/scaleout_window_changelog_v1.records from this build's changelog (only the build before per-key window changelogs should)")

const oldWindowChangelog = "testdata/scaleout_window_changelog_v1.records"

// hopWindowsInsert is a HOP window aggregate (20 s windows every 10 s) of the clicks into topic.
func hopWindowsInsert(topic string) string {
	return `INSERT INTO ` + topic + ` SELECT window_start, window_end, user_id, COUNT(*), SUM(amount)
  FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '20' SECOND)) GROUP BY window_start, window_end, user_id`
}

// wantHopWindows are the 20-second windows every 10 s (start second, user -> count, sum) of the clicks
// 0..to-1 of every partition that end at or before end seconds, as readWindows writes them.
func wantHopWindows(parts, to, end int) []string {
	type agg struct{ cnt, sum int }
	got := map[[2]int]agg{}
	for p := range parts {
		for i := range to {
			for _, w := range []int{i / 10 * 10, i/10*10 - 10} {
				if w+20 > end {
					continue
				}
				k := [2]int{w, (p*7 + i) % 5}
				a := got[k]
				a.cnt++
				a.sum += i%7 + p
				got[k] = a
			}
		}
	}
	var out []string
	for k, a := range got {
		out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", k[0], k[0]+20, k[1], a.cnt, a.sum))
	}
	slices.Sort(out)
	return out
}

// clEntry is one changelog record (value nil: a tombstone).
type clEntry struct {
	part       int32
	key, value []byte
}

// readChangelogTopic reads every committed record of topic, partition by partition in offset order.
func readChangelogTopic(t *testing.T, addr, topic string) []clEntry {
	t.Helper()
	var out []clEntry
	for _, r := range readCommitted(t, addr, topic) {
		out = append(out, clEntry{part: r.Partition, key: r.Key, value: r.Value})
	}
	slices.SortStableFunc(out, func(a, b clEntry) int { return int(a.part - b.part) })
	return out
}

// compactEntries is the compacted view of changelog records: partition -> key -> last value.
func compactEntries(es []clEntry) map[int32]map[string]string {
	out := map[int32]map[string]string{}
	for _, e := range es {
		if out[e.part] == nil {
			out[e.part] = map[string]string{}
		}
		if e.value == nil {
			delete(out[e.part], string(e.key))
		} else {
			out[e.part][string(e.key)] = string(e.value)
		}
	}
	return out
}

// writeChangelogGolden writes records as lines "partition key-hex value-hex" ("-" for a tombstone).
func writeChangelogGolden(t *testing.T, path string, es []clEntry) {
	var b bytes.Buffer
	b.WriteString("# The changelog topic of TestScaleOutWindowRestoresOldChangelog's first member, written by the build\n")
	b.WriteString("# before per-key window changelogs (commit 399aabe): partition, key, value (hex; - = tombstone).\n")
	for _, e := range es {
		v := "-"
		if e.value != nil {
			v = hex.EncodeToString(e.value)
		}
		fmt.Fprintf(&b, "%d %s %s\n", e.part, hex.EncodeToString(e.key), v)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readChangelogGolden reads writeChangelogGolden's file.
func readChangelogGolden(t *testing.T, path string) []clEntry {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []clEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 3 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		p, err := strconv.Atoi(fs[0])
		k, err2 := hex.DecodeString(fs[1])
		if err != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		e := clEntry{part: int32(p), key: k}
		if fs[2] != "-" {
			if e.value, err = hex.DecodeString(fs[2]); err != nil {
				t.Fatalf("%s: bad line %q", path, line)
			}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// scaleOutFingerprint plans the script's INSERT (its last statement) as a member does and returns the plan
// fingerprint its internal records carry.
func scaleOutFingerprint(t *testing.T, script string) string {
	t.Helper()
	s, err := NewSession(Config{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Notice: &syncBuffer{}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := stmts[len(stmts)-1].(*sql.Insert)
	if !ok {
		t.Fatalf("the script's last statement is not an INSERT")
	}
	for _, st := range stmts[:len(stmts)-1] {
		if _, err := s.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	nodes, _, err := s.plan(nil, func(p *planner.Planner) ([]planner.Node, error) {
		n, err := p.PlanInsert(ins)
		return []planner.Node{n}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cutScaleOut(nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	return p.fp
}

// TestScaleOutWindowRestoresOldChangelog: a HOP window aggregate's changelog topic written by the build
// before per-key window changelogs (a golden of its records, made by this test's first phase on that build)
// restores in this build, and a member that takes the job over from it gives exact windows. The first
// member (this build) aggregates 40 s of clicks per partition, in steps, and stops: its changelog, compacted, equals
// the golden's (the same entries in the same encoding). The changelog topic is then replaced by the golden's
// records, and a second member restores it and aggregates 40 s more: every window is written once, with
// exact counts and sums (windows open at the takeover combine rows of both members; a window the golden
// tombstoned would fire twice, one it lost would lack the first member's rows).
func TestScaleOutWindowRestoresOldChangelog(t *testing.T) {
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	script := scaleOutScriptNamed(addr, "hop-job", windowsDDL("hops"), hopWindowsInsert("hops"))
	a, aOut := startTestMember(t, script)
	// In steps of 10 s, so that windows are written to the changelog in one transaction and tombstoned
	// when they fire in a later one.
	for to := 10; to <= 40; to += 10 {
		produceClicks(t, addr, parts, to-10, to)
		if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == int64(parts*to) }) {
			t.Fatalf("first member: rows in %d, want %d\n%s", a.Metrics().RowsIn, parts*to, aOut)
		}
		time.Sleep(time.Second) // stage 2 aggregates the repartitioned rows
	}
	// The watermark is 38 s: the windows up to [10, 30) fire, [20, 40) and [30, 50) stay open.
	want := wantHopWindows(parts, 40, 30)
	var got []string
	if !waitUntil(30*time.Second, func() bool { got = readWindows(t, addr, "hops"); return fmt.Sprint(got) == fmt.Sprint(want) }) {
		t.Fatalf("first member: %v\nwant %v\n%s", got, want, aOut)
	}
	time.Sleep(time.Second) // nothing more to commit
	a.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.Wait(ctx)
	const cl = "hop-job-agg-changelog"
	mine := readChangelogTopic(t, addr, cl)
	if *writeOldWindowChangelog {
		writeChangelogGolden(t, oldWindowChangelog, mine)
		t.Skipf("wrote %s (%d records)", oldWindowChangelog, len(mine))
	}
	old := readChangelogGolden(t, oldWindowChangelog)
	oldState, myState := compactEntries(old), compactEntries(mine)
	if !maps.EqualFunc(oldState, myState, maps.Equal) {
		t.Fatalf("this build's compacted changelog differs from the old build's:\nold %q\nnew %q", oldState, myState)
	}
	entries := 0
	for _, m := range oldState {
		entries += len(m)
	}

	// The changelog topic becomes the old build's.
	adm := kadm.NewClient(newTestClient(t, addr))
	if _, err := adm.DeleteTopics(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(10*time.Second, func() bool {
		td, err := adm.ListTopics(ctx, cl)
		return err == nil && !td.Has(cl)
	}) {
		t.Fatalf("topic %s not deleted", cl)
	}
	if _, err := adm.CreateTopic(ctx, parts, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, cl); err != nil {
		t.Fatal(err)
	}
	hdr := []kgo.RecordHeader{{Key: planHeader, Value: []byte(scaleOutFingerprint(t, script))}}
	var recs []*kgo.Record
	for _, e := range old {
		recs = append(recs, &kgo.Record{Topic: cl, Partition: e.part, Key: e.key, Value: e.value, Headers: hdr})
	}
	produceRecords(t, addr, recs)

	produceClicks(t, addr, parts, 40, 80)
	_, bOut := startTestMember(t, script)
	// The watermark is 78 s: the windows up to [50, 70) fire.
	want = wantHopWindows(parts, 80, 70)
	if !waitUntil(40*time.Second, func() bool { got = readWindows(t, addr, "hops"); return fmt.Sprint(got) == fmt.Sprint(want) }) {
		t.Fatalf("after the takeover: %d windows %v\nwant %d windows %v\n%s", len(got), got, len(want), want, bOut)
	}
	if w := fmt.Sprintf("(%d entries)", entries); !strings.Contains(bOut.String(), w) {
		t.Fatalf("the second member did not restore the old changelog's %d entries:\n%s", entries, bOut)
	}
}

// newTestClient is a client of the test broker, closed at the end of the test.
func newTestClient(t *testing.T, addr string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
