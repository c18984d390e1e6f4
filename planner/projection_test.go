package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/sql"
)

// TestProjectionPushdown runs the goldens under testdata/projection. Commands:
//
//	exec  CREATE TABLE statements (the tables t, u and p exist already)
//	plan  plan the statement (mode=batch: in batch mode, else streaming), reuse sources and push projections as
//	      the engine does; print the plan as EXPLAIN's Optimized Execution Plan prints it (a scan shows the
//	      projection pushed into its source as project=[...]), or the error
func TestProjectionPushdown(t *testing.T) {
	datadriven.Walk(t, "testdata/projection", func(t *testing.T, path string) {
		cat := newTestCatalog(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "exec":
				return execDDL(cat, d.Input)
			case "plan":
				var mode string
				if d.HasArg("mode") {
					d.ScanArgs(t, "mode", &mode)
				}
				p := newTestPlanner(cat, mode == "batch")
				var roots []Node
				for _, text := range strings.Split(strings.TrimSpace(d.Input), ";\n") {
					n, err := bindStatement(p, strings.TrimSuffix(text, ";"))
					if err == nil {
						n, err = p.optimize(n)
					}
					if err != nil {
						if line, col, msg, ok := sql.Position(err); ok {
							return fmt.Sprintf("%d:%d: %s\n", line, col, msg)
						}
						return err.Error() + "\n"
					}
					roots = append(roots, n)
				}
				roots = ReuseSources(roots)
				PushProjections(roots)
				var b strings.Builder
				for _, n := range roots {
					b.WriteString(explainPlan(n, false, true))
				}
				return b.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// TestExplainVerboseShowsPushedProjection: EXPLAIN VERBOSE prints the plan after projection pushdown (a scan
// shows project=[...]) when a source was told to skip columns; plain EXPLAIN prints the projection on the
// scans of its optimized plans, and checkpoints' plan text (Explain) does not change.
func TestExplainVerboseShowsPushedProjection(t *testing.T) {
	cat := newTestCatalog(t)
	if out := execDDL(cat, `CREATE TABLE kb (auction BIGINT, price BIGINT, url STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'kafka', 'topic' = 'kb', 'properties.bootstrap.servers' = '127.0.0.1:9', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');`); out != "ok\n" {
		t.Fatal(out)
	}
	for _, tc := range []struct {
		query, want string
	}{
		{"SELECT auction, price FROM (SELECT auction, price FROM kb UNION ALL SELECT auction, price FROM kb) WHERE price > 1", "project=[auction, price, ts]"},
		{"SELECT * FROM u", ""}, // datagen: nothing is pushed
	} {
		p := newTestPlanner(cat, false)
		p.Trace = &Trace{}
		n, err := bindStatement(p, tc.query)
		if err == nil {
			n, err = p.optimize(n)
		}
		if err != nil {
			t.Fatal(err)
		}
		plain := ExplainText(p.Trace, "streaming", false, true)
		if strings.Contains(plain, "projection pushdown") {
			t.Fatalf("%s: the plan after projection pushdown is printed before pushdown ran:\n%s", tc.query, plain)
		}
		before := Explain(n, false)
		PushProjections(ReuseSources([]Node{n}))
		if after := Explain(n, false); after != before {
			t.Fatalf("%s: Explain (checkpoints' operator ids) changed with pushdown:\n%s\nwas:\n%s", tc.query, after, before)
		}
		verbose := ExplainText(p.Trace, "streaming", false, true)
		terse := ExplainText(p.Trace, "streaming", false, false)
		// Plain EXPLAIN prints the pushed projection on the scans of its physical and execution plans, as
		// Flink does (table=[[..., project=[...]]]).
		if got := strings.Count(terse, "project=["); (tc.want == "" && got != 0) || (tc.want != "" && strings.Count(terse, tc.want) != 4) {
			t.Fatalf("%s: plain EXPLAIN should print %q on both scans of both plans, got:\n%s", tc.query, tc.want, terse)
		}
		i := strings.Index(verbose, "== Plan after projection pushdown ==")
		if tc.want == "" {
			if i >= 0 {
				t.Fatalf("%s: nothing was pushed, yet VERBOSE prints a plan after projection pushdown:\n%s", tc.query, verbose)
			}
			continue
		}
		section := verbose[max(i, 0):]
		if j := strings.Index(section, "\n== Optimized Physical Plan"); j >= 0 {
			section = section[:j]
		}
		if i < 0 || strings.Count(section, tc.want) != 2 {
			t.Fatalf("%s: want the plan after projection pushdown with %s on both scans, got:\n%s", tc.query, tc.want, verbose)
		}
	}
}
