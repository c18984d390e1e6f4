package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// TestCheckpointAfterFailedPush: a function in a Calc above a GROUP BY fails once, on the output row of one
// group, part-way through a batch: the aggregate has taken the batch's rows, the source's position has not
// advanced past them. A checkpoint and a savepoint taken after the failure and before the job is cancelled
// (beforeFailCancel forces that order) must fail with the job's error; the job restarts from the checkpoint
// completed before the failure and its upsert-kafka totals are exact (no row counted twice). At
// parallelism 1 the batch is pushed under the graph lock; at parallelism 2 the aggregate and the Calc run
// in keyed subtasks, cut with barriers or with the quiesce.
func TestCheckpointAfterFailedPush(t *testing.T) {
	for _, tc := range []struct {
		name       string
		par        int
		noBarriers bool
		miniBatch  bool
	}{
		{"p1", 1, false, false},
		{"p1-quiesce", 1, true, false},
		{"p1-minibatch", 1, false, true},
		{"p2-barriers", 2, false, false},
		{"p2-quiesce", 2, true, false},
		{"p2-minibatch-quiesce", 2, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(old bool) { noBarriers = old }(noBarriers)
			noBarriers = tc.noBarriers
			testCheckpointAfterFailedPush(t, tc.par, tc.miniBatch)
		})
	}
}

// With miniBatch the GROUP BY is a mini-batch aggregate: the failure may come from a flush on the ticker
// (under the graph lock, or a keyed subtask's tick).
func testCheckpointAfterFailedPush(t *testing.T, par int, miniBatch bool) {
	addr := exchangeBroker(t)
	const n = 3000
	produceExchangeOrders(t, addr, "ord", 0, n)
	var notice syncBuffer
	s, err := NewSession(Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int32
	// user 5 reaches 40 orders around order 1480, in the middle of the input (a mini-batch may emit a
	// count past 40 first)
	u, err := expr.NewUDF("fail_at", func(user, cnt int64) (int64, error) {
		if user == 5 && cnt >= 40 && failed.CompareAndSwap(0, 1) {
			return 0, fmt.Errorf("injected failure at user %d, count %d", user, cnt)
		}
		return cnt, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterFunction(u); err != nil {
		t.Fatal(err)
	}
	spDir := t.TempDir()
	var hookRuns atomic.Int32
	var ckptErr, spErr error
	var ckptPath, spPath string
	beforeFailCancel = func(g *graph) {
		if hookRuns.Add(1) != 1 {
			return
		}
		// The failure happened and the failing push let go of the graph lock; the job is not cancelled yet.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ckptPath, ckptErr = g.ckpt.cycle(ctx, true, false)
		spPath, spErr = g.ckpt.cycle(ctx, true, true, spDir)
	}
	defer func() { beforeFailCancel = nil }()
	if miniBatch {
		execScript(t, s, `SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '5 ms';
SET 'table.exec.mini-batch.size' = '100000';
`)
	}
	execScript(t, s, strings.ReplaceAll(exchangeJobTables, "ADDR", addr)+`
SET 'restart-strategy' = 'fixed-delay';
SET 'restart-strategy.fixed-delay.attempts' = '1';
SET 'restart-strategy.fixed-delay.delay' = '10 ms';
SET 'execution.checkpointing.interval' = '15 ms';
`)
	st, err := sql.ParseStatement(`INSERT INTO totals SELECT user_id, fail_at(user_id, cnt), total
FROM (SELECT user_id, COUNT(*) AS cnt, SUM(amount) AS total FROM o GROUP BY user_id)`)
	if err != nil {
		t.Fatal(err)
	}
	built := exchangesBuilt.Load()
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if x := exchangesBuilt.Load() - built; (par > 1) != (x > 0) {
		t.Fatalf("parallelism %d: %d exchanges built", par, x)
	}
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	output := notice.String
	for deadline := time.Now().Add(30 * time.Second); j.Metrics().Restarts == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if j.Metrics().Restarts == 0 {
		t.Fatalf("no restart (%s, %v):\n%s", j.Status(), j.Err(), output())
	}
	if hookRuns.Load() == 0 {
		t.Fatalf("no checkpoint was tried between the failure and the cancel:\n%s", output())
	}
	if !errors.Is(ckptErr, errJobFailed) || ckptPath != "" {
		t.Errorf("checkpoint after the failed push: path %q, error %v; want it to fail with the job's error", ckptPath, ckptErr)
	} else if !strings.Contains(ckptErr.Error(), "injected failure at user 5") {
		t.Errorf("checkpoint error %q does not carry the job's error", ckptErr)
	}
	if !errors.Is(spErr, errJobFailed) || spPath != "" {
		t.Errorf("savepoint after the failed push: path %q, error %v; want it to fail with the job's error", spPath, spErr)
	}
	waitUpsert(t, addr, "totals", totalsWant(n))
	if failed.Load() != 1 || j.Metrics().Restarts != 1 {
		t.Fatalf("failures injected %d, restarts %d; want 1 and 1\n%s", failed.Load(), j.Metrics().Restarts, output())
	}
	// the restarted graph checkpoints again
	before := j.LastCheckpoint().ID
	for deadline := time.Now().Add(20 * time.Second); j.LastCheckpoint().ID == before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if j.LastCheckpoint().ID == before {
		t.Errorf("no checkpoint completed after the restart (last %d):\n%s", before, output())
	}
}
