package sluice_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice"
	sluicesql "github.com/sluicesql/sluice/sql"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t testing.TB, opts ...sluice.Option) *sluice.Engine {
	t.Helper()
	eng, err := sluice.Open(append([]sluice.Option{sluice.WithOption("table.local-time-zone", "UTC")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// collect reads all rows as "+I[a, b]" lines.
func collect(t testing.TB, rows *sluice.Rows) string {
	t.Helper()
	var b strings.Builder
	for kind, vals := range rows.All() {
		fmt.Fprintf(&b, "%s%v\n", kind, vals)
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func TestRuntimeModes(t *testing.T) {
	ctx := ctxFor(t)
	eng := open(t)
	const q = "SELECT b, COUNT(*) AS n FROM (VALUES (1, 'x'), (2, 'y'), (3, 'x')) AS t(a, b) GROUP BY b"
	rows, err := eng.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Batch() {
		t.Error("default mode: Batch() = true")
	}
	if got, want := collect(t, rows), "+I[x 1]\n+I[y 1]\n-U[x 1]\n+U[x 2]\n"; got != want {
		t.Errorf("streaming:\n%s\nwant\n%s", got, want)
	}
	if err := eng.SetRuntimeMode(sluice.Batch); err != nil {
		t.Fatal(err)
	}
	rows, err = eng.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, rows), "+I[x 2]\n+I[y 1]\n"; got != want || !rows.Batch() {
		t.Errorf("batch (Batch()=%t):\n%s\nwant\n%s", rows.Batch(), got, want)
	}
	if err := eng.SetRuntimeMode(sluice.RuntimeMode(9)); err == nil {
		t.Error("SetRuntimeMode(9): no error")
	}
	if err := eng.Set("execution.runtime-mode", "sideways"); err == nil || !strings.Contains(err.Error(), "'sideways' (want one of streaming, batch, automatic)") {
		t.Errorf("Set bad mode: %v", err)
	}
	if _, err := sluice.Open(sluice.WithOption("table.local-time-zone", "Mars/Olympus")); err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Errorf("Open with a bad zone: %v", err)
	}
	// Automatic: bounded sources run in batch mode.
	auto := open(t, sluice.WithRuntimeMode(sluice.Automatic))
	rows, err = auto.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, rows); got != "+I[x 2]\n+I[y 1]\n" || !rows.Batch() {
		t.Errorf("automatic over bounded input: %s", got)
	}
}

func TestRowAccess(t *testing.T) {
	ctx := ctxFor(t)
	eng := open(t, sluice.WithRuntimeMode(sluice.Batch))
	rows, err := eng.Query(ctx, `SELECT CAST(7 AS BIGINT), 2.5e0, 'txt', TRUE, X'0102', CAST(1.25 AS DECIMAL(5, 2)),
		TIMESTAMP '2024-01-02 03:04:05', CAST(NULL AS INT), DATE '2024-03-04'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	r := rows.Row()
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if r.Kind() != sluice.Insert || r.Len() != 9 || r.Int64(0) != 7 || r.Float64(1) != 2.5 || r.String(2) != "txt" || !r.Bool(3) ||
		!bytes.Equal(r.Bytes(4), []byte{1, 2}) || r.Decimal(5) != "1.25" || !r.Time(6).Equal(ts) || !r.IsNull(7) || r.Int64(7) != 0 ||
		r.String(8) != "2024-03-04" || r.Float64(0) != 7 || r.Int64(2) != 0 {
		t.Errorf("typed access: %v", rows.Values())
	}
	var (
		i   int64
		f   float64
		s   string
		b   bool
		bs  []byte
		dec sluice.Decimal
		tm  time.Time
		n   any
		d   time.Time
	)
	if err := rows.Scan(&i, &f, &s, &b, &bs, &dec, &tm, &n, &d); err != nil {
		t.Fatal(err)
	}
	if i != 7 || f != 2.5 || s != "txt" || !b || dec != "1.25" || !tm.Equal(ts) || n != nil {
		t.Errorf("Scan: %v %v %v %v %v %v %v", i, f, s, b, dec, tm, n)
	}
	var wrong int64
	err = rows.Scan(&i, &f, &wrong, &b, &bs, &dec, &tm, &n, &d)
	if err == nil || !strings.Contains(err.Error(), "column 3") || !strings.Contains(err.Error(), "cannot store string in *int64") {
		t.Errorf("Scan of a string into *int64: %v", err)
	}
	err = rows.Scan(&i, &f, &s, &b, &bs, &dec, &tm, &i, &d)
	if err == nil || !strings.Contains(err.Error(), "NULL cannot be stored in *int64") {
		t.Errorf("Scan of NULL into *int64: %v", err)
	}
	if err := rows.Scan(&i); err == nil {
		t.Error("Scan with too few destinations: no error")
	}
	if rows.Next() {
		t.Error("a second row")
	}
	if cols := rows.Columns(); len(cols) != 9 || cols[5].Type != "DECIMAL(5, 2) NOT NULL" {
		t.Errorf("Columns: %+v", cols)
	}
}

func TestExecAndJobs(t *testing.T) {
	ctx := ctxFor(t)
	var out bytes.Buffer
	eng := open(t, sluice.WithOutput(&out, &out))
	err := eng.Exec(ctx, `
		CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5');
		CREATE TABLE endless (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200');
		CREATE TABLE sink (id BIGINT) WITH ('connector' = 'print');
		CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole');
		INSERT INTO sink SELECT id * 10 FROM src WHERE id > ?`, 3)
	if err == nil || !strings.Contains(err.Error(), "parameters need a single statement") {
		t.Fatalf("script with parameters: %v", err)
	}
	// The script ran nothing: parameters are checked before the first statement.
	if err := eng.Exec(ctx, `
		CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5');
		CREATE TABLE endless (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200');
		CREATE TABLE sink (id BIGINT) WITH ('connector' = 'print');
		CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole')`); err != nil {
		t.Fatal(err)
	}
	if err := eng.Exec(ctx, "INSERT INTO sink SELECT id * 10 FROM src WHERE id > ?", 3); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "+I[40]\n+I[50]\n" {
		t.Errorf("Exec INSERT waited and printed %q", got)
	}
	// Execute returns a running job.
	job, err := eng.Execute(ctx, "INSERT INTO hole SELECT id FROM endless")
	if err != nil {
		t.Fatal(err)
	}
	if job.ID() == "" || job.Status() != sluice.JobStatus("RUNNING") {
		t.Errorf("job %q status %s", job.ID(), job.Status())
	}
	deadline := time.Now().Add(10 * time.Second)
	for job.Metrics().RowsOut == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if err := job.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a running unbounded job: %v", err)
	}
	cancel()
	job.Cancel()
	if err := job.Wait(ctx); err != nil || job.Status() != "CANCELED" {
		t.Errorf("after Cancel: %v, %s", err, job.Status())
	}
	if m := job.Metrics(); m.RowsIn == 0 || m.RowsOut != m.RowsIn {
		t.Errorf("metrics %+v", m)
	}
	// Exec of an unbounded INSERT returns when ctx ends.
	ectx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := eng.Exec(ectx, "INSERT INTO hole SELECT id FROM endless"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec of an unbounded INSERT: %v", err)
	}
	// DDL through Execute gives no job; a query is refused.
	if j, err := eng.Execute(ctx, "CREATE TABLE t2 (id BIGINT) WITH ('connector' = 'blackhole')"); j != nil || err != nil {
		t.Errorf("Execute DDL: %v %v", j, err)
	}
	if _, err := eng.Execute(ctx, "SELECT 1"); err == nil || !strings.Contains(err.Error(), "use Query") {
		t.Errorf("Execute SELECT: %v", err)
	}
	if err := eng.Exec(ctx, "SET 'pipeline.name' = 'c';\nSELECT 1"); err == nil || !strings.Contains(err.Error(), "2:1: Exec got a query") {
		t.Errorf("Exec SELECT: %v", err)
	}
	// Close cancels running jobs; the engine refuses work afterwards.
	job, err = eng.Execute(ctx, "INSERT INTO hole SELECT id FROM endless")
	if err != nil {
		t.Fatal(err)
	}
	eng.Close()
	if job.Status() != "CANCELED" {
		t.Errorf("job after Close: %s", job.Status())
	}
	if _, err := eng.Query(ctx, "SELECT 1"); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Query after Close: %v", err)
	}
}

func TestRegisterFunction(t *testing.T) {
	ctx := ctxFor(t)
	eng := open(t, sluice.WithRuntimeMode(sluice.Batch))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(eng.RegisterFunction("add_tax", func(cents int64, rate float64) int64 { return cents + int64(float64(cents)*rate) }))
	must(eng.RegisterFunction("shout", func(s string) string { return strings.ToUpper(s) + "!" }))
	must(eng.RegisterFunction("safe_div", func(a, b int64) (int64, error) {
		if b == 0 {
			return 0, errors.New("division by zero")
		}
		return a / b, nil
	}))
	must(eng.RegisterFunction("half", func(r *big.Rat) *big.Rat { return new(big.Rat).Quo(r, big.NewRat(2, 1)) }))
	must(eng.RegisterFunction("next_day", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }))
	must(eng.RegisterFunction("boom", func(int32) bool { panic("kaboom") }))
	rows, err := eng.Query(ctx, `SELECT add_tax(a, 0.5e0), SHOUT(b), safe_div(a, 2), half(CAST(a AS DECIMAL(5, 1))), next_day(TIMESTAMP '2024-02-28 10:00:00'), shout(CAST(NULL AS STRING))
		FROM (VALUES (100, 'hi'), (7, 'yo')) AS t(a, b)`)
	must(err)
	got := collect(t, rows)
	want := "+I[150 HI! 50 50.000000000000000000 2024-02-29 10:00:00 +0000 UTC <nil>]\n+I[10 YO! 3 3.500000000000000000 2024-02-29 10:00:00 +0000 UTC <nil>]\n"
	if got != want {
		t.Errorf("UDF results:\n%s\nwant\n%s", got, want)
	}
	for _, c := range []struct{ q, want string }{
		{"SELECT shout(1)", "1:8: Cannot apply 'SHOUT' to arguments of type 'SHOUT(<INTEGER>)'. Supported form(s): 'SHOUT(string) string' (Go function; argument 1 must be string)"},
		{"SELECT shout('a', 'b')", "Invalid number of arguments to function 'SHOUT'. Was expecting 1 argument"},
		{"SELECT safe_div(1, 0)", "function SAFE_DIV: division by zero"},
		{"SELECT boom(1)", "function BOOM panicked: kaboom"},
	} {
		rows, err := eng.Query(ctx, c.q)
		if err == nil {
			got := collect(t, rows)
			err = errors.New(got)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.q, err, c.want)
		}
	}
	for _, c := range []struct {
		fn   any
		want string
	}{
		{42, "got int, want a Go func"},
		{func(x uint) int64 { return 0 }, "argument 1 has unsupported type uint"},
		{func() (int64, int64) { return 0, 0 }, "want one result, optionally followed by an error"},
		{func(xs ...int64) int64 { return 0 }, "variadic"},
	} {
		if err := eng.RegisterFunction("f", c.fn); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RegisterFunction(%T): got %v, want %q", c.fn, err, c.want)
		}
	}
	if err := eng.RegisterFunction("no-dash", func() int64 { return 1 }); err == nil {
		t.Error("RegisterFunction with a bad name: no error")
	}
}

