package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

// batchPreparer is the engine's hook of a sink stage's Output (engine/batch_sink.go).
type batchPreparer interface {
	PrepareBatchCommit(ctx context.Context, dir, stmt string, tasks int) error
}

// stageRun is one run of an exactly-once kafka sink stage with several tasks, as a batch job drives it.
type stageRun struct {
	out    connectors.TaskOutput
	ws     []connectors.SubtaskWriter
	stderr *bytes.Buffer
}

// openStage opens the sink stage of tbl for a run of stmt with tasks tasks, its commit record in dir.
func (h *harness) openStage(t *testing.T, tbl *catalog.Table, dir, stmt string, tasks int) *stageRun {
	t.Helper()
	var stderr bytes.Buffer
	snk, err := h.createSink(tbl, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := snk.(connectors.TaskSink).OpenTasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := out.(batchPreparer).PrepareBatchCommit(context.Background(), dir, stmt, tasks); err != nil {
		t.Fatalf("PrepareBatchCommit: %v\n%s", err, stderr.String())
	}
	r := &stageRun{out: out, stderr: &stderr}
	for i := 0; i < tasks; i++ {
		w, err := out.NewSubtaskWriter(i)
		if err != nil {
			t.Fatal(err)
		}
		r.ws = append(r.ws, w)
	}
	return r
}

// push writes from..to through task i.
func (r *stageRun) push(t *testing.T, i, from, to int) {
	t.Helper()
	var b changelog.Batch
	for v := from; v <= to; v++ {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(v))})
	}
	if err := r.ws[i].Push(&b); err != nil {
		t.Fatal(err)
	}
}

// commitRecords returns the commit records in dir (name → the recorded intent's transactional ids).
func commitRecords(t *testing.T, dir string) map[string][]string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "sluice-kafka-txn-*.json"))
	out := map[string][]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Commit []struct{ ID string }
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("commit record %s: %v", n, err)
		}
		ids := []string{}
		for _, c := range rec.Commit {
			ids = append(ids, c.ID)
		}
		out[filepath.Base(n)] = ids
	}
	return out
}

const batchStmt = "INSERT INTO out SELECT a FROM src"

// TestBatchTasksRollForward: a batch run of an exactly-once kafka sink stage with 3 tasks is killed after
// it recorded its commit intent and committed task 1's transaction only. The next run of the same
// statement commits the other two by their producer ids and epochs before any of its tasks initializes
// the ids (which would abort them): a read_committed consumer sees every row of the killed run once, the
// already committed task's rows included; and this run, the completion of the killed one, writes nothing
// and removes the record. A third run of the statement writes again.
func TestBatchTasksRollForward(t *testing.T) {
	h := newHarness(t)
	h.session["execution.runtime-mode"] = "batch"
	if err := h.cluster.CreateTopic("bt", 3, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "bt", "batch")
	dir := t.TempDir()

	r1 := h.openStage(t, tbl, dir, batchStmt, 3)
	for i := 0; i < 3; i++ {
		r1.push(t, i, i*10+1, i*10+10)
	}
	kafka.CrashTasksInCommit(t, r1.out, 1)
	recs := commitRecords(t, dir)
	if len(recs) != 1 {
		t.Fatalf("want one commit record after the kill, got %v", recs)
	}
	for _, ids := range recs {
		if strings.Join(ids, ",") != "batch-0-1,batch-1-1,batch-2-1" {
			t.Fatalf("the commit intent names %v, want the 3 tasks' transactions", ids)
		}
	}

	r2 := h.openStage(t, tbl, dir, batchStmt, 3)
	if got := readCommittedInts(t, h.addr, "bt", 3); !equalInts(got, ints(1, 30)) {
		t.Fatalf("after the roll-forward a read_committed consumer sees %v, want 1..30 once", got)
	}
	if !strings.Contains(r2.stderr.String(), "this run writes nothing") {
		t.Fatalf("the completing run did not say that it writes nothing:\n%s", r2.stderr.String())
	}
	for i := 0; i < 3; i++ {
		r2.push(t, i, i*10+1, i*10+10)
	}
	if err := r2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got := readCommittedInts(t, h.addr, "bt", 3); !equalInts(got, ints(1, 30)) {
		t.Fatalf("the completing run wrote rows: %v, want 1..30 once", got)
	}
	if recs := commitRecords(t, dir); len(recs) != 0 {
		t.Fatalf("the completing run left its commit record: %v", recs)
	}

	r3 := h.openStage(t, tbl, dir, batchStmt, 3)
	r3.push(t, 1, 100, 102)
	if err := r3.out.End(); err != nil {
		t.Fatal(err)
	}
	if got := readCommittedInts(t, h.addr, "bt", 3); !equalInts(got, ints(1, 30, ints(100, 102))) {
		t.Fatalf("a new run of the statement after the completed one: %v, want 1..30 and 100..102", got)
	}
	if recs := commitRecords(t, dir); len(recs) != 0 {
		t.Fatalf("a run that committed left its commit record: %v", recs)
	}
}

