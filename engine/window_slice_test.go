package engine

import (
	"bytes"
	"context"
	"testing"

	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// TestSliceWindowChoice: a window aggregate runs slice-shared exactly when its window slices, its calls
// merge and window_start/window_end only pass through to the group keys.
func TestSliceWindowChoice(t *testing.T) {
	var out bytes.Buffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	execAll(ctx, t, s, `CREATE TABLE ev (k STRING, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH ('connector' = 'datagen', 'number-of-rows' = '10')`)
	hop := "TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))"
	for _, c := range []struct {
		query  string
		sliced bool
	}{
		{"SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v), AVG(v), STDDEV_POP(v) FROM " + hop + " GROUP BY k, window_start, window_end", true},
		{"SELECT window_start, window_end, COUNT(*) FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) GROUP BY window_start, window_end", true},
		{"SELECT window_start, window_end, COUNT(*) FROM " + hop + " WHERE v > 1 GROUP BY window_start, window_end", true},
		// TUMBLE: the window is its own slice; the legacy GROUP BY TUMBLE too.
		{"SELECT window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end", true},
		{"SELECT k, TUMBLE_START(ts, INTERVAL '1' MINUTE), SUM(v) FROM ev GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE)", true},
		// TUMBLE_ROWTIME groups by window_time: the per-window aggregate.
		{"SELECT k, TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE), SUM(v) FROM ev GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE)", false},
		{"SELECT window_start, window_end, COUNT(DISTINCT v) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end", false},
		// Calls that do not merge.
		{"SELECT window_start, window_end, COUNT(DISTINCT v) FROM " + hop + " GROUP BY window_start, window_end", false},
		{"SELECT window_start, window_end, FIRST_VALUE(v) FROM " + hop + " GROUP BY window_start, window_end", false},
		{"SELECT window_start, window_end, LISTAGG(k) FROM " + hop + " GROUP BY window_start, window_end", false},
		// The window columns are read below the aggregate.
		{"SELECT window_start, window_end, COUNT(*) FROM " + hop + " WHERE window_start > TIMESTAMP '2020-01-01 00:00:00' GROUP BY window_start, window_end", false},
		{"SELECT window_start, window_end, MAX(window_time) FROM " + hop + " GROUP BY window_start, window_end", false},
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
		if _, _, got := g.sliceWindow(wa); got != c.sliced {
			t.Errorf("%s: sliced = %t, want %t", c.query, got, c.sliced)
		}
	}
}