func TestRegisterSource(t *testing.T) {
	ctx := ctxFor(t)
	eng := open(t, sluice.WithRuntimeMode(sluice.Batch))
	data := [][]any{{int64(1), "a", "1.5", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}, {2, "b", 2.25, nil}, {int32(3), nil, big.NewRat(1, 3), nil}}
	seq := func(yield func(sluice.Kind, []any) bool) {
		for _, r := range data {
			if !yield(sluice.Insert, r) {
				return
			}
		}
	}
	cols := []sluice.Column{{Name: "id", Type: "INT NOT NULL"}, {Name: "name", Type: "STRING"}, {Name: "price", Type: "DECIMAL(6, 2)"}, {Name: "ts", Type: "TIMESTAMP(3)"}}
	if err := eng.RegisterSource("items", cols, seq, true); err != nil {
		t.Fatal(err)
	}
	rows, err := eng.Query(ctx, "SELECT id, name, price, ts FROM items")
	if err != nil {
		t.Fatal(err)
	}
	want := "+I[1 a 1.50 2024-01-02 03:04:05 +0000 UTC]\n+I[2 b 2.25 <nil>]\n+I[3 <nil> 0.33 <nil>]\n"
	if got := collect(t, rows); got != want {
		t.Errorf("Go source:\n%s\nwant\n%s", got, want)
	}
	// Re-registering replaces the table; conversion errors name row and column.
	bad := func(yield func(sluice.Kind, []any) bool) {
		_ = yield(sluice.Insert, []any{1, "x", "1", nil}) && yield(sluice.Insert, []any{"two", "y", "2", nil})
	}
	if err := eng.RegisterSource("items", cols, bad, true); err != nil {
		t.Fatal(err)
	}
	rows, err = eng.Query(ctx, "SELECT id FROM items")
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, rows); !strings.Contains(got, "go source 'items': row 2: column id INT NOT NULL: got string, want int64") {
		t.Errorf("conversion error: %s", got)
	}
	for _, c := range []struct {
		row  []any
		want string
	}{
		{[]any{nil, "x", "1", nil}, "NULL in a NOT NULL column"},
		{[]any{int64(1 << 40), "x", "1", nil}, "1099511627776 is out of range"},
		{[]any{1, "x", "12345.678", nil}, "12345.68 does not fit"},
		{[]any{1, "x"}, "row 1 has 2 values, want 4"},
	} {
		if err := eng.RegisterSource("items", cols, func(yield func(sluice.Kind, []any) bool) { yield(sluice.Insert, c.row) }, true); err != nil {
			t.Fatal(err)
		}
		rows, err := eng.Query(ctx, "SELECT id FROM items")
		if err != nil {
			t.Fatal(err)
		}
		if got := collect(t, rows); !strings.Contains(got, c.want) {
			t.Errorf("%v: got %q, want %q", c.row, got, c.want)
		}
	}
	// An insert-only source refuses update rows; WithUpdates accepts them (a retract changelog).
	upd := func(yield func(sluice.Kind, []any) bool) {
		_ = yield(sluice.Insert, []any{1, "a"}) && yield(sluice.Insert, []any{2, "b"}) &&
			yield(sluice.UpdateBefore, []any{1, "a"}) && yield(sluice.UpdateAfter, []any{1, "c"}) && yield(sluice.Delete, []any{2, "b"})
	}
	kv := []sluice.Column{{Name: "k", Type: "INT"}, {Name: "v", Type: "STRING"}}
	if err := eng.SetRuntimeMode(sluice.Streaming); err != nil {
		t.Fatal(err)
	}
	if err := eng.RegisterSource("kv", kv, upd, true); err != nil {
		t.Fatal(err)
	}
	rows, err = eng.Query(ctx, "SELECT k, v FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, rows); !strings.Contains(got, "row 3 is -U but the source is insert-only") {
		t.Errorf("insert-only source with -U: %s", got)
	}
	if err := eng.RegisterSource("kv", kv, upd, true, sluice.WithUpdates()); err != nil {
		t.Fatal(err)
	}
	rows, err = eng.Query(ctx, "SELECT COUNT(*) AS n FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, rows), "+I[1]\n-U[1]\n+U[2]\n-U[2]\n+U[1]\n-U[1]\n+U[2]\n-U[2]\n+U[1]\n"; got != want {
		t.Errorf("COUNT over a retract source:\n%s\nwant\n%s", got, want)
	}
	if err := eng.RegisterSource("bad", []sluice.Column{{Name: "x", Type: "BIGINTEGER"}}, upd, true); err == nil || !strings.Contains(err.Error(), "column x: type \"BIGINTEGER\"") {
		t.Errorf("bad type: %v", err)
	}
}

