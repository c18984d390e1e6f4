package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// TestRestartKeepsParallelism: a GROUP BY job at parallelism 2 (two source subtasks hash-exchanging into
// two keyed subtasks) fails once in a chained function and restarts in the process ('restart-strategy'):
// the restarted graph runs at parallelism 2 again, behind an exchange, and the output is exact.
func TestRestartKeepsParallelism(t *testing.T) {
	addr := exchangeBroker(t)
	const n = 3000
	produceExchangeOrders(t, addr, "ord", 0, n)
	var notice bytes.Buffer
	s, err := NewSession(Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int32
	u, err := expr.NewUDF("fail_once", func(id int64) (int64, error) {
		if id == n/2 && failed.CompareAndSwap(0, 1) {
			return 0, fmt.Errorf("injected failure at order %d", id)
		}
		return id, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterFunction(u); err != nil {
		t.Fatal(err)
	}
	execScript(t, s, strings.ReplaceAll(exchangeJobTables, "ADDR", addr)+`
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '1';
SET 'restart-strategy.fixed-delay.delay' = '10 ms';
SET 'execution.checkpointing.interval' = '50 ms';
`)
	built := exchangesBuilt.Load()
	st, err := sql.ParseStatement(`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM o WHERE fail_once(id) >= 0 GROUP BY user_id`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	for deadline := time.Now().Add(20 * time.Second); j.Metrics().Restarts == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if j.Metrics().Restarts == 0 {
		t.Fatalf("no restart (%s, %v):\n%s", j.Status(), j.Err(), notice.String())
	}
	waitUpsert(t, addr, "totals", totalsWant(n))
	if failed.Load() != 1 || j.Metrics().Restarts != 1 {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1\n%s", failed.Load(), j.Metrics().Restarts, notice.String())
	}
	if got := j.SourceSubtasks()["o"]; got != 2 {
		t.Errorf("after the restart the source runs as %d subtasks, want 2", got)
	}
	if got := exchangesBuilt.Load() - built; got != 2 {
		t.Errorf("%d exchanges built over both runs, want 2 (one per run)", got)
	}
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if len(g.exchanges) != 1 || g.subtasks != 2 {
		t.Errorf("the restarted graph has %d exchanges and %d keyed subtasks, want 1 and 2", len(g.exchanges), g.subtasks)
	}
	// more input after the restart reaches the restarted graph
	produceExchangeOrders(t, addr, "ord", n, 500)
	waitUpsert(t, addr, "totals", totalsWant(n+500))
}