// TestBatchTasksRollForwardOtherStatement: the intent of a killed run (none of its transactions committed
// yet) is rolled forward by a run of another statement with the same prefix, which then writes its own rows.
func TestBatchTasksRollForwardOtherStatement(t *testing.T) {
	h := newHarness(t)
	h.session["execution.runtime-mode"] = "batch"
	if err := h.cluster.CreateTopic("bt", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "bt", "other")
	dir := t.TempDir()
	r1 := h.openStage(t, tbl, dir, batchStmt, 2)
	r1.push(t, 0, 1, 5)
	r1.push(t, 1, 6, 10)
	kafka.CrashTasksInCommit(t, r1.out, 0)

	r2 := h.openStage(t, tbl, dir, batchStmt+" WHERE a > 0", 2)
	if strings.Contains(r2.stderr.String(), "writes nothing") {
		t.Fatalf("a run of another statement took the killed run's completion as its own:\n%s", r2.stderr.String())
	}
	r2.push(t, 0, 11, 12)
	if err := r2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got := readCommittedInts(t, h.addr, "bt", 2); !equalInts(got, ints(1, 12)) {
		t.Fatalf("read_committed: %v, want 1..10 (rolled forward) and 11..12", got)
	}
}

// TestBatchTasksAbortLingering: a run at 4 tasks is killed before its commit intent (its 4 transactions
// open). The next run at 2 tasks aborts all 4, the ids beyond its own tasks too (bounded by the 4 tasks in
// the commit record): a read_committed consumer is not held back by them, sees none of the killed run's
// rows, and sees the new run's.
func TestBatchTasksAbortLingering(t *testing.T) {
	h := newHarness(t)
	h.session["execution.runtime-mode"] = "batch"
	if err := h.cluster.CreateTopic("bt", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "bt", "linger")
	dir := t.TempDir()
	r1 := h.openStage(t, tbl, dir, batchStmt, 4)
	for i := 0; i < 4; i++ {
		r1.push(t, i, i*10+1, i*10+10)
	}
	kafka.CrashTasksInCommit(t, r1.out, -1)

	r2 := h.openStage(t, tbl, dir, batchStmt, 2)
	r2.push(t, 0, 100, 101)
	if err := r2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got := readCommittedInts(t, h.addr, "bt", 2); !equalInts(got, ints(100, 101)) {
		t.Fatalf("read_committed: %v, want 100..101 (the killed run's transactions aborted)", got)
	}
}

// TestBatchTasksRollForwardAborted: one transaction of the recorded intent was aborted before the next run
// (another producer initialized its id; kfake then answers the recorded epoch with PRODUCER_FENCED). The
// roll-forward commits the others, warns that the aborted one's rows are lost, and the run still completes
// the killed one (it writes nothing: a rerun would duplicate the committed tasks' rows).
func TestBatchTasksRollForwardAborted(t *testing.T) {
	h := newHarness(t)
	h.session["execution.runtime-mode"] = "batch"
	if err := h.cluster.CreateTopic("bt", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "bt", "aborted")
	dir := t.TempDir()
	r1 := h.openStage(t, tbl, dir, batchStmt, 3)
	for i := 0; i < 3; i++ {
		r1.push(t, i, i*10+1, i*10+10)
	}
	kafka.CrashTasksInCommit(t, r1.out, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr), kgo.TransactionalID("aborted-2-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.ProducerID(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	r2 := h.openStage(t, tbl, dir, batchStmt, 3)
	if got := readCommittedInts(t, h.addr, "bt", 2); !equalInts(got, ints(1, 20)) {
		t.Fatalf("read_committed: %v, want 1..20 (tasks 1 and 2 rolled forward, task 3's transaction aborted)", got)
	}
	warn := r2.stderr.String()
	if !strings.Contains(warn, "'aborted-2-1' of a killed batch run cannot be completed") || !strings.Contains(warn, "1 of them could not be committed") {
		t.Fatalf("no warning about the aborted transaction:\n%s", warn)
	}
	if err := r2.out.End(); err != nil {
		t.Fatal(err)
	}
}
