package engine

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// TestSessionWindowChoice: a session window aggregate keeps running accumulators exactly when its calls
// merge, only projections lie between it and the TVF, and its keys besides the window's are the partition.
func TestSessionWindowChoice(t *testing.T) {
	var out bytes.Buffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	execAll(ctx, t, s, `CREATE TABLE ev (k STRING, c STRING, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH ('connector' = 'datagen', 'number-of-rows' = '10')`)
	sess := "TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' MINUTE))"
	for _, c := range []struct {
		query string
		acc   bool
	}{
		{"SELECT k, window_start, window_end, COUNT(*), SUM(v), MIN(v), MAX(v), AVG(v), STDDEV_POP(v), VAR_SAMP(v), COUNT(v) FROM " + sess + " GROUP BY k, window_start, window_end", true},
		{"SELECT window_start, window_end, k, SUM(v * 2) FROM " + sess + " GROUP BY window_start, window_end, k", true},
		{"SELECT window_start, window_end, COUNT(*) FROM TABLE(SESSION(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end", true},
		{"SELECT window_start, window_end, k, c, COUNT(*) FROM TABLE(SESSION(TABLE ev PARTITION BY (c, k), DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, k, c", true},
		// The legacy group window.
		{"SELECT k, SESSION_START(ts, INTERVAL '1' MINUTE), COUNT(*), MAX(v) FROM ev GROUP BY k, SESSION(ts, INTERVAL '1' MINUTE)", true},
		{"SELECT SESSION_END(ts, INTERVAL '1' MINUTE), SUM(v) FROM ev GROUP BY SESSION(ts, INTERVAL '1' MINUTE)", true},
		// Calls that do not merge.
		{"SELECT k, window_start, window_end, COUNT(DISTINCT v) FROM " + sess + " GROUP BY k, window_start, window_end", false},
		{"SELECT k, window_start, window_end, FIRST_VALUE(v) FROM " + sess + " GROUP BY k, window_start, window_end", false},
		{"SELECT k, window_start, window_end, LAST_VALUE(v) FROM " + sess + " GROUP BY k, window_start, window_end", false},
		{"SELECT k, window_start, window_end, LISTAGG(c) FROM " + sess + " GROUP BY k, window_start, window_end", false},
		{"SELECT k, COUNT(DISTINCT v) FROM ev GROUP BY k, SESSION(ts, INTERVAL '1' MINUTE)", false},
		// Group keys other than the partition: fewer (sessions of several keys together), more (a session's
		// rows apart), or another column.
		{"SELECT window_start, window_end, COUNT(*) FROM " + sess + " GROUP BY window_start, window_end", false},
		{"SELECT k, c, window_start, window_end, COUNT(*) FROM " + sess + " GROUP BY k, c, window_start, window_end", false},
		{"SELECT c, window_start, window_end, COUNT(*) FROM " + sess + " GROUP BY c, window_start, window_end", false},
		// A filter between the TVF and the aggregate: the rows it drops still cut the sessions.
		{"SELECT k, window_start, window_end, COUNT(*) FROM " + sess + " WHERE v > 1 GROUP BY k, window_start, window_end", false},
		// The window columns are read below the aggregate.
		{"SELECT k, window_start, window_end, MAX(window_time) FROM " + sess + " GROUP BY k, window_start, window_end", false},
		// Not a session window.
		{"SELECT k, window_start, window_end, COUNT(*) FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES)) GROUP BY k, window_start, window_end", false},
	} {
		st, err := sql.ParseStatement(c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		nodes, _, err := s.plan(nil, func(p *planner.Planner) ([]planner.Node, error) {
			n, err := p.PlanQuery(st.(*sql.QueryStmt).Query)
			return []planner.Node{n}, err
		})
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		var wa *planner.WindowAggregate
		var walk func(n planner.Node)
		walk = func(n planner.Node) {
			if w, ok := n.(*planner.WindowAggregate); ok {
				wa = w
			}
			for _, in := range n.Inputs() {
				walk(in)
			}
		}
		walk(nodes[0])
		if wa == nil {
			t.Fatalf("%s: no window aggregate in the plan", c.query)
		}
		g := &graph{parents: map[planner.Node]int{}}
		if _, _, got := g.sessionWindow(wa); got != c.acc {
			t.Errorf("%s: running accumulators = %t, want %t", c.query, got, c.acc)
		}
	}
}
