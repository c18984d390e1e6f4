package planner

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// TestJoinStateWidthShrinks plans one query per join kind with the whole program and with the program
// without the pruning rules (ProjectJoinTransposeRule, TrimJoinReadersRule), and checks the width of the
// rows each side of the join holds (the columns of its inputs: what a join stores in state, and what a lookup
// join copies into each output row) before and after.
func TestJoinStateWidthShrinks(t *testing.T) {
	cat := newTestCatalog(t)
	if out := execDDL(cat, `
CREATE TABLE w (a INT, d STRING, e BIGINT, f STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE vers (a INT, c STRING, g STRING, vts TIMESTAMP(3), PRIMARY KEY (a) NOT ENFORCED, WATERMARK FOR vts AS vts) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE dim (a INT, c STRING, g STRING) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://127.0.0.1:5432/db', 'table-name' = 'dim');`); out != "ok\n" {
		t.Fatal(out)
	}
	for _, c := range []struct {
		kind, query string
		before      [2]int // left, right widths without the rules (right 0: a lookup join's dimension side)
		after       [2]int
	}{
		{"regular join", "SELECT w.d, u.c FROM w JOIN u ON w.a = u.a", [2]int{5, 2}, [2]int{2, 2}},
		{"interval join", "SELECT w1.d FROM w AS w1 JOIN w AS w2 ON w1.a = w2.a AND w1.ts BETWEEN w2.ts - INTERVAL '1' MINUTE AND w2.ts",
			[2]int{5, 5}, [2]int{3, 2}},
		{"window join", `SELECT L.a, R.d FROM
  (SELECT * FROM TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) L
  JOIN (SELECT * FROM TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE))) R
  ON L.a = R.a AND L.window_start = R.window_start AND L.window_end = R.window_end`, [2]int{8, 8}, [2]int{3, 4}},
		{"window join under a window Top-N", `SELECT l_a, r_d, window_end, rn FROM (
  SELECT L.a AS l_a, R.d AS r_d, L.window_start, L.window_end,
    ROW_NUMBER() OVER (PARTITION BY L.window_start, L.window_end ORDER BY R.e DESC) AS rn
  FROM TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) L
  JOIN TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) R
  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.e < R.e
) WHERE rn <= 1`, [2]int{8, 8}, [2]int{4, 4}},
		{"regular join under a Top-N", `SELECT a, c, rn FROM (
  SELECT w.a, w.d, w.f, u.c, ROW_NUMBER() OVER (PARTITION BY u.c ORDER BY w.e DESC) AS rn FROM w JOIN u ON w.a = u.a)
WHERE rn <= 2`, [2]int{5, 2}, [2]int{2, 2}},
		{"window semi join", `SELECT d FROM TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) l WHERE EXISTS (
  SELECT 1 FROM TABLE(TUMBLE(TABLE w, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) r
  WHERE l.window_start = r.window_start AND l.window_end = r.window_end AND l.a = r.a)`, [2]int{8, 3}, [2]int{4, 3}},
		{"event-time temporal join", "SELECT w.d, vers.c FROM w JOIN vers FOR SYSTEM_TIME AS OF w.ts ON w.a = vers.a",
			[2]int{5, 4}, [2]int{3, 3}},
		{"lookup join", "SELECT o.a, dim.g FROM (SELECT *, PROCTIME() AS pt FROM w) o JOIN dim FOR SYSTEM_TIME AS OF o.pt ON o.a = dim.a",
			[2]int{6, 0}, [2]int{1, 0}},
	} {
		t.Run(c.kind, func(t *testing.T) {
			got := func(prune bool) [2]int {
				p := newTestPlanner(cat, false)
				n, err := bindStatement(p, c.query)
				if err != nil {
					t.Fatal(err)
				}
				program := phases(false)
				if !prune {
					program = withoutRules(program, "ProjectJoinTransposeRule", "TrimJoinReadersRule")
				}
				if n, _, err = Optimize(n, program); err != nil {
					t.Fatal(err)
				}
				if n, err = p.physical(n); err != nil {
					t.Fatal(err)
				}
				w, ok := joinWidths(n)
				if !ok {
					t.Fatalf("no join in the plan:\n%s", Explain(n, false))
				}
				return w
			}
			before, after := got(false), got(true)
			if before != c.before || after != c.after {
				t.Errorf("join input widths (left, right): %v without the rules, %v with them; want %v and %v", before, after, c.before, c.after)
			}
			if after[0]+after[1] >= before[0]+before[1] {
				t.Errorf("the join's rows did not shrink: %v → %v", before, after)
			}
		})
	}
}

