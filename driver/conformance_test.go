package driver_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
	sluicesql "github.com/sluicesql/sluice/sql"
)

// syncBuffer is a bytes.Buffer safe for the print sink's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

// openDB opens a database on a new connector whose print sinks write to out.
func openDB(t testing.TB, dsn string, out *syncBuffer) *sql.DB {
	t.Helper()
	cfg := engine.Config{Options: map[string]string{"table.local-time-zone": "UTC"}}
	if out != nil {
		cfg.Stdout, cfg.Stderr = out, out
	}
	c, err := driver.NewConnector(dsn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestConformance runs testdata/conformance through database/sql. Commands:
//
//	open [dsn=...]   a new *sql.DB (sql.OpenDB(driver.NewConnector(dsn, ...)), time zone UTC); the DSN's
//	                 '&'-separated options come from the dsn argument's values.
//	exec             ExecContext; prints RowsAffected and what print sinks wrote, or the error.
//	query            QueryContext; prints each column's ColumnTypes (DatabaseTypeName, ScanType, Nullable,
//	                 Length, DecimalSize) and each row as Go values scanned into *any (type and value).
func TestConformance(t *testing.T) {
	var db *sql.DB
	out := &syncBuffer{}
	datadriven.RunTest(t, "testdata/conformance", func(t *testing.T, d *datadriven.TestData) string {
		ctx := testCtx(t)
		switch d.Cmd {
		case "open":
			if db != nil {
				db.Close()
			}
			var dsn []string
			for _, a := range d.CmdArgs {
				if a.Key == "dsn" {
					dsn = append(dsn, a.Vals...)
				}
			}
			cfg := engine.Config{Options: map[string]string{"table.local-time-zone": "UTC"}, Stdout: out, Stderr: out}
			c, err := driver.NewConnector(strings.Join(dsn, "&"), cfg)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			db = sql.OpenDB(c)
			if err := db.PingContext(ctx); err != nil {
				return "error: " + err.Error() + "\n"
			}
			return "ok\n"
		case "exec":
			res, err := db.ExecContext(ctx, d.Input)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			n, err := res.RowsAffected()
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("rows affected: %d\n", n) + sortedLines(out.take())
		case "query":
			rows, err := db.QueryContext(ctx, d.Input)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			defer rows.Close()
			return describeRows(t, rows)
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
	if db != nil {
		db.Close()
	}
}

// sortedLines sorts print-sink output: rows of a bounded job may come in any order across subtasks.
func sortedLines(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func describeRows(t *testing.T, rows *sql.Rows) string {
	var b strings.Builder
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cts {
		fmt.Fprintf(&b, "column %s %s scan=%s", ct.Name(), ct.DatabaseTypeName(), ct.ScanType())
		if n, ok := ct.Nullable(); ok {
			fmt.Fprintf(&b, " nullable=%t", n)
		}
		if l, ok := ct.Length(); ok {
			fmt.Fprintf(&b, " length=%d", l)
		}
		if p, s, ok := ct.DecimalSize(); ok {
			fmt.Fprintf(&b, " precision=%d scale=%d", p, s)
		}
		b.WriteString("\n")
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			fmt.Fprintf(&b, "scan error: %v\n", err)
			return b.String()
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(goText(v))
		}
		b.WriteString("\n")
		// A scanned value's type must be the column's ScanType (or nil for NULL).
		for i, v := range vals {
			if v != nil && reflect.TypeOf(v) != cts[i].ScanType() {
				t.Errorf("column %s: scanned %T, ScanType says %s", cts[i].Name(), v, cts[i].ScanType())
			}
		}
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func goText(v any) string {
	switch v := v.(type) {
	case nil:
		return "nil"
	case time.Time:
		return "time.Time(" + v.Format(time.RFC3339Nano) + ")"
	case []byte:
		return fmt.Sprintf("[]byte(%x)", v)
	case string:
		return fmt.Sprintf("string(%q)", v)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// TestOpen covers sql.Open with the registered name, Ping, and DSN errors.
func TestOpen(t *testing.T) {
	ctx := testCtx(t)
	db, err := sql.Open("sluice", "runtime-mode=batch; op=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	var op string
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM (VALUES (1), (2)) AS t(a)").Scan(&op, &n); err != nil {
		t.Fatal(err)
	}
	if op != "+I" || n != 2 {
		t.Fatalf("got %s %d, want +I 2", op, n)
	}
	for dsn, want := range map[string]string{
		"runtime-mode=bogus": "Invalid value for option 'execution.runtime-mode': 'bogus' (want one of streaming, batch, automatic)",
		"op=maybe":           `DSN option op="maybe": want true or false`,
		"runtime-mode":       `bad DSN element "runtime-mode": want key=value`,
	} {
		_, err := sql.Open("sluice", dsn)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("sql.Open(%q): got %v, want an error containing %q", dsn, err, want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.PingContext(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := db.BeginTx(ctx, nil); !errors.Is(err, driver.ErrNoTransactions) {
		t.Errorf("BeginTx: got %v, want ErrNoTransactions", err)
	}
}

// TestScanConversions scans every type into the destinations database/sql users reach for.
func TestScanConversions(t *testing.T) {
	ctx := testCtx(t)
	db := openDB(t, "runtime-mode=batch", nil)
	row := db.QueryRowContext(ctx, `SELECT CAST(12.50 AS DECIMAL(10, 2)), CAST(12.50 AS DECIMAL(10, 2)), CAST(12.50 AS DECIMAL(10, 2)),
		CAST(7 AS INT), CAST(7 AS INT), CAST(NULL AS STRING), CAST(NULL AS BIGINT), TIMESTAMP '2024-01-02 03:04:05.678',
		CAST(NULL AS TIMESTAMP(3)), X'0aff', CAST(NULL AS DECIMAL(5, 1)), 2.5e0`)
	var (
		decStr  string
		decF    float64
		dec     driver.Decimal
		i32     int32
		i64str  string
		ns      sql.NullString
		ni      sql.NullInt64
		ts      time.Time
		nt      sql.NullTime
		bs      []byte
		ndec    sql.NullString
		dblText string
	)
	if err := row.Scan(&decStr, &decF, &dec, &i32, &i64str, &ns, &ni, &ts, &nt, &bs, &ndec, &dblText); err != nil {
		t.Fatal(err)
	}
	if decStr != "12.50" || decF != 12.5 || dec != "12.50" {
		t.Errorf("decimal: got %q %v %q", decStr, decF, dec)
	}
	if r, ok := dec.Rat(); !ok || r.Cmp(big.NewRat(25, 2)) != 0 {
		t.Errorf("Decimal.Rat: got %v %v", r, ok)
	}
	if i32 != 7 || i64str != "7" {
		t.Errorf("int: got %d %q", i32, i64str)
	}
	if ns.Valid || ni.Valid || nt.Valid || ndec.Valid {
		t.Errorf("NULLs scanned as valid: %v %v %v %v", ns, ni, nt, ndec)
	}
	if want := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC); !ts.Equal(want) || ts.Location() != time.UTC {
		t.Errorf("timestamp: got %v, want %v", ts, want)
	}
	if !bytes.Equal(bs, []byte{0x0a, 0xff}) || dblText != "2.5" {
		t.Errorf("bytes/double: got %x %q", bs, dblText)
	}
	// NULL into a non-nullable destination is database/sql's error, naming the column index.
	var s string
	err := db.QueryRowContext(ctx, "SELECT CAST(NULL AS STRING)").Scan(&s)
	if err == nil || !strings.Contains(err.Error(), "converting NULL to string is unsupported") {
		t.Errorf("NULL into *string: got %v", err)
	}
}

// TestParameters binds ? and $n in SELECT and INSERT; types are checked at bind time.
func TestParameters(t *testing.T) {
	ctx := testCtx(t)
	out := &syncBuffer{}
	db := openDB(t, "runtime-mode=batch", out)
	const src = "(VALUES (1, 'a', 1.50), (2, 'b', 2.50), (3, 'c', 3.50)) AS t(id, name, price)"
	var name string
	if err := db.QueryRowContext(ctx, "SELECT name FROM "+src+" WHERE id = ?", 2).Scan(&name); err != nil || name != "b" {
		t.Fatalf("? = 2: got %q, %v", name, err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+src+" WHERE id >= $1 AND name <> $2 AND id <= $1 + 1", int32(2), "c").Scan(&n); err != nil || n != 1 {
		t.Fatalf("$1, $2: got %d, %v", n, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+src+" WHERE price > ?", driver.Decimal("2.00")).Scan(&n); err != nil || n != 2 {
		t.Fatalf("decimal parameter: got %d, %v", n, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+src+" WHERE price < ?", big.NewRat(3, 1)).Scan(&n); err != nil || n != 2 {
		t.Fatalf("*big.Rat parameter: got %d, %v", n, err)
	}
	var isNull bool
	if err := db.QueryRowContext(ctx, "SELECT ? IS NULL", nil).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("NULL parameter: got %v, %v", isNull, err)
	}
	var ts time.Time
	in := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	if err := db.QueryRowContext(ctx, "SELECT ?", in).Scan(&ts); err != nil || !ts.Equal(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)) {
		t.Fatalf("time parameter (wall clock kept): got %v, %v", ts, err)
	}

	for _, c := range []struct {
		q    string
		args []any
		want string
	}{
		{"SELECT name FROM " + src + " WHERE id = ?", []any{"two"}, "Cannot apply '=' to arguments of type '<INTEGER> = <VARCHAR(2147483647)>'"},
		{"SELECT name FROM " + src + " WHERE id = ? AND name = ?", []any{1}, "parameter 2 has no value bound (1 given)"},
		{"SELECT ?", []any{struct{}{}}, "unsupported type struct {}"},
		{"SELECT ?", []any{sql.Named("x", 1)}, `named parameter "x" is not supported`},
	} {
		rows, err := db.QueryContext(ctx, c.q, c.args...)
		if err == nil {
			rows.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: got %v, want an error containing %q", c.q, c.args, err, c.want)
		}
	}

	if _, err := db.ExecContext(ctx, "CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'print')"); err != nil {
		t.Fatal(err)
	}
	res, err := db.ExecContext(ctx, "INSERT INTO sink SELECT id + ?, name || ? FROM "+src, 10, "!")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 3 {
		t.Errorf("RowsAffected: got %d, want 3", n)
	}
	if got, want := sortedLines(out.take()), "+I[11, a!]\n+I[12, b!]\n+I[13, c!]\n"; got != want {
		t.Errorf("print sink: got\n%s\nwant\n%s", got, want)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO sink VALUES (?, ?)", "x", "y"); err == nil || !strings.Contains(err.Error(), "1:1") && !strings.Contains(err.Error(), "BIGINT") {
		t.Errorf("INSERT of a string into BIGINT: got %v", err)
	}
	if _, err := db.ExecContext(ctx, "SET 'a.b' = 'c'; INSERT INTO sink VALUES (?, 'y')", 1); err == nil || !strings.Contains(err.Error(), "parameters need a single statement") {
		t.Errorf("parameters with two statements: got %v", err)
	}
}

// TestStreamingCancel reads a streaming query over an unbounded source, cancels its context and checks that
// Next returns promptly, Err reports the cancellation, and no goroutine is left behind.
func TestStreamingCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := driver.NewConnector("", engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	ctx := testCtx(t)
	if _, err := db.ExecContext(ctx, "CREATE TABLE gen (id BIGINT, v STRING) WITH ('connector' = 'datagen', 'rows-per-second' = '1000')"); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	rows, err := db.QueryContext(qctx, "SELECT id, v FROM gen")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	if strings.Join(cols, ",") != "op,id,v" {
		t.Fatalf("streaming columns: got %v, want op first", cols)
	}
	var op, v string
	var id int64
	for range 5 {
		if !rows.Next() {
			t.Fatalf("Next: %v", rows.Err())
		}
		if err := rows.Scan(&op, &id, &v); err != nil {
			t.Fatal(err)
		}
		if op != "+I" {
			t.Fatalf("op: got %q", op)
		}
	}
	done := make(chan bool)
	go func() {
		// Drain what is buffered; Next must return false once the context is cancelled.
		for rows.Next() {
		}
		done <- true
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return within 5s of cancelling the context")
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("rows.Err after cancel: got %v, want context.Canceled", err)
	}
	rows.Close()
	db.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestUnboundedInsert: Exec of an INSERT over an unbounded source runs until the context ends; the job is
// then cancelled and Exec returns the context's error.
func TestUnboundedInsert(t *testing.T) {
	c, err := driver.NewConnector("", engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	ctx := testCtx(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
		CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole')`); err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	// The deadline, not a clock read after the context was made: the two are a few µs apart, and Exec may
	// return right at the deadline (CI once saw 299.4 ms measured from the later clock read).
	deadline, _ := ectx.Deadline()
	_, err = db.ExecContext(ectx, "INSERT INTO hole SELECT id FROM gen")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if now := time.Now(); now.Before(deadline) || now.Sub(deadline) > 5*time.Second {
		t.Errorf("Exec returned %v after its deadline, want 0..5s", now.Sub(deadline))
	}
	jobs := c.Session().Jobs()
	if len(jobs) != 1 || jobs[0].Status() != engine.JobCancelled {
		t.Fatalf("jobs: got %d, status %v; want one CANCELED job", len(jobs), jobs[0].Status())
	}
	if m := jobs[0].Metrics(); m.RowsIn == 0 || m.RowsOut != m.RowsIn {
		t.Errorf("metrics: %+v, want rows in = rows out > 0", m)
	}
}

// TestConcurrentConnections: connections of one DB share the catalog; queries run concurrently.
func TestConcurrentConnections(t *testing.T) {
	ctx := testCtx(t)
	db := openDB(t, "runtime-mode=batch", nil)
	db.SetMaxOpenConns(4)
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ExecContext(ctx, `CREATE TABLE nums (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
		'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000')`); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := c2.QueryRowContext(ctx, "SELECT SUM(id) FROM nums").Scan(&sum); err != nil || sum != 500500 {
		t.Fatalf("table created on conn 1, read on conn 2: got %d, %v", sum, err)
	}
	c1.Close()
	c2.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM nums WHERE id > ?", i*10).Scan(&n); err != nil {
				errs <- err
				return
			}
			if want := int64(1000 - i*10); n != want {
				errs <- fmt.Errorf("query %d: got %d, want %d", i, n, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestErrorPositions: errors carry the line and column of the statement text.
func TestErrorPositions(t *testing.T) {
	ctx := testCtx(t)
	db := openDB(t, "runtime-mode=batch", nil)
	for _, c := range []struct {
		q          string
		line, col  int
		msgContain string
	}{
		{"SELECT a\nFROM nowhere", 2, 6, "nowhere"},
		{"SELECT a FROM (VALUES (1)) AS t(a)\nWHERE b > 1", 2, 7, "b"},
		{"SELEC 1", 1, 1, "SELEC"},
	} {
		rows, err := db.QueryContext(ctx, c.q)
		if err == nil {
			rows.Close()
			t.Errorf("%q: no error", c.q)
			continue
		}
		line, col, msg, ok := sluicesql.Position(err)
		if !ok || line != c.line || col != c.col || !strings.Contains(msg, c.msgContain) {
			t.Errorf("%q: got %d:%d %q (%v), want %d:%d containing %q", c.q, line, col, msg, err, c.line, c.col, c.msgContain)
		}
	}
}

// TestDefaultAutomatic: with no runtime mode in the DSN, a query over bounded sources returns its final
// result (QueryRow of a COUNT(*) scans the count), and one over an unbounded source streams changes with op.
func TestDefaultAutomatic(t *testing.T) {
	ctx := testCtx(t)
	db, err := sql.Open("sluice", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bounded_table (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1234');
		CREATE TABLE endless (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000')`); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM bounded_table").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1234 {
		t.Fatalf("COUNT(*): got %d, want 1234", n)
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := db.QueryContext(qctx, "SELECT id FROM endless")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if strings.Join(cols, ",") != "op,id" {
		t.Fatalf("unbounded query columns: got %v, want op,id (streaming)", cols)
	}
}
