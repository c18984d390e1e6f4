package client

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// interruptScript runs script with sql-client -f, checks that it is still running after 300 ms, sends an
// interrupt and returns the exit code and what the client printed (stdout, stderr).
func interruptScript(t *testing.T, script string) (int, string, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Main(Config{Args: []string{"-f", file}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: sigs})
	}()
	select {
	case code := <-done:
		t.Fatalf("the script ended by itself (exit %d) although its source is unbounded\n%s%s", code, out.String(), errb.String())
	case <-time.After(300 * time.Millisecond):
	}
	sigs <- os.Interrupt
	select {
	case code := <-done:
		return code, out.String(), errb.String()
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not stop within 10s of the interrupt")
	}
	return 0, "", ""
}

// An unbounded INSERT keeps `sql-client -f` running until an interrupt, which cancels the job cleanly.
func TestInterruptStopsUnboundedJob(t *testing.T) {
	code, out, errb := interruptScript(t, `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT id FROM src;
`)
	if code != 0 {
		t.Fatalf("exit %d after interrupt, want 0\n%s%s", code, out, errb)
	}
	if !strings.Contains(errb, "Interrupted: job") {
		t.Fatalf("no interruption notice on stderr:\n%s", errb)
	}
}

// An interrupt during a batch SELECT ends the query with "Query terminated." and no error: the cancel is
// the user's (QueryResult.Err reports the cancelled ctx, which the shell must not print as a failure).
func TestInterruptStopsBatchQuery(t *testing.T) {
	code, out, errb := interruptScript(t, `SET 'execution.runtime-mode' = 'batch';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '2000000000');
SELECT COUNT(*) FROM src;
`)
	if code != 0 || strings.Contains(errb, "ERROR") || strings.Contains(out, "ERROR") {
		t.Fatalf("exit %d after interrupt, want 0 and no error\n%s%s", code, out, errb)
	}
	if !strings.Contains(out, "Query terminated.") {
		t.Fatalf("no termination notice:\n%s%s", out, errb)
	}
}
