package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkScaleOutMemberBacklog measures a member (GROUP BY user_id over 200000 orders, 1000 users) that
// starts behind the whole backlog, end to end over the in-process kfake broker, with
// 'sluice.scale-out.max-poll-records' at 500, 5000 (the default) and 1000000 (uncapped: a poll takes all the
// client has buffered, as before the cap): the time until its committed rows in count every order, checked
// every 5 ms. It reports records/s. Run with -benchtime=1x.
func BenchmarkScaleOutMemberBacklog(b *testing.B) {
	const orders, users = 200_000, 1000
	const insert = `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id`
	for _, max := range []int{500, 5000, 1_000_000} {
		b.Run(fmt.Sprintf("max-poll-records=%d", max), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				addr := scaleOutTestBroker(b)
				produceBacklog(b, addr, orders, users)
				script := scaleOutTestScript(addr, fmt.Sprintf(`SET 'sluice.scale-out.max-poll-records' = '%d'`, max),
					`SET 'sluice.scale-out.transaction-timeout' = '60 s'`, scaleOutTotalsDDL, insert)
				b.StartTimer()
				start := time.Now()
				j, out := startTestMember(b, script)
				for j.Metrics().RowsIn < orders {
					if time.Since(start) > 5*time.Minute || j.Status() != JobRunning {
						b.Fatalf("the member committed %d of %d rows in (job %s, %v):\n%s", j.Metrics().RowsIn, orders, j.Status(), j.Err(), out)
					}
					time.Sleep(5 * time.Millisecond)
				}
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(orders)/el.Seconds(), "records/s")
				j.Cancel()
			}
		})
	}
}

// produceBacklog writes orders 0..n-1 as produceOrders does.
func produceBacklog(b testing.TB, addr string, n, users int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxBufferedRecords(n))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, i%users, i%7)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
}
