package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// prunedTemporalJoinDDL is the query of the savepoint under testdata/.savepoints/temporal-join-before-pruning,
// which Sluice wrote (commit 115ea31) before ProjectJoinTransposeRule pruned event-time temporal joins: its
// join stored whole rows of both tables (TemporalJoin(... select=[k, amount, note, ts, k0, rate, extra, rts]),
// 4 entries of state); the same query planned today keeps k, amount and ts of orders and k, rate and rts of
// rates, so the join is another operator with another id.
const prunedTemporalJoinDDL = `
CREATE TABLE orders (k INT, amount BIGINT, note STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.note.length' = '4');
CREATE TABLE rates (k INT, rate BIGINT, extra STRING, rts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED, WATERMARK FOR rts AS rts) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.extra.length' = '4');
CREATE TABLE out2 (k INT, amount BIGINT, rate BIGINT) WITH ('connector' = 'blackhole');`

const prunedTemporalJoinInsert = `INSERT INTO out2 SELECT o.k, o.amount, r.rate FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k;`

// TestRestoreTemporalJoinSavepointBeforePruning: as TestRestoreJoinSavepointBeforePruning, for an event-time
// temporal join (a join kind pruned since): the old join's state is refused with the error naming it and
// the option that skips it, and the job starts with that option.
func TestRestoreTemporalJoinSavepointBeforePruning(t *testing.T) {
	sp := filepath.Join(t.TempDir(), "savepoint")
	if err := os.CopyFS(sp, os.DirFS("testdata/.savepoints/temporal-join-before-pruning")); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(Config{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Notice: &syncBuffer{}, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, j := range s.Jobs() {
			j.Cancel()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	execAll(ctx, t, s, prunedTemporalJoinDDL+"\nSET 'execution.savepoint.path' = '"+sp+"';")

	res := execAll(ctx, t, s, "EXPLAIN "+strings.TrimSuffix(prunedTemporalJoinInsert, ";"))
	if !strings.Contains(res, "TemporalJoin(joinType=[InnerJoin], where=[AND(=(k, k0), __TEMPORAL_JOIN_CONDITION(ts, rts))], select=[k, amount, ts, k0, rate, rts])") {
		t.Fatalf("the temporal join's inputs are not pruned (the test's premise):\n%s", res)
	}

	res = execAll(ctx, t, s, prunedTemporalJoinInsert)
	want := "Cannot map checkpoint/savepoint state for operator TemporalJoin(joinType=[InnerJoin], where=[AND(=(k, k0), __TEMPORAL_JOIN_CONDITION(ts, rts))], select=[k, amount, note, ts, k0, rate, extra, rts]) (id op-33f669baf82af444) to the new program"
	if !strings.Contains(res, want) || !strings.Contains(res, "SET 'execution.savepoint.ignore-unclaimed-state' = 'true'") {
		t.Fatalf("restore of the old temporal join's savepoint:\n%s\nwant an error containing:\n%s", res, want)
	}
	if len(s.Jobs()) != 0 {
		t.Fatalf("a job started from a savepoint it cannot map: %d jobs", len(s.Jobs()))
	}

	res = execAll(ctx, t, s, "SET 'execution.savepoint.ignore-unclaimed-state' = 'true';\n"+prunedTemporalJoinInsert)
	if !strings.Contains(res, "[INFO] job submitted") || strings.Contains(res, "rror") {
		t.Fatalf("restore skipping the old temporal join's state:\n%s", res)
	}
}
