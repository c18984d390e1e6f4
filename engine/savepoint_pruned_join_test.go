package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// prunedJoinDDL is the query of the savepoint under testdata/.savepoints/join-before-pruning, which Sluice
// wrote before ProjectJoinTransposeRule (commit 16c5ac8): its join stored whole rows of both tables
// (Join(... select=[k, amount, note, k0, name, city])); the same query planned today reads k and amount of
// orders and k and name of customers, so the join is another operator with another id.
const prunedJoinDDL = `
CREATE TABLE orders (k INT, amount BIGINT, note STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.note.length' = '4');
CREATE TABLE customers (k INT, name STRING, city STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '20', 'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.name.length' = '4', 'fields.city.length' = '4');
CREATE TABLE out1 (k INT, amount BIGINT, name STRING) WITH ('connector' = 'blackhole');`

const prunedJoinInsert = `INSERT INTO out1 SELECT o.k, o.amount, c.name FROM orders AS o JOIN customers AS c ON o.k = c.k;`

// TestRestoreJoinSavepointBeforePruning: a savepoint of a join whose plan changed (its inputs are pruned now)
// is refused with an error naming the old join operator and the option that skips its state — never
// restored into the new operator — and, with that option, the job starts with the sources' positions and an
// empty join.
func TestRestoreJoinSavepointBeforePruning(t *testing.T) {
	sp := filepath.Join(t.TempDir(), "savepoint")
	if err := os.CopyFS(sp, os.DirFS("testdata/.savepoints/join-before-pruning")); err != nil {
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
	execAll(ctx, t, s, prunedJoinDDL+"\nSET 'execution.savepoint.path' = '"+sp+"';")

	res := execAll(ctx, t, s, "EXPLAIN "+strings.TrimSuffix(prunedJoinInsert, ";"))
	if !strings.Contains(res, "Join(joinType=[InnerJoin], where=[=(k, k0)], select=[k, amount, k0, name])") {
		t.Fatalf("the join's inputs are not pruned (the test's premise):\n%s", res)
	}

	res = execAll(ctx, t, s, prunedJoinInsert)
	want := "Cannot map checkpoint/savepoint state for operator Join(joinType=[InnerJoin], where=[=(k, k0)], select=[k, amount, note, k0, name, city]) (id op-f69b978fe9a1e3c3) to the new program"
	if !strings.Contains(res, want) || !strings.Contains(res, "SET 'execution.savepoint.ignore-unclaimed-state' = 'true'") {
		t.Fatalf("restore of the old join's savepoint:\n%s\nwant an error containing:\n%s", res, want)
	}
	if len(s.Jobs()) != 0 {
		t.Fatalf("a job started from a savepoint it cannot map: %d jobs", len(s.Jobs()))
	}

	res = execAll(ctx, t, s, "SET 'execution.savepoint.ignore-unclaimed-state' = 'true';\n"+prunedJoinInsert)
	if !strings.Contains(res, "[INFO] job submitted") || strings.Contains(res, "rror") {
		t.Fatalf("restore skipping the old join's state:\n%s", res)
	}
}
