package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Scale-out interval joins (scaleout_interval.go): in-process members and a P=1 run of the same query, over
// a Nexmark-like shape: auctions (2 partitions) JOIN bids (4 partitions) ON the auction id, the bid within
// 10 s after the auction.

// ivAuction and ivBid are the test's rows (times in seconds after windowTestBase).
type ivAuction struct{ id, sec int }
type ivBid struct{ auction, price, sec int }

// ivData is what a test produced, to compute the expected join.
type ivData struct {
	auctions []ivAuction
	bids     []ivBid
}

// auctionsTo writes the auctions from..to-1: auction i at second i on partition i % 2, and for every third i
// auction 10000+i, which no bid names (NULL-padded once the watermark passes its bound).
func (d *ivData) auctionsTo(from, to int) []*kgo.Record {
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, d.auction(i%2, i, i))
		if i%3 == 0 {
			recs = append(recs, d.auction(i%2, 10000+i, i))
		}
	}
	return recs
}

func (d *ivData) auction(part, id, sec int) *kgo.Record {
	d.auctions = append(d.auctions, ivAuction{id, sec})
	ts := windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
	return &kgo.Record{Topic: "auctions", Partition: int32(part), Value: fmt.Appendf(nil, `{"id":%d,"seller":%d,"ts":"%s"}`, id, id%3, ts)}
}

// bidsTo writes the bids from..to-1 of bid partition part: bid j at second j for auction j - (7j+part) % 13
// (within 10 s of the auction but for offsets 11 and 12), price part*100000 + j.
func (d *ivData) bidsTo(part, from, to int) []*kgo.Record {
	var recs []*kgo.Record
	for j := from; j < to; j++ {
		recs = append(recs, d.bid(part, j-(7*j+part)%13, part*100000+j, j))
	}
	return recs
}

func (d *ivData) bid(part, auction, price, sec int) *kgo.Record {
	d.bids = append(d.bids, ivBid{auction, price, sec})
	ts := windowTestBase.Add(time.Duration(sec) * time.Second).Format("2006-01-02 15:04:05.000")
	return &kgo.Record{Topic: "bids", Partition: int32(part), Value: fmt.Appendf(nil, `{"auction":%d,"price":%d,"ts":"%s"}`, auction, price, ts)}
}

// want is the LEFT JOIN's rows ("auction/price", price "-" when NULL-padded) at watermark wm (seconds): every
// match (none of the rows is late for a match), and the auctions without one whose bound passed the
// watermark (sec + 10 < wm). late are rows written behind the watermark: they match nothing.
func (d *ivData) want(wm int, late map[int]bool) []string {
	return d.wantKind("LEFT", wm, late)
}

// wantKind is want for a join of the given kind: INNER has no NULL-padded rows, FULL also has the bids without
// a match whose bound passed the watermark (sec < wm), as "-/price".
func (d *ivData) wantKind(kind string, wm int, late map[int]bool) []string {
	var out []string
	if kind == "FULL" {
		for _, b := range d.bids {
			n := 0
			for _, a := range d.auctions {
				if b.auction == a.id && b.sec >= a.sec && b.sec <= a.sec+10 && !late[a.id] && !late[b.price] {
					n++
				}
			}
			if n == 0 && b.sec < wm {
				out = append(out, fmt.Sprintf("-/%d", b.price))
			}
		}
	}
	for _, a := range d.auctions {
		n := 0
		for _, b := range d.bids {
			if b.auction == a.id && b.sec >= a.sec && b.sec <= a.sec+10 && !late[a.id] && !late[b.price] {
				out = append(out, fmt.Sprintf("%d/%d", a.id, b.price))
				n++
			}
		}
		if n == 0 && a.sec+10 < wm && kind != "INNER" {
			out = append(out, fmt.Sprintf("%d/-", a.id))
		}
	}
	slices.Sort(out)
	return out
}

