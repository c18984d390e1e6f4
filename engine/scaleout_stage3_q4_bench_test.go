package engine

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkScaleOutNexmarkQ4 measures Nexmark q4 (three keyed stages: join, GROUP BY auction, GROUP BY
// category) end to end in one scale-out member over the in-process kfake broker: the auctions and bids are
// produced first, then the member starts, and the time until its committed rows in count them all is
// measured (joining the group, creating the internal topics and the first restores included). It reports
// records/s and records/s per core (GOMAXPROCS: the broker and the member share the cores). Run with
// -benchtime=1x.
func BenchmarkScaleOutNexmarkQ4(b *testing.B) {
	const bids = 50_000
	for range b.N {
		b.StopTimer()
		addr := scaleOutTestBroker(b)
		produceQ4(b, addr, true, 0, bids)
		script := scaleOutTestScript(addr, q4DDL, q4Insert("q4"))
		b.StartTimer()
		start := time.Now()
		j, out := startTestMember(b, script)
		if !waitUntil(5*time.Minute, func() bool { return j.Metrics().RowsIn >= bids+q4Auctions }) {
			b.Fatalf("the member committed %d of %d rows in:\n%s", j.Metrics().RowsIn, bids+q4Auctions, out)
		}
		el := time.Since(start)
		b.StopTimer()
		rate := float64(bids+q4Auctions) / el.Seconds()
		b.ReportMetric(rate, "records/s")
		b.ReportMetric(rate/float64(runtime.GOMAXPROCS(0)), "records/s/core")
		j.Cancel()
	}
}
