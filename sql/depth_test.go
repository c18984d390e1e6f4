package sql

import (
	"strings"
	"testing"
)

// Long chains parsed by loops (a + b + ..., a OR b OR ..., x[1][1]..., UNION ALL ...) would give trees that
// later recursive walkers cannot handle: beyond the limit they are a positioned error, never a crash; at
// the limit they parse.
func TestDeepInputIsAnError(t *testing.T) {
	chain := func(n int, term, sep string) string {
		return strings.TrimSuffix(strings.Repeat(term+sep, n), sep)
	}
	cases := []struct {
		name, sql string
		wantErr   string // "" when the statement must parse
	}{
		{"flat sum of 300000 terms", "SELECT " + chain(300000, "1", "+"), "1:8: Expression is too deeply nested: more than 10000 levels"},
		{"sum at the limit", "SELECT " + chain(maxExprDepth, "1", "+"), ""},
		{"sum just over the limit", "SELECT " + chain(maxExprDepth+1, "1", "+"), "1:8: Expression is too deeply nested"},
		{"OR chain in WHERE", "SELECT a FROM t WHERE " + chain(30000, "a = 1", " OR "), "1:23: Expression is too deeply nested"},
		{"chain inside a function", "SELECT UPPER(CONCAT(" + chain(30000, "s", " || ") + "))", "1:8: Expression is too deeply nested"},
		{"chain in a subquery", "SELECT * FROM (SELECT " + chain(30000, "1", "*") + " AS x)", "1:23: Expression is too deeply nested"},
		{"index chain", "SELECT x" + strings.Repeat("[1]", 30000), "1:8: Expression is too deeply nested"},
		{"window frame bound", "SELECT SUM(a) OVER (ORDER BY ts ROWS BETWEEN " + chain(30000, "1", "+") + " PRECEDING AND CURRENT ROW) FROM t", "Expression is too deeply nested"},
		{"named argument of a window function", "SELECT * FROM TABLE(TUMBLE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), SIZE => " + chain(30000, "1", "+") + "))", "Expression is too deeply nested"},
		{"PARTITION BY of SESSION", "SELECT * FROM TABLE(SESSION(TABLE t PARTITION BY " + chain(30000, "a", "+") + ", DESCRIPTOR(ts), INTERVAL '1' MINUTE))", "Expression is too deeply nested"},
		{"UNION ALL chain", chain(20000, "SELECT 1", " UNION ALL "), "Too many set operations in a row: more than 10000"},
		{"INTERSECT chain", chain(20000, "SELECT 1", " INTERSECT "), "Too many set operations in a row"},
		{"nested parentheses", "SELECT " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000), "Statement is nested too deeply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseStatement(c.sql)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("want a parse, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", c.wantErr)
			}
			line, col, msg, ok := Position(err)
			if !ok {
				t.Fatalf("error without position: %v", err)
			}
			if got := strings.Join([]string{itoa(line), ":", itoa(col), ": ", msg}, ""); !strings.Contains(got, c.wantErr) {
				t.Fatalf("error %q does not contain %q", got, c.wantErr)
			}
		})
	}
}

func itoa(i int) string {
	var b []byte
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