// readJoined reads the joined rows of the kafka topic (read_committed), as want writes them.
func readJoined(t *testing.T, addr, topic string) []string {
	var out []string
	for _, r := range readCommitted(t, addr, topic) {
		var v struct {
			ID    *int64 `json:"id"`
			Price *int64 `json:"price"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable row %q", r.Value)
		}
		id, p := "-", "-"
		if v.ID != nil {
			id = fmt.Sprint(*v.ID)
		}
		if v.Price != nil {
			p = fmt.Sprint(*v.Price)
		}
		out = append(out, fmt.Sprintf("%s/%s", id, p))
	}
	slices.Sort(out)
	return out
}

const auctionsBidsDDL = `CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'auctions', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'bids', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

func joinedDDL(topic string) string {
	return `CREATE TABLE ` + topic + ` (id BIGINT, seller BIGINT, price BIGINT) WITH (
  'connector' = 'kafka', 'topic' = '` + topic + `', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
}

func intervalInsert(topic, kind string) string {
	return `INSERT INTO ` + topic + ` SELECT a.id, a.seller, b.price FROM auctions a ` + kind + ` JOIN bids b
  ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '10' SECOND` + map[bool]string{true: ` WHERE a.id >= 0`}[kind == "LEFT"]
}

// intervalScripts are a scale-out member's and a P=1 job's scripts of the join of the given kind.
func intervalScripts(addr, kind string) (member, single string) {
	member = strings.ReplaceAll(strings.Join([]string{
		`SET 'sluice.scale-out.enabled' = 'true'`,
		`SET 'pipeline.name' = 'interval-job'`,
		`SET 'sluice.scale-out.session-timeout' = '2 s'`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
		auctionsBidsDDL, joinedDDL("joined"), intervalInsert("joined", kind)}, ";\n")+";\n", "ADDR", addr)
	single = strings.ReplaceAll(strings.Join([]string{auctionsBidsDDL, joinedDDL("joined1"), intervalInsert("joined1", kind)}, ";\n")+";\n", "ADDR", addr)
	return member, single
}

func intervalCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(2, "auctions"), kfake.SeedTopics(4, "bids"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestScaleOutIntervalJoinMembersInProcess: a LEFT interval join run by in-process members (the second joins
// mid-run, then leaves and the first takes its partitions over) and by a P=1 job of the same query. Bid
// partition 3 lags: its watermark holds the NULL-padded auctions back until it catches up. A late bid
// (its auction's rows expired) and a late auction (NULL-padded at the next watermark) come after the
// watermark passed them. At every phase both jobs' rows (read_committed) are exactly the expected ones.
func TestScaleOutIntervalJoinMembersInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	// Phase 1: auctions 0..59, bids 0..59 on partitions 0-2, 0..29 on partition 3: the watermark is 28 s (the
	// minimum of the six source partitions' latest times less 1 s).
	recs := d.auctionsTo(0, 60)
	for p := range 4 {
		to := 60
		if p == 3 {
			to = 30
		}
		recs = append(recs, d.bidsTo(p, 0, to)...)
	}
	produceRecords(t, addr, recs)
	script, single := intervalScripts(addr, "LEFT")
	a, aOut := startTestMember(t, script)
	startTestMember(t, single)
	late := map[int]bool{}
	check := func(what string, wm int, outs ...*syncBuffer) {
		t.Helper()
		want := d.want(wm, late)
		var got, got1 []string
		if !waitUntil(40*time.Second, func() bool {
			got, got1 = readJoined(t, addr, "joined"), readJoined(t, addr, "joined1")
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
	check("phase 1", 28, aOut)
	// Late rows: a bid for auction 3 at 5 s (auction 3 expired at 13 s) and auction 1000 at 2 s.
	late[3000005] = true
	late[1000] = true
	produceRecords(t, addr, []*kgo.Record{d.bid(0, 3, 3000005, 5), d.auction(1, 1000, 2)})
	// The second member joins; partition 3 catches up, then every partition goes on to 120 s in steps.
	b, bOut := startTestMember(t, script)
	produceRecords(t, addr, d.bidsTo(3, 30, 60))
	for to := 60; to < 120; to += 5 {
		recs := d.auctionsTo(to, to+5)
		for p := range 4 {
			recs = append(recs, d.bidsTo(p, to, to+5)...)
		}
		produceRecords(t, addr, recs)
		if !strings.Contains(bOut.String(), "restored partitions") {
			time.Sleep(500 * time.Millisecond)
		}
	}
	check("phase 2", 117, aOut, bOut)
	if !strings.Contains(bOut.String(), "restored partitions") {
		t.Fatalf("the second member did not take partitions:\n%s", bOut)
	}
	if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
		t.Fatalf("rows out %d and %d: both members should have joined rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
	}
	// Bid partition 1 goes on alone to 140 s (it holds nothing back); the second member leaves and the first
	// restores its partitions: their rows, match counts (an auction matched by a bid that expired since is
	// not NULL-padded later) and watermarks. Then the others go on to 140 s.
	produceRecords(t, addr, d.bidsTo(1, 120, 140))
	time.Sleep(time.Second)
	restores := strings.Count(aOut.String(), "restored partitions")
	b.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = b.Wait(ctx)
	recs = d.auctionsTo(120, 140)
	for _, p := range []int{0, 2, 3} {
		recs = append(recs, d.bidsTo(p, 120, 140)...)
	}
	produceRecords(t, addr, recs)
	check("phase 3", 137, aOut)
	if strings.Count(aOut.String(), "restored partitions") == restores {
		t.Fatalf("the first member did not take the second's partitions:\n%s", aOut)
	}
}

// minus is the multiset a - b of sorted slices (at most 10).
func minus(a, b []string) []string {
	n := map[string]int{}
	for _, s := range b {
		n[s]++
	}
	var out []string
	for _, s := range a {
		if n[s] > 0 {
			n[s]--
		} else if len(out) < 10 {
			out = append(out, s)
		}
	}
	return out
}

// TestScaleOutIntervalJoinKindsInProcess: an inner and a FULL OUTER interval join run by a scale-out member
// give the rows of a P=1 job of the same query, each once, with bid partition 3 lagging (it holds the
// NULL-padded rows of both sides back) and then catching up.
func TestScaleOutIntervalJoinKindsInProcess(t *testing.T) {
	for _, kind := range []string{"INNER", "FULL"} {
		t.Run(kind, func(t *testing.T) {
			addr := intervalCluster(t)
			d := &ivData{}
			recs := d.auctionsTo(0, 40)
			for p := range 3 {
				recs = append(recs, d.bidsTo(p, 0, 40)...)
			}
			recs = append(recs, d.bidsTo(3, 0, 20)...)
			produceRecords(t, addr, recs)
			script, single := intervalScripts(addr, kind)
			_, out := startTestMember(t, script)
			startTestMember(t, single)
			check := func(what string, wm int) {
				t.Helper()
				want := d.wantKind(kind, wm, nil)
				var got, got1 []string
				if !waitUntil(30*time.Second, func() bool {
					got, got1 = readJoined(t, addr, "joined"), readJoined(t, addr, "joined1")
					return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
				}) {
					t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
						what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), out)
				}
			}
			check("partition 3 lags", 18)
			produceRecords(t, addr, d.bidsTo(3, 20, 40))
			check("partition 3 caught up", 37)
		})
	}
}

// TestScaleOutIntervalJoinIdleInProcess: bid partition 3 never gets a row; with
// 'table.exec.source.idle-timeout' its stage-1 owner marks it idle, so the watermark of the other five
// source partitions NULL-pads the auctions without a bid (without the timeout nothing would ever be
// padded). The five are fed a second more at every check, so they stay active.
func TestScaleOutIntervalJoinIdleInProcess(t *testing.T) {
	addr := intervalCluster(t)
	d := &ivData{}
	feed := func(from, to int) {
		recs := d.auctionsTo(from, to)
		for p := range 3 {
			recs = append(recs, d.bidsTo(p, from, to)...)
		}
		produceRecords(t, addr, recs)
	}
	feed(0, 40)
	script, _ := intervalScripts(addr, "LEFT")
	_, out := startTestMember(t, "SET 'table.exec.source.idle-timeout' = '1 s';\n"+script)
	want := d.want(37, nil)
	var got []string
	to := 40
	if !waitUntil(30*time.Second, func() bool {
		feed(to, to+1)
		to++
		got = readJoined(t, addr, "joined")
		return len(minus(want, got)) == 0 && len(minus(got, d.want(math.MaxInt32, nil))) == 0
	}) {
		t.Fatalf("scale-out %d rows\nunexpected %v\nmissing %v\n%s", len(got), minus(got, d.want(math.MaxInt32, nil)), minus(want, got), out)
	}
}
