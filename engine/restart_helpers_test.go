package engine

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
)

// failOnce is the "pace" function of the restart tests: pace(v) sleeps for sleep and returns v, except at
// the first call numbered at or later for which ready (when set) reports true: that call fails once with an
// injected error, and the job restarts. cutsBefore is how many barrier cuts were taken between newFailOnce
// and the failure.
type failOnce struct {
	sleep      time.Duration
	at         int64
	ready      func() bool // set before the job starts
	calls      atomic.Int64
	failed     atomic.Int32
	cuts0      int64
	cutsBefore atomic.Int64
}

// newFailOnce returns the function's state and the UDF "pace" that uses it.
func newFailOnce(t *testing.T, sleep time.Duration, at int64) (*failOnce, *expr.UDF) {
	t.Helper()
	p := &failOnce{sleep: sleep, at: at, cuts0: barrierCutsTaken.Load()}
	u, err := expr.NewUDF("pace", func(v int64) (int64, error) {
		time.Sleep(p.sleep)
		if p.calls.Add(1) >= p.at && (p.ready == nil || p.ready()) && p.failed.CompareAndSwap(0, 1) {
			p.cutsBefore.Store(barrierCutsTaken.Load() - p.cuts0)
			return 0, fmt.Errorf("injected failure at call %d", p.calls.Load())
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, u
}

// checkOneRestart fails t unless exactly one failure was injected and j restarted exactly once.
func (p *failOnce) checkOneRestart(t *testing.T, j *Job, notice fmt.Stringer) {
	t.Helper()
	if p.failed.Load() != 1 || j.Metrics().Restarts != 1 {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1\n%s", p.failed.Load(), j.Metrics().Restarts, notice)
	}
}

// feedOrders keeps the input arriving: a goroutine produces orders [from, n) into topic "ord", chunk by
// chunk, one every 10 ms; feedOrders returns once at least upTo orders (counting those below from) were
// produced, and wait waits for the rest.
func feedOrders(t *testing.T, addr string, from, n, chunk, upTo int) (wait func()) {
	t.Helper()
	var produced atomic.Int64
	produced.Store(int64(from))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := from; c < n; c += chunk {
			time.Sleep(10 * time.Millisecond)
			produceExchangeOrders(t, addr, "ord", c, chunk)
			produced.Store(int64(c + chunk))
		}
	}()
	waitUntil(30*time.Second, func() bool { return produced.Load() >= int64(upTo) })
	return func() { <-done }
}

// outputStall is how long waitProgress waits for a job's output to change before it fails the wait.
const outputStall = 60 * time.Second

// outputCeiling bounds waitProgress however the output grows (the package's -timeout is 30 m).
const outputCeiling = 8 * time.Minute

// waitProgress polls read every 100 ms until it reports done; it gives up (false) once the progress read
// reports has not changed for outputStall, or after outputCeiling. It returns how long it waited. The tests
// that wait for a job's complete output use it instead of a deadline on the whole output: their rows are
// paced by sleeps in UDFs (tens of µs each, thousands in a row), which on a loaded machine take ms each (a
// 25 µs sleep took 1.6 ms on average at a load of 15 on 2 cores), so a correct job can need minutes (under
// -race with GOMAXPROCS=1: TestUnalignedWatermarkRestartProperty's interval join 84 s), while a job that lost
// output stops changing it and still fails after outputStall.
func waitProgress(read func() (progress string, done bool)) (bool, time.Duration) {
	start := time.Now()
	last, since := "", start
	for {
		p, done := read()
		if done {
			return true, time.Since(start)
		}
		now := time.Now()
		if p != last {
			last, since = p, now
		}
		if now.Sub(since) > outputStall || now.Sub(start) > outputCeiling {
			return false, time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
