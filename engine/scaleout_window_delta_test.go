package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Per-key changelog writes of TUMBLE/HOP/CUMULATE scale-out aggregates (windowDirty,
// scaleout_window_dirty.go).

// testClick is one click of the per-key tests.
type testClick struct{ part, sec, user, amount int }

// wantTumbles are the 10-second tumbling windows of clicks that end at or before end seconds, as
// readWindows writes them.
func wantTumbles(clicks []testClick, end int) []string {
	type agg struct{ cnt, sum int }
	got := map[[2]int]agg{}
	for _, c := range clicks {
		w := c.sec / 10 * 10
		if w+10 > end {
			continue
		}
		k := [2]int{w, c.user}
		a := got[k]
		a.cnt++
		a.sum += c.amount
		got[k] = a
	}
	var out []string
	for k, a := range got {
		out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", k[0], k[0]+10, k[1], a.cnt, a.sum))
	}
	slices.Sort(out)
	return out
}

func produceTestClicks(t *testing.T, addr string, clicks []testClick) {
	t.Helper()
	recs := make([]*kgo.Record, len(clicks))
	for i, c := range clicks {
		recs[i] = clickRecord(c.part, c.sec, c.user, c.amount)
	}
	produceRecords(t, addr, recs)
}

// stableCount counts the committed records of topic once two reads a second apart agree.
func stableCount(t *testing.T, addr, topic string) int {
	t.Helper()
	n := -1
	for range 30 {
		m := len(readCommitted(t, addr, topic))
		if m == n {
			return n
		}
		n = m
		time.Sleep(time.Second)
	}
	t.Fatalf("the records of %s did not settle (%d)", topic, n)
	return 0
}

// TestScaleOutWindowChangelogPerKey: a TUMBLE aggregate whose watermark lags an hour holds every window
// of 1000 s of clicks open (about 4000 groups on the changelog topic); clicks of k new or open groups, behind
// the watermark's source (so no watermark moves, no window fires), add exactly k records to the changelog
// topic, however many windows are open. Then the member leaves, a second takes over from the changelog, and
// a click per partition far ahead fires every window: each once, with exact counts and sums.
func TestScaleOutWindowChangelogPerKey(t *testing.T) {
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	lagging := strings.Replace(clicksDDL, "ts - INTERVAL '1' SECOND", "ts - INTERVAL '1' HOUR", 1)
	script := strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'perkey-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		lagging, windowsDDL("perkey"), windowsInsert("perkey"),
	}, ";\n")+";\n", "ADDR", addr)
	var clicks []testClick
	for p := range parts {
		for i := range 1000 {
			clicks = append(clicks, testClick{p, i, (p*1000 + i) % 97, i % 7})
		}
	}
	produceTestClicks(t, addr, clicks)
	a, aOut := startTestMember(t, script)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == int64(len(clicks)) }) {
		t.Fatalf("rows in %d, want %d\n%s", a.Metrics().RowsIn, len(clicks), aOut)
	}
	const cl = "perkey-job-agg-changelog"
	before := stableCount(t, addr, cl)
	if open := len(wantTumbles(clicks, 1000)); before < open {
		t.Fatalf("the changelog holds %d records, fewer than the %d open groups", before, open)
	}
	// k clicks of k groups: one per window [100 j, 100 j + 10) for user j; some open, some new.
	const k = 10
	var more []testClick
	for j := range k {
		more = append(more, testClick{j % parts, 100 * j, j, 1000})
	}
	produceTestClicks(t, addr, more)
	clicks = append(clicks, more...)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == int64(len(clicks)) }) {
		t.Fatalf("rows in %d, want %d\n%s", a.Metrics().RowsIn, len(clicks), aOut)
	}
	if after := stableCount(t, addr, cl); after-before != k {
		t.Fatalf("%d clicks of %d groups wrote %d changelog records (%d open groups), want %d", k, k, after-before, before, k)
	}
	if got := readWindows(t, addr, "perkey"); len(got) > 0 {
		t.Fatalf("windows fired before the watermark passed them: %v", got)
	}

	// A second member takes the partitions over; a click per partition at 4700 s fires every window.
	a.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.Wait(ctx)
	_, bOut := startTestMember(t, script)
	var last []testClick
	for p := range parts {
		last = append(last, testClick{p, 4700, p, 1})
	}
	produceTestClicks(t, addr, last)
	clicks = append(clicks, last...)
	want := wantTumbles(clicks, 1100)
	var got []string
	if !waitUntil(40*time.Second, func() bool { got = readWindows(t, addr, "perkey"); return fmt.Sprint(got) == fmt.Sprint(want) }) {
		t.Fatalf("after the takeover: %d windows, want %d\n%v\nwant %v\n%s", len(got), len(want), got, want, bOut)
	}
	if !strings.Contains(bOut.String(), "restored partitions") {
		t.Fatalf("the second member restored nothing:\n%s", bOut)
	}
}

// TestScaleOutWindowCommitCost: a transaction of a HOP aggregate's partition that changes 100 groups
// writes 100 changelog records and allocates alike with 6K and 60K open groups: it does not visit the
// open windows (a full snapshot compared with the changelog allocated per open group).
func TestScaleOutWindowCommitCost(t *testing.T) {
	const changed = 100
	for _, users := range []int{100, 1000} {
		m, produced := benchWindowMember()
		wp := fillWindowPart(t, m, users)
		batches := make([][]*kgo.Record, 8)
		for i := range batches {
			batches[i] = benchWindowRecords(m, i*7919, changed, users)
		}
		*produced = 0
		i := 0
		allocs := testing.AllocsPerRun(len(batches), func() {
			if err := m.windowAggregate(0, wp, batches[i%len(batches)]); err != nil {
				t.Fatal(err)
			}
			if err := m.writeWindowChangelog(); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if n := *produced / i; n != changed {
			t.Errorf("%d open groups: %d changelog records per transaction, want %d", users*benchHopWindows, n, changed)
		}
		if allocs > 5*changed {
			t.Errorf("%d open groups: %.0f allocations per transaction of %d changed groups", users*benchHopWindows, allocs, changed)
		}
	}
}
