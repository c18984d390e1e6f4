package sluice_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/client"
	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
)

// TestThreeWays runs the queries of testdata/crosscheck in batch mode three ways: through the native API,
// through database/sql, and through `sql-client -f`. The expected output is the native result (rows as the
// sql-client prints cells, sorted); the driver's and the client's results must equal it exactly, else the
// test fails naming the path that differs. Commands:
//
//	setup   DDL run before every query, on every path (datagen / VALUES tables, no Kafka).
//	query   one query.
func TestThreeWays(t *testing.T) {
	var setup string
	datadriven.RunTest(t, "testdata/crosscheck", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "setup":
			setup = d.Input
			return ""
		case "query":
		default:
			t.Fatalf("unknown command %q", d.Cmd)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		native, floats := viaNative(t, ctx, setup, d.Input)
		viaDB := viaDriver(t, ctx, setup, d.Input)
		viaCLI := viaClient(t, setup, d.Input, floats)
		if viaDB != native {
			t.Errorf("%s: database/sql differs from the native API:\n--- driver\n%s--- native\n%s", d.Pos, viaDB, native)
		}
		if viaCLI != native {
			t.Errorf("%s: sql-client -f differs from the native API:\n--- sql-client\n%s--- native\n%s", d.Pos, viaCLI, native)
		}
		return native
	})
}

// result renders rows as "a | b | c" lines, sorted; floats (by column type) are normalized so that the
// client's text "2.0" and the driver's float64 2 compare equal.
func result(floatCols map[int]bool, rows [][]string) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		for c := range r {
			if floatCols[c] && r[c] != "<NULL>" {
				if f, err := strconv.ParseFloat(r[c], 64); err == nil {
					r[c] = strconv.FormatFloat(f, 'g', -1, 64)
				}
			}
		}
		lines[i] = strings.Join(r, " | ")
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "(no rows)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}

func isFloatType(name string) bool {
	return strings.HasPrefix(name, "FLOAT") || strings.HasPrefix(name, "DOUBLE")
}

func viaNative(t *testing.T, ctx context.Context, setup, q string) (string, map[int]bool) {
	eng, err := sluice.Open(sluice.WithRuntimeMode(sluice.Batch), sluice.WithOption("table.local-time-zone", "UTC"))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.Exec(ctx, setup); err != nil {
		t.Fatalf("native setup: %v", err)
	}
	rows, err := eng.Query(ctx, q)
	if err != nil {
		return "error: " + err.Error() + "\n", nil
	}
	defer rows.Close()
	floats := map[int]bool{}
	for i, c := range rows.Columns() {
		floats[i] = isFloatType(c.Type)
	}
	var out [][]string
	for rows.Next() {
		if rows.Kind() != sluice.Insert {
			t.Fatalf("batch mode gave a %s row", rows.Kind())
		}
		r := rows.Row()
		cells := make([]string, r.Len())
		for i := range cells {
			if r.IsNull(i) {
				cells[i] = "<NULL>"
			} else {
				cells[i] = r.String(i)
			}
		}
		out = append(out, cells)
	}
	if err := rows.Err(); err != nil {
		return "error: " + err.Error() + "\n", nil
	}
	return result(floats, out), floats
}

func viaDriver(t *testing.T, ctx context.Context, setup, q string) string {
	c, err := driver.NewConnector("runtime-mode=batch;time-zone=UTC", engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.ExecContext(ctx, setup); err != nil {
		t.Fatalf("driver setup: %v", err)
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	floats := map[int]bool{}
	for i, ct := range cts {
		floats[i] = isFloatType(ct.DatabaseTypeName())
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out [][]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = sqlText(v, cts[i])
		}
		out = append(out, cells)
	}
	if err := rows.Err(); err != nil {
		return "error: " + err.Error() + "\n"
	}
	return result(floats, out)
}

// sqlText renders a scanned Go value as the sql-client prints the SQL value, from the driver's mapping only.
func sqlText(v any, ct *sql.ColumnType) string {
	switch v := v.(type) {
	case nil:
		return "<NULL>"
	case bool:
		if v {
			return "TRUE"
		}
		return "FALSE"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	case driver.Decimal:
		return string(v)
	case []byte:
		return string(v)
	case time.Time:
		switch ct.DatabaseTypeName() {
		case "DATE":
			return v.Format("2006-01-02")
		case "TIME":
			return v.Format("15:04:05")
		}
		p, _, _ := ct.DecimalSize()
		s := v.Format("2006-01-02 15:04:05")
		if p > 0 {
			s += "." + fmt.Sprintf("%09d", v.Nanosecond())[:p]
		}
		return s
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func viaClient(t *testing.T, setup, q string, floats map[int]bool) string {
	file := filepath.Join(t.TempDir(), "q.sql")
	script := "SET 'execution.runtime-mode' = 'batch';\n" + setup + ";\n" + q + ";\n"
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := client.Main(client.Config{
		Args:   []string{"-D", "table.local-time-zone=UTC", "-f", file},
		Stdin:  strings.NewReader(""),
		Stdout: &stdout, Stderr: &stderr, Signals: make(chan os.Signal),
	})
	if code != 0 {
		msg := stderr.String()
		if i := strings.Index(msg, "q.sql:"); i >= 0 {
			msg = msg[i+len("q.sql:"):]
		}
		// The client reports positions in the script file; the query starts after the SET and setup lines.
		return "error (sql-client exit " + strconv.Itoa(code) + "): " + strings.TrimSpace(msg) + "\n"
	}
	// The query's table is the last one printed: "+---" border, header, border, rows, border, "n rows in set".
	lines := strings.Split(stdout.String(), "\n")
	start := -1
	for i := 0; i < len(lines); i++ {
		switch {
		case strings.HasPrefix(lines[i], "+-") && i+2 < len(lines) && strings.HasPrefix(lines[i+2], "+-"):
			start = i + 3
			for i = start; i < len(lines) && strings.HasPrefix(lines[i], "| "); i++ {
			}
		case lines[i] == "Empty set":
			start = -2
		}
	}
	if start == -2 {
		return result(nil, nil)
	}
	if start < 0 {
		t.Fatalf("sql-client printed no table:\n%s", stdout.String())
	}
	var out [][]string
	for _, l := range lines[start:] {
		if !strings.HasPrefix(l, "| ") {
			break
		}
		out = append(out, splitCells(l))
	}
	return result(floats, out)
}

func splitCells(l string) []string {
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(l, "|"), "|"), "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}
