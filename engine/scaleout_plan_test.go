package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// The plan of a stateless scale-out job (scaleout_plan.go).

// runScript runs script in a new session and returns the session's notices with the first statement error
// (nil: every statement ran); a job it started is cancelled at the end of the test.
func runScript(t *testing.T, script string) (*syncBuffer, error) {
	t.Helper()
	out := &syncBuffer{}
	s, err := NewSession(Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		res, err := s.Execute(context.Background(), st)
		if err != nil {
			return out, err
		}
		if job := res.Job; job != nil {
			t.Cleanup(func() {
				job.Cancel()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = job.Wait(ctx)
			})
		}
	}
	return out, nil
}

// TestScaleOutStatelessOtherPlanLater: a stateless job (filter and projection into a kafka table) runs and
// stops; a process of another stateless plan started later under the same 'pipeline.name' is refused at
// submit (the group's committed offsets belong to the first plan), while a process of the first plan starts
// again and goes on from the group's offsets, and the other plan under another name starts.
func TestScaleOutStatelessOtherPlanLater(t *testing.T) {
	addr := scaleOutTestBroker(t)
	produceOrders(t, addr, 0, 500, 10)
	copyDDL := `CREATE TABLE copy (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'copy', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
	first := scaleOutTestScript(addr, copyDDL, `INSERT INTO copy SELECT id, user_id, amount FROM orders WHERE amount > 2`)
	other := scaleOutTestScript(addr, copyDDL, `INSERT INTO copy SELECT id, user_id, amount * 2 FROM orders WHERE amount > 2`)
	a, aOut := startTestMember(t, first)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == 500 }) {
		t.Fatalf("rows in %d, want 500\n%s", a.Metrics().RowsIn, aOut)
	}
	a.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := runScript(t, other)
	if err == nil || !strings.Contains(err.Error(), "committed source offsets for plan") || !strings.Contains(err.Error(), "'totals-job-plan'") {
		t.Fatalf("another stateless plan under the same name should be refused at submit, got %v\n%s", err, out)
	}
	// The first plan again: it reads from the group's offsets (nothing before them again).
	b, bOut := startTestMember(t, first)
	produceOrders(t, addr, 500, 100, 10)
	if !waitUntil(30*time.Second, func() bool { return b.Metrics().RowsIn == 100 }) {
		t.Fatalf("the first plan again: rows in %d, want 100\n%s", b.Metrics().RowsIn, bOut)
	}
	if out, err := runScript(t, strings.ReplaceAll(other, "'totals-job'", "'other-job'")); err != nil {
		t.Fatalf("the other plan under another name: %v\n%s", err, out)
	}
}

// TestScaleOutStatelessOtherPlanRunning: while a stateless job's first member runs (nothing committed yet,
// so nothing recorded in its plan topic), a process of another stateless plan under the same name passes
// submit but is refused by the group (the protocol names the plan): its job fails saying so, and the first
// member goes on.
func TestScaleOutStatelessOtherPlanRunning(t *testing.T) {
	addr := scaleOutTestBroker(t)
	copyDDL := `CREATE TABLE copy (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'copy', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`
	first := scaleOutTestScript(addr, copyDDL, `INSERT INTO copy SELECT id, user_id, amount FROM orders WHERE amount > 2`)
	other := scaleOutTestScript(addr, copyDDL, `INSERT INTO copy SELECT id, user_id, amount * 2 FROM orders WHERE amount > 2`)
	a, aOut := startTestMember(t, first)
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(aOut.String(), "member of consumer group") }) {
		t.Fatalf("the first member did not start:\n%s", aOut)
	}
	b, bOut := startTestMember(t, other)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "runs another plan than this process") {
		t.Fatalf("the other plan's member should fail in the group, got %v\n%s", err, bOut)
	}
	produceOrders(t, addr, 0, 300, 10)
	if !waitUntil(30*time.Second, func() bool { return a.Metrics().RowsIn == 300 }) {
		t.Fatalf("the first member: rows in %d, want 300\n%s", a.Metrics().RowsIn, aOut)
	}
}
