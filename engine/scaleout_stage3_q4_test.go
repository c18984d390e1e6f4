package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Nexmark q4's shape as three keyed stages: a regular join (auction, bid) -> GROUP BY auction -> GROUP BY
// category, the INSERT of cmd/sluice/nexmark/q4.sql as written, over kafka tables with its columns.

const q4Auctions = 200

// q4DDL are the kafka source tables of the q4 test (ADDR stands for the broker) and its sink.
const q4DDL = `CREATE TABLE auction (id BIGINT, category BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3), expires TIMESTAMP(3),
  WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + ` - INTERVAL '4' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'auction', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE bid (auction BIGINT, price BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3),
  WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + ` - INTERVAL '4' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'bid', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')`

// q4Insert is q4.sql's INSERT into sink.
func q4Insert(sink string) string {
	return `CREATE TABLE ` + sink + ` (id BIGINT, final BIGINT, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '` + sink + `', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO ` + sink + `
SELECT
    Q.category,
    AVG(Q.final)
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.` + "`dateTime`" + ` BETWEEN A.` + "`dateTime`" + ` AND A.expires
    GROUP BY A.id, A.category
) Q
GROUP BY Q.category`
}

// q4Time is the time of second s after the test's epoch, as the json format reads it.
func q4Time(s int) string {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05.000")
}

// q4Bid is bid j: its auction, price and second; within its auction's [dateTime, expires] unless j%150 > 100.
func q4Bid(j int) (auction, price, sec int) {
	a := j % q4Auctions
	return a, (j * 37) % 1000, a + j%150
}

// produceQ4 writes the auctions (id, category id%5, dateTime second id, expires 100 s later) and bids
// from..from+n-1.
func produceQ4(t testing.TB, addr string, auctions bool, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	if auctions {
		for i := range q4Auctions {
			recs = append(recs, &kgo.Record{Topic: "auction", Key: []byte(fmt.Sprint(i)),
				Value: fmt.Appendf(nil, `{"id":%d,"category":%d,"dateTime":"%s","expires":"%s"}`, i, i%5, q4Time(i), q4Time(i+100))})
		}
	}
	for j := from; j < from+n; j++ {
		a, p, s := q4Bid(j)
		recs = append(recs, &kgo.Record{Topic: "bid", Key: []byte(fmt.Sprint(j)),
			Value: fmt.Appendf(nil, `{"auction":%d,"price":%d,"dateTime":"%s"}`, a, p, q4Time(s))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// wantQ4 is q4 over the auctions and the first n bids: per category, the average (BIGINT: truncated) of
// its auctions' highest bid within their time.
func wantQ4(n int) map[int64]int64 {
	best := map[int]int{}
	for j := range n {
		a, p, s := q4Bid(j)
		if s < a || s > a+100 {
			continue
		}
		if b, ok := best[a]; !ok || p > b {
			best[a] = p
		}
	}
	sum, cnt := map[int64]int64{}, map[int64]int64{}
	for a, p := range best {
		sum[int64(a%5)] += int64(p)
		cnt[int64(a%5)]++
	}
	w := map[int64]int64{}
	for c := range sum {
		w[c] = sum[c] / cnt[c]
	}
	return w
}

// readQ4 reads the compacted view of q4's sink topic (read_committed).
func readQ4(t *testing.T, addr, topic string) map[int64]int64 {
	return readCompacted(t, addr, topic, func(k struct{ ID int64 }) int64 { return k.ID },
		func(v struct{ Final int64 }) int64 { return v.Final })
}

// TestScaleOutNexmarkQ4InProcess: q4.sql's INSERT runs as three keyed stages ('-join-', '-agg2-',
// '-agg3-'). Member A runs alone, member B joins while bids come (it restores third-stage partitions) and
// leaves; the compacted averages per category equal those computed from the input and a P=1 job's.
func TestScaleOutNexmarkQ4InProcess(t *testing.T) {
	addr := scaleOutTestBroker(t)
	produceQ4(t, addr, true, 0, 1000)
	script := scaleOutTestScript(addr, q4DDL, q4Insert("q4"))
	single := strings.ReplaceAll(strings.Join([]string{scaleOutOrdersDDL, q4DDL, q4Insert("q41")}, ";\n")+";\n", "ADDR", addr)
	_, pOut := startTestMember(t, single) // P=1: no scale-out option
	_, aOut := startTestMember(t, script)
	n := 1000
	check := func(what string, outs ...*syncBuffer) {
		t.Helper()
		waitScaleOutAndP1(t, addr, "q4", "q41", readQ4, fmt.Sprint(wantQ4(n)), what, outs, pOut)
	}
	check("one member", aOut)
	if !strings.Contains(aOut.String(), "three keyed stages, internal topics 'totals-job-join-repartition', 'totals-job-join-changelog', 'totals-job-agg2-repartition'") {
		t.Fatalf("member A did not announce three stages:\n%s", aOut)
	}
	b, bOut := startTestMember(t, script)
	for !strings.Contains(bOut.String(), "from 'totals-job-agg3-changelog'") {
		if n > 20000 {
			t.Fatalf("the second member did not restore a third-stage partition:\n%s", bOut)
		}
		produceQ4(t, addr, false, n, 200)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produceQ4(t, addr, false, n, 1000)
	n += 1000
	check("two members", aOut, bOut)
	leaveGroup(t, b, addr, "totals-job", "totals-job-agg3-repartition", 8, aOut)
	produceQ4(t, addr, false, n, 1000)
	n += 1000
	check("member A after B left", aOut, bOut)
	t.Logf("bids %d, averages %v", n, wantQ4(n))
}
