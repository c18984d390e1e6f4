package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Idle source partitions in a scale-out window job ('table.exec.source.idle-timeout',
// 'scan.watermark.idle-timeout'; scaleout_window.go).

// wantClicksOf are the 10-second tumbling windows (as wantClickWindows writes them) of the clicks
// clickRecord(p, i, (p*7+i)%5, i%7+p) for i in [from[p], to[p]) of every partition p, that end at or before
// end seconds.
func wantClicksOf(from, to []int, end int) []string {
	type agg struct{ cnt, sum int }
	got := map[[2]int]agg{}
	for p := range to {
		for i := from[p]; i < to[p]; i++ {
			w := i / 10 * 10
			if w+10 > end {
				continue
			}
			k := [2]int{w, (p*7 + i) % 5}
			a := got[k]
			a.cnt++
			a.sum += i%7 + p
			got[k] = a
		}
	}
	var out []string
	for k, a := range got {
		out = append(out, fmt.Sprintf("%d-%d user %d: %d %d", k[0], k[0]+10, k[1], a.cnt, a.sum))
	}
	slices.Sort(out)
	return out
}

// TestScaleOutWindowIdlePartition: a 4-partition topic whose partition 3 gets rows only at the start while
// partitions 0-2 are fed on. A scale-out window job with 'table.exec.source.idle-timeout' = '2 s' marks
// partition 3 idle and fires the windows that the other partitions' watermarks close, exactly as a P=1 job
// with the same option does; the same scale-out job without the option (Flink's default) fires nothing, its
// watermark held at partition 3's. A row that comes to partition 3 after its window fired makes the
// partition active again behind the watermark: the row is late and dropped by both jobs.
func TestScaleOutWindowIdlePartition(t *testing.T) {
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(parts),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(parts, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	// Partition 3: 5 s of events (its watermark stays at 3 s); the others are fed below.
	from, to := []int{0, 0, 0, 0}, []int{0, 0, 0, 5}
	var recs []*kgo.Record
	for i := range to[3] {
		recs = append(recs, clickRecord(3, i, (3*7+i)%5, i%7+3))
	}
	produceRecords(t, addr, recs)
	total := int64(len(recs))
	const idle = `SET 'table.exec.source.idle-timeout' = '2 s'`
	withIdle := scaleOutScriptNamed(addr, "idle-job", idle, windowsDDL("idle_wins"), windowsInsert("idle_wins"))
	noIdle := scaleOutScriptNamed(addr, "noidle-job", windowsDDL("noidle_wins"), windowsInsert("noidle_wins"))
	single := strings.ReplaceAll(strings.Join([]string{idle, clicksDDL, windowsDDL("idle_wins1"), windowsInsert("idle_wins1")}, ";\n")+";\n", "ADDR", addr)
	a, aOut := startTestMember(t, withIdle)
	n, nOut := startTestMember(t, noIdle)
	s, _ := startTestMember(t, single)
	// Partitions 0-2 get one second of events every 200 ms (they never idle) until both idle-timeout jobs
	// fired windows, then 10 seconds more, then partition 3 gets a row of 2 s (window [0, 10) fired), then
	// 10 seconds more.
	feed := func() {
		var recs []*kgo.Record
		for p := range parts - 1 {
			recs = append(recs, clickRecord(p, to[p], (p*7+to[p])%5, to[p]%7+p))
			to[p]++
		}
		produceRecords(t, addr, recs)
		total += int64(len(recs))
		time.Sleep(200 * time.Millisecond)
	}
	for a.Metrics().RowsOut == 0 || s.Metrics().RowsOut == 0 {
		if to[0] > 150 {
			t.Fatalf("no window fired by event time %d s:\n%s", to[0], aOut)
		}
		feed()
	}
	for range 10 {
		feed()
	}
	produceRecords(t, addr, []*kgo.Record{clickRecord(3, 2, 1, 1000)})
	total++
	for range 10 {
		feed()
	}
	// The watermark of partitions 0-2 is to-2 s.
	want := wantClicksOf(from, to, to[0]-2)
	var got, got1 []string
	if !waitUntil(30*time.Second, func() bool {
		got, got1 = readWindows(t, addr, "idle_wins"), readWindows(t, addr, "idle_wins1")
		return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
	}) {
		t.Fatalf("with an idle timeout: scale-out %v\nP=1 %v\nwant %v\n%s", got, got1, want, aOut)
	}
	if wantOut := int64(len(want)); a.Metrics().RowsOut != wantOut {
		t.Fatalf("rows out %d, want %d", a.Metrics().RowsOut, wantOut)
	}
	if !waitUntil(20*time.Second, func() bool { return n.Metrics().RowsIn == total }) {
		t.Fatalf("without an idle timeout: rows in %d, want %d\n%s", n.Metrics().RowsIn, total, nOut)
	}
	time.Sleep(time.Second) // stage 2 consumes the last watermark records
	if got := readWindows(t, addr, "noidle_wins"); len(got) != 0 {
		t.Fatalf("without an idle timeout partition 3 holds the watermark at 3 s, but windows fired: %v\n%s", got, nOut)
	}
}