// TestUnboundedSourceCancel: a streaming query over an unbounded Go source stops when its context ends.
func TestUnboundedSourceCancel(t *testing.T) {
	eng := open(t)
	var mu sync.Mutex
	stopped := false
	seq := func(yield func(sluice.Kind, []any) bool) {
		defer func() { mu.Lock(); stopped = true; mu.Unlock() }()
		for i := int64(0); ; i++ {
			if !yield(sluice.Insert, []any{i}) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := eng.RegisterSource("ticks", []sluice.Column{{Name: "i", Type: "BIGINT"}}, seq, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxFor(t))
	rows, err := eng.Query(ctx, "SELECT i FROM ticks WHERE MOD(i, 2) = 0")
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(0); want < 10; want += 2 {
		if !rows.Next() || rows.Row().Int64(0) != want {
			t.Fatalf("row: %v %v", rows.Values(), rows.Err())
		}
	}
	cancel()
	for rows.Next() {
	}
	if !errors.Is(rows.Err(), context.Canceled) {
		t.Errorf("Err after cancel: %v", rows.Err())
	}
	if err := rows.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !stopped {
		t.Error("the Go iterator was not stopped by the cancellation")
	}
}

func TestErrorsHavePositions(t *testing.T) {
	eng := open(t)
	_, err := eng.Query(ctxFor(t), "SELECT 1\nFROM nowhere")
	if line, col, _, ok := sluicesql.Position(err); !ok || line != 2 || col != 6 {
		t.Errorf("got %v (%d:%d)", err, line, col)
	}
}
