package sql

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cockroachdb/datadriven"
)

// TestParser runs the data-driven cases in testdata/. Commands:
//
//	parse   script → the AST of each statement (Dump)
//	script  script → each statement's type, position and exact Text
//	expr    one expression → its AST
//	format  one expression per line → FormatExpr, checked to re-parse to the same text
//	format-query  one query → FormatQuery, checked likewise
//	type    one data type per line → types.Type.String() or the error
//	split   script → SplitStatements spans and Complete
//	error   script → line:col: message, with the source line and a caret
func TestParser(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				stmts, err := ParseScript(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, st := range stmts {
					b.WriteString(Dump(st))
				}
				return b.String()
			case "script":
				stmts, err := ParseScript(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, st := range stmts {
					p := st.Position()
					text := stmtText(st)
					if got := d.Input[p.Offset : p.Offset+len(text)]; got != text {
						t.Errorf("Text %q is not the source at offset %d (%q)", text, p.Offset, got)
					}
					fmt.Fprintf(&b, "%s @%d:%d offset=%d\n  %q\n", reflect.TypeOf(st).Elem().Name(), p.Line, p.Col, p.Offset, text)
				}
				return b.String()
			case "format-query":
				st, err := ParseStatement(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				out := FormatQuery(st.(*QueryStmt).Query)
				st2, err := ParseStatement(out)
				if err != nil {
					t.Errorf("FormatQuery output %q does not parse: %v", out, err)
				} else if again := FormatQuery(st2.(*QueryStmt).Query); again != out {
					t.Errorf("FormatQuery is not stable: %q → %q", out, again)
				}
				return out + "\n"
			case "expr":
				e, err := ParseExpr(d.Input)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return Dump(e)
			case "format":
				var b strings.Builder
				for _, line := range strings.Split(d.Input, "\n") {
					e, err := ParseExpr(line)
					if err != nil {
						fmt.Fprintf(&b, "error: %v\n", err)
						continue
					}
					out := FormatExpr(e)
					e2, err := ParseExpr(out)
					if err != nil {
						t.Errorf("FormatExpr(%q) = %q does not parse: %v", line, out, err)
					} else if again := FormatExpr(e2); again != out {
						t.Errorf("FormatExpr is not stable: %q → %q → %q", line, out, again)
					}
					b.WriteString(out + "\n")
				}
				return b.String()
			case "type":
				var b strings.Builder
				for _, line := range strings.Split(d.Input, "\n") {
					ty, err := ParseDataType(line)
					if err != nil {
						fmt.Fprintf(&b, "%s → error: %v\n", line, err)
						continue
					}
					fmt.Fprintf(&b, "%s → %s\n", line, ty)
				}
				return b.String()
			case "split":
				var b strings.Builder
				for _, s := range SplitStatements(d.Input) {
					fmt.Fprintf(&b, "@%d:%d [%d,%d) %q\n", s.Pos.Line, s.Pos.Col, s.Start, s.End, d.Input[s.Start:s.End])
				}
				fmt.Fprintf(&b, "complete=%v\n", Complete(d.Input))
				return b.String()
			case "error":
				_, err := ParseScript(d.Input)
				if err == nil {
					return "no error\n"
				}
				var pe *ParseError
				if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("error %v is not a *ParseError wrapping ErrSyntax", err)
				}
				return err.Error() + "\n" + caret(d.Input, pe.Line, pe.Col)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func stmtText(st Statement) string {
	return reflect.ValueOf(st).Elem().FieldByName("StmtBase").Interface().(StmtBase).Text
}

// caret shows the source line of a position with a ^ under the column.
func caret(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return fmt.Sprintf("(line %d is outside the text)\n", line)
	}
	l := lines[line-1]
	if col < 1 || col > utf8.RuneCountInString(l)+1 {
		return fmt.Sprintf("(column %d is outside line %d)\n", col, line)
	}
	return l + "\n" + strings.Repeat(" ", col-1) + "^\n"
}

// TestScriptPositions checks that statements parsed from the middle of a script carry script positions.
func TestScriptPositions(t *testing.T) {
	script := "-- head\nSET 'a' = 'b';\n\n  SELECT x,\n  y FROM t;"
	stmts, err := ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements", len(stmts))
	}
	q := stmts[1].(*QueryStmt)
	if q.P != (Pos{Offset: 26, Line: 4, Col: 3}) {
		t.Errorf("statement position %+v", q.P)
	}
	y := q.Query.Body.(*Select).Items[1].Expr
	if y.Position() != (Pos{Offset: 38, Line: 5, Col: 3}) || script[38] != 'y' {
		t.Errorf("y at %+v", y.Position())
	}
	if q.Text != "SELECT x,\n  y FROM t" {
		t.Errorf("text %q", q.Text)
	}
}

func TestParseStatementRejectsTwo(t *testing.T) {
	_, err := ParseStatement("SELECT 1; SELECT 2;")
	line, col, msg, ok := Position(err)
	if !ok || line != 1 || col != 11 || !strings.Contains(msg, "Only one statement") {
		t.Errorf("got %v", err)
	}
	if _, err := ParseStatement("  SELECT 1; -- done\n"); err != nil {
		t.Errorf("trailing ; and comment: %v", err)
	}
}

// FuzzParseScript checks that no input panics and that errors point inside the text.
func FuzzParseScript(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b FROM t WHERE a > 1;",
		"CREATE TABLE t (a INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kafka');",
		"BEGIN STATEMENT SET; INSERT INTO a SELECT * FROM b; END;",
		"SELECT CASE WHEN a THEN 'x' END FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
		"SELECT 'unterminated",
		"/* comment",
		"SELECT `a``b` FROM t /*+ OPTIONS('k'='v') */ FOR SYSTEM_TIME AS OF t.ts AS x",
		"SET execution.runtime-mode=batch;",
		"SELECT person.id, t.person.addr.city, (person).name, ROW(1, 2).EXPR$0, x[1].y FROM t;",
		"SELECT COUNT(* FROM t;",
		"SELECT 1+1+1+1+1+1+1+1 OR a AND b || c UNION ALL SELECT 2 INTERSECT SELECT 3;",
		"CREATE TEMPORARY SYSTEM FUNCTION f AS 'f' LANGUAGE WASM USING JAR 'x.wasm', JAR 'y'; DROP SYSTEM FUNCTION IF EXISTS f;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseScript(s)
		if err != nil {
			line, col, _, ok := Position(err)
			if !ok {
				t.Fatalf("unpositioned error %v", err)
			}
			lines := strings.Split(s, "\n")
			if line < 1 || line > len(lines) || col < 1 || col > utf8.RuneCountInString(lines[line-1])+1 {
				// Invalid UTF-8 counts runes differently; only check valid text.
				if utf8.ValidString(s) {
					t.Fatalf("error %v is outside the text %q", err, s)
				}
			}
		}
		for _, sp := range SplitStatements(s) {
			if sp.Start < 0 || sp.End > len(s) || sp.Start > sp.End {
				t.Fatalf("bad span %+v for %q", sp, s)
			}
		}
		Complete(s)
	})
}
