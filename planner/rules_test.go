package planner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/catalog"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/expr"
	fmtbuiltin "github.com/sluicesql/sluice/formats/builtin"
	"github.com/sluicesql/sluice/sql"
)

// testTables is the catalog every rule golden starts with.
const testTables = `
CREATE TABLE t (a INT, b BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE u (a INT, c STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE p (a INT, n BIGINT) WITH ('connector' = 'print');`

func newTestCatalog(t *testing.T) *catalog.Catalog {
	cat := catalog.New()
	stmts, err := sql.ParseScript(testTables)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := cat.CreateTable(st.(*sql.CreateTable)); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

func newTestPlanner(cat *catalog.Catalog, batch bool) *Planner {
	p := &Planner{Catalog: cat, Connectors: connbuiltin.Registry(), Formats: fmtbuiltin.Registry(), Session: map[string]string{},
		Batch: batch, Env: expr.NewEnv(nil), Stdout: io.Discard, Stderr: io.Discard}
	p.init()
	return p
}

// bindStatement binds a query or INSERT to its logical plan.
func bindStatement(p *Planner, text string) (Node, error) {
	st, err := sql.ParseStatement(text)
	if err != nil {
		return nil, err
	}
	switch st := st.(type) {
	case *sql.QueryStmt:
		return p.query(st.Query)
	case *sql.Insert:
		return p.bindInsert(st)
	}
	return nil, fmt.Errorf("not a query or INSERT: %s", text)
}

// TestRules runs the goldens under testdata/rules/, one file per rule. Commands:
//
//	exec                      CREATE TABLE statements (the tables t, u and p exist already)
//	rule name=R [mode=batch]  bind the statement, run the phases before R's phase, print the plan R is given;
//	                          then apply R alone to its fixpoint and print the result (or that R did not apply);
//	                          with=R1,R2 applies rules of R's phase together with R and also prints the plan
//	                          without R
func TestRules(t *testing.T) {
	datadriven.Walk(t, "testdata/rules", func(t *testing.T, path string) {
		cat := newTestCatalog(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "exec":
				return execDDL(cat, d.Input)
			case "physical-rule":
				return physicalRuleCase(t, cat, d)
			case "rule":
				var name, mode string
				d.ScanArgs(t, "name", &name)
				if d.HasArg("mode") {
					d.ScanArgs(t, "mode", &mode)
				}
				batch := mode == "batch"
				program := phases(batch)
				var rule Rule
				var before []Phase
				for _, ph := range program {
					for _, r := range ph.Rules {
						if r.Name() == name {
							rule = r
						}
					}
					if rule != nil {
						break
					}
					before = append(before, ph)
				}
				if rule == nil {
					t.Fatalf("no rule %s in the %s program", name, map[bool]string{true: "batch", false: "streaming"}[batch])
				}
				p := newTestPlanner(cat, batch)
				n, err := bindStatement(p, d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				n, _, err = Optimize(n, before)
				if err != nil {
					t.Fatal(err)
				}
				// with=R1,R2: rules of the same phase applied together with R (in program order); the golden then
				// also shows the plan without R.
				var with []string
				for _, a := range d.CmdArgs {
					if a.Key == "with" {
						for _, v := range a.Vals {
							with = append(with, strings.Split(v, ",")...)
						}
					}
				}
				ruleSet := func(withR bool) []Rule {
					var rs []Rule
					for _, r := range program[len(before)].Rules {
						if r.Name() == name && withR || containsName(with, r.Name()) {
							rs = append(rs, r)
						}
					}
					return rs
				}
				var b strings.Builder
				b.WriteString("before:\n" + ExplainLogical(n))
				out, changed, err := runPhase(n, Phase{Name: name, Rules: ruleSet(true)})
				if err != nil {
					t.Fatal(err)
				}
				without := n
				if len(with) > 0 {
					if without, _, err = runPhase(n, Phase{Name: name, Rules: ruleSet(false)}); err != nil {
						t.Fatal(err)
					}
					changed = ExplainLogical(out) != ExplainLogical(without)
				}
				if !changed {
					b.WriteString("after: (" + name + " did not apply)\n")
					return b.String()
				}
				b.WriteString("after:\n" + ExplainLogical(out))
				if len(with) > 0 {
					b.WriteString("without " + name + ":\n" + ExplainLogical(without))
				}
				// The rest of the program and the physical pass must accept what the rule made.
				rest := program[len(before):]
				if n, _, err = Optimize(out, rest); err == nil {
					_, err = p.physical(n)
				}
				if err != nil {
					b.WriteString("physical: " + err.Error() + "\n")
				}
				return b.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// TestPhysical runs the goldens under testdata/physical. Commands:
//
//	exec  CREATE TABLE statements (the tables t, u and p exist already)
//	plan  plan the statement in both runtime modes; print each physical plan with changelog modes, or the
//	      error
func TestPhysical(t *testing.T) {
	datadriven.Walk(t, "testdata/physical", func(t *testing.T, path string) {
		cat := newTestCatalog(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "exec":
				return execDDL(cat, d.Input)
			case "plan":
				var b strings.Builder
				for _, batch := range []bool{false, true} {
					b.WriteString(map[bool]string{false: "streaming:\n", true: "batch:\n"}[batch])
					p := newTestPlanner(cat, batch)
					n, err := bindStatement(p, d.Input)
					if err == nil {
						n, err = p.optimize(n)
					}
					if err != nil {
						if line, col, msg, ok := sql.Position(err); ok {
							fmt.Fprintf(&b, "%d:%d: %s\n", line, col, msg)
						} else {
							b.WriteString(err.Error() + "\n")
						}
						continue
					}
					b.WriteString(Explain(n, true))
				}
				return b.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

func execDDL(cat *catalog.Catalog, text string) string {
	stmts, err := sql.ParseScript(text)
	if err != nil {
		return err.Error() + "\n"
	}
	for _, st := range stmts {
		if _, err := cat.CreateTable(st.(*sql.CreateTable)); err != nil {
			return err.Error() + "\n"
		}
	}
	return "ok\n"
}

// loopRule rewrites every Project into an equal Project: it never reaches a fixpoint.
type loopRule struct{}

func (loopRule) Name() string { return "LoopRule" }
func (loopRule) Rewrite(n Node) (Node, bool) {
	if p, ok := n.(*Project); ok {
		c := *p
		return &c, true
	}
	return n, false
}

func TestLoopingRuleIsAnError(t *testing.T) {
	cat := newTestCatalog(t)
	n, err := bindStatement(newTestPlanner(cat, false), "SELECT a FROM t")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Optimize(n, []Phase{{Name: "looping", Rules: []Rule{loopRule{}}}})
	if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "planner phase looping did not reach a fixpoint after 100 passes (rules still firing: LoopRule)") {
		t.Fatalf("got %v", err)
	}
}

// TestLogicalNodeLeftIsAnError: a logical node that no phase replaced is refused by the physical pass.
func TestLogicalNodeLeftIsAnError(t *testing.T) {
	cat := newTestCatalog(t)
	p := newTestPlanner(cat, false)
	n, err := bindStatement(p, "SELECT a + 1 FROM t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.physical(n)
	if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "the logical node Project(select=[+(a, 1) AS EXPR$0]) was left by the rewrite phases") {
		t.Fatalf("got %v", err)
	}
}

// TestRulesDoNotModifyTheirInput: the bound plan prints the same after the whole program ran (EXPLAIN
// prints it after planning).
func TestRulesDoNotModifyTheirInput(t *testing.T) {
	for _, batch := range []bool{false, true} {
		for _, q := range []string{
			"SELECT * FROM (SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) AS rn FROM t) WHERE rn <= 2 AND rn < 2",
			"SELECT a, TUMBLE_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM t GROUP BY a, TUMBLE(ts, INTERVAL '1' MINUTE)",
			"SELECT b FROM t WHERE a IN (SELECT a FROM u) AND b > 1",
			"INSERT INTO p SELECT a, COUNT(*) FROM t GROUP BY a",
		} {
			cat := newTestCatalog(t)
			p := newTestPlanner(cat, batch)
			n, err := bindStatement(p, q)
			if err != nil {
				t.Fatal(err)
			}
			want := ExplainLogical(n)
			out, _, err := Optimize(n, phases(batch))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.physical(out); err != nil && !strings.Contains(err.Error(), "doesn't support consuming update changes") {
				t.Fatal(err)
			}
			if got := ExplainLogical(n); got != want {
				t.Fatalf("%s (batch=%v): the bound plan changed:\n%s\nwas:\n%s", q, batch, got, want)
			}
		}
	}
}

// TestWithInputsCopies: withInputs knows every node type and returns a copy.
func TestWithInputsCopies(t *testing.T) {
	cat := newTestCatalog(t)
	for _, q := range []string{
		"SELECT a, SUM(b) OVER (PARTITION BY a ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
		"SELECT * FROM (SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) AS rn FROM t) WHERE rn <= 2",
		"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a LIMIT 3",
		"SELECT t.a, u.c FROM t JOIN u ON t.a = u.a WHERE t.a IN (SELECT a FROM u)",
		"SELECT a, TUMBLE_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM t GROUP BY a, TUMBLE(ts, INTERVAL '1' MINUTE)",
		"SELECT a, window_end, SUM(b) FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) GROUP BY a, window_start, window_end",
	} {
		for _, batch := range []bool{false, true} {
			p := newTestPlanner(cat, batch)
			n, err := bindStatement(p, q)
			if err != nil {
				t.Fatal(err)
			}
			check := func(root Node) {
				var walk func(n Node)
				walk = func(n Node) {
					ins := n.Inputs()
					c := withInputs(n, ins)
					if len(ins) > 0 && c == n {
						t.Fatalf("withInputs(%T) returned the node itself", n)
					}
					if c.Describe() != n.Describe() {
						t.Fatalf("withInputs(%T): %s, want %s", n, c.Describe(), n.Describe())
					}
					for _, in := range ins {
						walk(in)
					}
				}
				walk(root)
			}
			check(n)
			out, err := p.optimize(n)
			if err != nil {
				t.Fatal(err)
			}
			check(out)
		}
	}
}

// TestEveryRuleHasAGolden: each rule of the streaming and batch programs is applied (not only named) by a
// golden under testdata/rules.
func TestEveryRuleHasAGolden(t *testing.T) {
	files, err := os.ReadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile("testdata/rules/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	for _, batch := range []bool{false, true} {
		for _, ph := range phases(batch) {
			for _, r := range ph.Rules {
				applied := false
				for _, block := range strings.Split(text, "\nrule name="+r.Name())[1:] {
					end := strings.Index(block, "\nrule ")
					if end < 0 {
						end = len(block)
					}
					if strings.Contains(block[:end], "\nafter:\n") {
						applied = true
					}
				}
				if !applied {
					t.Errorf("rule %s (phase %s) has no golden under testdata/rules where it applies", r.Name(), ph.Name)
				}
			}
		}
	}
}