// withoutRules returns program with the named rules left out.
func withoutRules(program []Phase, names ...string) []Phase {
	var out []Phase
	for _, ph := range program {
		var rs []Rule
		for _, r := range ph.Rules {
			if !containsName(names, r.Name()) {
				rs = append(rs, r)
			}
		}
		out = append(out, Phase{Name: ph.Name, Rules: rs})
	}
	return out
}

// joinWidths finds the first join in n (depth first) and returns the widths of its inputs.
func joinWidths(n Node) ([2]int, bool) {
	switch j := n.(type) {
	case *Join:
		return [2]int{len(j.Left.Fields()), len(j.Right.Fields())}, true
	case *WindowJoin:
		return [2]int{len(j.Left.Fields()), len(j.Right.Fields())}, true
	case *TemporalJoin:
		return [2]int{len(j.Left.Fields()), len(j.Right.Fields())}, true
	case *LookupJoin:
		return [2]int{len(j.Input.Fields()), 0}, true
	}
	for _, in := range n.Inputs() {
		if w, ok := joinWidths(in); ok {
			return w, true
		}
	}
	return [2]int{}, false
}

// TestTrimJoinUnderAggregate: an Aggregate reading a join directly (the binder always puts a pre-projection
// between them, so this shape is built here) prunes the join to its keys, the grouping keys and the
// arguments; the aggregate is renumbered and its output unchanged.
func TestTrimJoinUnderAggregate(t *testing.T) {
	cat := newTestCatalog(t)
	p := newTestPlanner(cat, false)
	n, err := bindStatement(p, "SELECT * FROM t JOIN u ON t.a = u.a")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err = Optimize(n, phases(false)); err != nil {
		t.Fatal(err)
	}
	var j *Join
	for x := n; j == nil; x = x.Inputs()[0] {
		j, _ = x.(*Join)
	}
	// j: a, b, ts, a0, c. GROUP BY c, SUM(b): ts is read by nothing.
	fs := j.Fields()
	agg := &Aggregate{Input: j, Keys: []int{4}, Aggs: []exec.AggCall{{Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{fs[1].Type}, Filter: -1, Type: fs[1].Type}},
		Out: []Field{fs[4], {Name: "s", Type: fs[1].Type}}}
	out, ok := trimJoinReaders{}.Rewrite(agg)
	if !ok {
		t.Fatalf("TrimJoinReadersRule did not apply to %s", ExplainLogical(agg))
	}
	a := out.(*Aggregate)
	nj := a.Input.(*Join)
	got := fmt.Sprintf("left %s, right %s, keys %v, args %v", names(nj.Left.Fields()), names(nj.Right.Fields()), a.Keys, a.Aggs[0].Args)
	if want := "left a, b, right a, c, keys [3], args [1]"; got != want || len(a.Out) != 2 || a.Out[1].Name != "s" {
		t.Errorf("pruned: %s, out %v; want %s and the same output", got, a.Out, want)
	}
	if _, ok := (trimJoinReaders{}).Rewrite(a); ok {
		t.Errorf("TrimJoinReadersRule applies again to its own result")
	}
}

// TestPruneJoinUnderGoFunction: a Go function's call in the join's reader is bound again over the moved
// columns, so the join is pruned (it was left whole before expr.MapColumns rebound UDF calls).
func TestPruneJoinUnderGoFunction(t *testing.T) {
	cat := newTestCatalog(t)
	p := newTestPlanner(cat, false)
	u, err := expr.NewUDF("f", func(s string) string { return s + "!" })
	if err != nil {
		t.Fatal(err)
	}
	p.Env.Functions = map[string]*expr.UDF{u.Name(): u}
	n, err := bindStatement(p, "SELECT F(u.c) AS fc, t.a FROM t JOIN u ON t.a = u.a")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err = Optimize(n, phases(false)); err != nil {
		t.Fatal(err)
	}
	got := ExplainLogical(n)
	want := `LogicalCalc(select=[F(c) AS fc, a])
+- LogicalJoin(joinType=[InnerJoin], where=[=(a, a0)], select=[a, a0, c])
   :- LogicalCalc(select=[a])
   :  +- LogicalWatermarkAssigner(rowtime=[ts], watermark=[ts])
   :     +- LogicalTableScan(table=[[default_catalog, default_database, t]], fields=[a, b, ts])
   +- LogicalTableScan(table=[[default_catalog, default_database, u]], fields=[a, c])
`
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}
