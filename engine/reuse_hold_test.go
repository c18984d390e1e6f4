package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// heldLog records what a reused scan's branch end passes on: a row's first value, or "wm N".
type heldLog struct{ got []string }

func (l *heldLog) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		l.got = append(l.got, fmt.Sprint(r.Vals[0].I))
	}
	return nil
}
func (l *heldLog) Watermark(ts int64) error {
	l.got = append(l.got, fmt.Sprintf("wm %d", ts))
	return nil
}
func (l *heldLog) End() error { return nil }

// TestReusedHoldBackpressureResumes: a reused scan's branch end under the graph lock during a barrier
// checkpoint's hold keeps what fits the budget (reusedHoldLimit); the call that does not fit waits (its
// subtask stops reading: reusedHoldWaits) without the graph lock, so the checkpoint can take it, and nothing
// is passed on meanwhile; when the checkpoint ends the hold, the held items pass on in order and the waiting
// call resumes after them; the calls after it pass straight on. The peak held never exceeds the budget.
func TestReusedHoldBackpressureResumes(t *testing.T) {
	defer func(l int64) { reusedHoldLimit = l }(reusedHoldLimit)
	var mu sync.Mutex
	var gate sync.RWMutex
	var stopping atomic.Bool
	stopped := false
	out := &heldLog{}
	h := &cutHold{}
	p := &gatedPipe{sg: &subtaskGate{gate: &gate, stopping: &stopping}, mu: &mu, stopped: &stopped, out: out, hold: h}
	batch := func(i int64) *changelog.Batch {
		return &changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(i), types.StringValue("order")}}}}
	}
	reusedHoldLimit = 3*heldRowBytes(batch(0)) + heldWatermarkBytes
	reusedHoldPeak.Store(0)
	call := func(f func() error) error {
		defer p.sg.unlock() // as the subtask's pipeHead lets the gate go after each batch
		return f()
	}
	mu.Lock()
	h.begin()
	mu.Unlock()
	for i := range int64(3) {
		if err := call(func() error { return p.Push(batch(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := call(func() error { return p.Watermark(7) }); err != nil {
		t.Fatal(err)
	}
	waits := reusedHoldWaits.Load()
	done := make(chan error, 1)
	go func() { done <- call(func() error { return p.Push(batch(3)) }) }()
	if !waitUntil(10*time.Second, func() bool { return reusedHoldWaits.Load() > waits }) {
		t.Fatal("the call past the budget did not wait")
	}
	// the waiting call has let the graph lock go (the checkpoint's final part takes it) and passed nothing on
	mu.Lock()
	select {
	case err := <-done:
		t.Fatalf("the call past the budget returned (%v) while the hold was on", err)
	default:
	}
	if len(out.got) != 0 {
		t.Fatalf("passed on while held: %v", out.got)
	}
	if pk := reusedHoldPeak.Load(); pk > reusedHoldLimit || pk != h.bytes {
		t.Fatalf("peak held %d bytes, held %d, budget %d", pk, h.bytes, reusedHoldLimit)
	}
	h.end(true, nil) // the checkpoint's release
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := call(func() error { return p.Push(batch(4)) }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(out.got, ","), "0,1,2,wm 7,3,4"; got != want {
		t.Fatalf("passed on %s, want %s", got, want)
	}
	// the gate is free again: the next checkpoint can close it
	gate.Lock()
	gate.Unlock()
}

// TestReusedHoldKeepsOversizedFirst: a batch larger than the whole budget, arriving first in a hold, is held
// (its subtask reads on) and the next call waits; before, such a batch waited for the hold to end and a hold
// over large batches never kept a row.
func TestReusedHoldKeepsOversizedFirst(t *testing.T) {
	defer func(l int64) { reusedHoldLimit = l }(reusedHoldLimit)
	var mu sync.Mutex
	var gate sync.RWMutex
	var stopping atomic.Bool
	stopped := false
	out := &heldLog{}
	h := &cutHold{}
	p := &gatedPipe{sg: &subtaskGate{gate: &gate, stopping: &stopping}, mu: &mu, stopped: &stopped, out: out, hold: h}
	batch := func(i int64) *changelog.Batch {
		b := &changelog.Batch{}
		for range 4 {
			b.Rows = append(b.Rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(i), types.StringValue("order")}})
		}
		return b
	}
	reusedHoldLimit = heldRowBytes(batch(0)) / 2
	reusedHoldBigFirst.Store(0)
	call := func(f func() error) error {
		defer p.sg.unlock()
		return f()
	}
	mu.Lock()
	h.begin()
	mu.Unlock()
	held := reusedRowsHeld.Load()
	first := make(chan error, 1)
	go func() { first <- call(func() error { return p.Push(batch(0)) }) }()
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		mu.Lock()
		h.end(true, nil) // let it go, so that the test ends
		mu.Unlock()
		t.Fatal("the first batch, larger than the budget, waited for the hold to end instead of being held")
	}
	if got := reusedRowsHeld.Load() - held; got != 4 {
		t.Fatalf("the first batch, larger than the budget, held %d rows; want 4", got)
	}
	if big := reusedHoldBigFirst.Load(); big != heldRowBytes(batch(0)) {
		t.Fatalf("largest first item over the budget %d, want %d", big, heldRowBytes(batch(0)))
	}
	waits := reusedHoldWaits.Load()
	done := make(chan error, 1)
	go func() { done <- call(func() error { return p.Push(batch(1)) }) }()
	if !waitUntil(10*time.Second, func() bool { return reusedHoldWaits.Load() > waits }) {
		t.Fatal("the second call did not wait")
	}
	mu.Lock()
	if len(out.got) != 0 {
		t.Fatalf("passed on while held: %v", out.got)
	}
	h.end(true, nil)
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(out.got, ","), "0,0,0,0,1,1,1,1"; got != want {
		t.Fatalf("passed on %s, want %s", got, want)
	}
}

// TestBarrierReusedScanHoldBudget: the GROUP BY next to the keyless aggregate over one reused scan at
// parallelism 2 (the aggregate's branch under the graph lock, held from each checkpoint's gate to its final
// lock), checkpoints every 20 ms made slow between the gate and the final lock (afterGate: 40 ms) while the
// input arrives in large chunks, and a hold budget of 64 KiB: the subtasks wait at the budget
// (reusedHoldWaits) and read on once the hold ends, the most held by one hold never exceeds the budget (or
// one batch larger than it, held alone)
// (reusedHoldPeak), and after an injected failure and a restart from a checkpoint the totals and the keyless
// count are exact.
func TestBarrierReusedScanHoldBudget(t *testing.T) {
	const n, chunk = 12000, 1500
	defer func(l int64) { reusedHoldLimit = l }(reusedHoldLimit)
	reusedHoldLimit = 64 << 10
	reusedHoldPeak.Store(0)
	reusedHoldBigFirst.Store(0)
	addr := exchangeBroker(t)
	var failed atomic.Int32
	var calls atomic.Int64
	pace, err := expr.NewUDF("pace", func(v int64) (int64, error) {
		if calls.Add(1) == 2*n/3 && failed.CompareAndSwap(0, 1) {
			return 0, fmt.Errorf("injected failure after %d rows", 2*n/3)
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	produceExchangeOrders(t, addr, "ord", 0, chunk)
	afterGate = func() { time.Sleep(40 * time.Millisecond) }
	defer func() { afterGate = nil }()
	s, notice := barrierSession(t, addr, 2, "20 ms", pace)
	execScript(t, s, strings.ReplaceAll(barrierReuseTables, "ADDR", addr))
	held, waits, reused := reusedRowsHeld.Load(), reusedHoldWaits.Load(), reusedBuilt.Load()
	j := startInsert(t, s, reuseGroupbyKeyless("p"))
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	if r := reusedBuilt.Load() - reused; r != 1 {
		t.Fatalf("%d reused scans run as subtasks, want 1", r)
	}
	for c := chunk; c < n; c += chunk {
		time.Sleep(5 * time.Millisecond)
		produceExchangeOrders(t, addr, "ord", c, chunk)
	}
	waitUpsert(t, addr, "totals", totalsWant(n))
	waitGrand(t, j, addr, n)
	if failed.Load() != 1 || j.Metrics().Restarts != 1 || strings.Contains(notice.String(), "from the beginning") {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1, from a checkpoint\n%s", failed.Load(), j.Metrics().Restarts, notice)
	}
	pk := reusedHoldPeak.Load()
	t.Logf("%d rows held, %d waits at the budget, peak %d of %d bytes", reusedRowsHeld.Load()-held, reusedHoldWaits.Load()-waits, pk, reusedHoldLimit)
	if reusedRowsHeld.Load() == held || reusedHoldWaits.Load() == waits {
		t.Fatalf("%d rows held, %d waits at the budget: want some of each", reusedRowsHeld.Load()-held, reusedHoldWaits.Load()-waits)
	}
	if pk == 0 || pk > max(reusedHoldLimit, reusedHoldBigFirst.Load()) {
		t.Fatalf("a hold held %d bytes, budget %d", pk, reusedHoldLimit)
	}
}

// TestBarrierReusedScanDrainFails: STOP JOB ... WITH SAVEPOINT WITH DRAIN of a statement set over one reused
// scan of table o at parallelism 2 (a GROUP BY behind an exchange, and a keyless TUMBLE window aggregate, a
// branch under the graph lock) fails after its part under the graph lock (failStopAfterLock), with rows held
// by the window's branch (afterGate waits for them). The maximum watermark has gone through the window
// aggregate, so those rows must not be passed on (they would be late: dropped, their windows fired partly):
// the job fails and restarts from its last checkpoint, and a second STOP WITH DRAIN after the whole input
// finds every window exact. Before, the held rows were passed on after the maximum watermark and the job ran
// on with windows fired without them.
func TestBarrierReusedScanDrainFails(t *testing.T) {
	const n, chunk = 6000, 300
	addr := exchangeBroker(t)
	var armed, failedStop, heldAtStop atomic.Bool
	var held atomic.Int64 // the rows held before the stop
	afterGate = func() {
		if armed.Load() && waitUntil(10*time.Second, func() bool { return reusedRowsHeld.Load() > held.Load() }) {
			heldAtStop.Store(true)
		}
	}
	injected := errors.New("injected failure of the STOP after its final part")
	failStopAfterLock = func() error {
		if armed.CompareAndSwap(true, false) {
			failedStop.Store(true)
			return injected
		}
		return nil
	}
	defer func() { afterGate, failStopAfterLock = nil, nil }()
	produceExchangeOrders(t, addr, "ord", 0, chunk)
	s, notice := barrierSession(t, addr, 2, "20 ms")
	execScript(t, s, strings.ReplaceAll(barrierReuseTables, "ADDR", addr)+strings.ReplaceAll(`
CREATE TABLE wsum (w BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (w) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wsum', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`, "ADDR", addr))
	reused := reusedBuilt.Load()
	j := startInsert(t, s, `EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM o GROUP BY user_id;
INSERT INTO wsum SELECT MIN(id) - MOD(MIN(id), 100), COUNT(*), SUM(amount)
  FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;
END;`)
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	if r := reusedBuilt.Load() - reused; r != 1 {
		t.Fatalf("%d reused scans run as subtasks, want 1", r)
	}
	fed := feedOrders(t, addr, chunk, n, chunk, n/3)
	held.Store(reusedRowsHeld.Load())
	armed.Store(true)
	if _, err := j.Stop(context.Background(), t.TempDir(), true); !errors.Is(err, injected) {
		t.Fatalf("stop: %v, want the injected failure\n%s", err, notice)
	}
	if !failedStop.Load() || !heldAtStop.Load() {
		t.Fatalf("the failed stop: failed %v, rows held at its cut %v; want both", failedStop.Load(), heldAtStop.Load())
	}
	fed()
	waitUntil(10*time.Second, func() bool { return j.Metrics().Restarts >= 1 })
	waitUpsert(t, addr, "totals", totalsWant(n))
	if _, err := j.Stop(context.Background(), t.TempDir(), true); err != nil {
		t.Fatalf("second stop: %v\n%s", err, notice)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for w := 0; w < n; w += 100 {
		total := 0
		for i := w; i < w+100; i++ {
			total += i % 7
		}
		want[fmt.Sprintf(`{"w":%d}`, w)] = fmt.Sprintf(`{"w":%d,"cnt":100,"total":%d}`, w, total)
	}
	waitUpsert(t, addr, "wsum", want)
	if r := j.Metrics().Restarts; r != 1 {
		t.Fatalf("%d restarts after the failed STOP WITH DRAIN, want 1 (from its last checkpoint)\n%s", r, notice)
	}
	if strings.Contains(notice.String(), "from the beginning") {
		t.Fatalf("restarted from the beginning\n%s", notice)
	}
}
