package planner

import (
	"fmt"
	"testing"
)

// TestJoinInsertOnlyFlags: the physical plan marks each input of a streaming regular join that is
// insert-only (its changelog mode), so that the join keeps that side append-only; an input that updates or
// retracts (an aggregate, an outer join) is not marked, nor is anything in batch mode. Joins are listed top
// first.
func TestJoinInsertOnlyFlags(t *testing.T) {
	cat := newTestCatalog(t)
	for _, c := range []struct {
		query string
		batch bool
		want  string
	}{
		{"SELECT t.b, u.c FROM t JOIN u ON t.a = u.a", false, "[true true]"},
		{"SELECT x.a, x.n, u.c FROM (SELECT a, COUNT(*) AS n FROM t GROUP BY a) x JOIN u ON x.a = u.a", false, "[false true]"},
		{"SELECT u.c, x.n FROM u JOIN (SELECT a, MAX(b) AS n FROM t GROUP BY a) x ON x.a = u.a", false, "[true false]"},
		{"SELECT x.a, u.c FROM (SELECT t.a, u.c FROM t LEFT JOIN u ON t.a = u.a) x JOIN u ON x.a = u.a", false, "[false true] [true true]"},
		{"SELECT t1.b FROM t AS t1 JOIN t AS t2 ON t1.a = t2.a AND t1.ts BETWEEN t2.ts - INTERVAL '1' MINUTE AND t2.ts", false, "[true true]"},
		{"SELECT t.b, u.c FROM t JOIN u ON t.a = u.a", true, "[false false]"},
	} {
		p := newTestPlanner(cat, c.batch)
		n, err := bindStatement(p, c.query)
		if err != nil {
			t.Fatal(err)
		}
		if n, err = p.optimize(n); err != nil {
			t.Fatal(err)
		}
		got := ""
		var walk func(Node)
		walk = func(n Node) {
			if j, ok := n.(*Join); ok {
				if got != "" {
					got += " "
				}
				got += fmt.Sprint([]bool{j.LeftInsertOnly, j.RightInsertOnly})
			}
			for _, in := range n.Inputs() {
				walk(in)
			}
		}
		walk(n)
		if got != c.want {
			t.Errorf("%s (batch %t): insert-only flags of the joins %s, want %s\n%s", c.query, c.batch, got, c.want, Explain(n, false))
		}
	}
}
