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
