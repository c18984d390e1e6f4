package engine

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkScaleOutNexmarkQ4Members runs Nexmark q4 (three keyed stages) as BenchmarkScaleOutNexmarkQ4 does,
// with one and with two members in this process started together over the in-process kfake broker (the
// second member's join is a rebalance early in the run), and measures the time and the process's CPU time
// (user + system: the members, the broker and the producer of nothing, since the input is produced first)
// until the members' committed rows in count every record. It reports records/s and records per
// CPU-second: two members on the same cores cannot be faster than one, but the CPU cost per record shows
// what running the stages in two members (more transactions, a rebalance's restores) costs. Run with
// -benchtime=1x.
func BenchmarkScaleOutNexmarkQ4Members(b *testing.B) {
	const bids = 50_000
	for _, members := range []int{1, 2} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				addr := scaleOutTestBroker(b)
				produceQ4(b, addr, true, 0, bids)
				script := scaleOutTestScript(addr, q4DDL, q4Insert("q4"))
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime(b)
				var jobs []*Job
				var outs []*syncBuffer
				for range members {
					j, out := startTestMember(b, script)
					jobs, outs = append(jobs, j), append(outs, out)
				}
				in := func() int64 {
					var n int64
					for _, j := range jobs {
						n += j.Metrics().RowsIn
					}
					return n
				}
				if !waitUntil(5*time.Minute, func() bool { return in() >= bids+q4Auctions }) {
					b.Fatalf("the members committed %d of %d rows in:\n%s", in(), bids+q4Auctions, outs)
				}
				el, cpu := time.Since(start), cpuTime(b)-cpu0
				b.StopTimer()
				b.ReportMetric(float64(bids+q4Auctions)/el.Seconds(), "records/s")
				b.ReportMetric(float64(bids+q4Auctions)/cpu.Seconds(), "records/cpu-s")
				for _, j := range jobs {
					j.Cancel()
				}
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
