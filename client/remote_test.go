package client

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/gateway"
)

const remoteScript = `CREATE TABLE nums (n INT, name STRING, price DECIMAL(10, 2), ok BOOLEAN) WITH (
  'connector' = 'datagen', 'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '6',
  'fields.name.length' = '4');
CREATE TABLE sink (n INT) WITH ('connector' = 'blackhole');
SHOW TABLES;
DESCRIBE nums;
SELECT n % 3 AS k, COUNT(*) AS c, MAX(n) AS m FROM nums GROUP BY n % 3;
SELECT n, CAST(NULL AS STRING) AS nothing, n > 3 AS big FROM nums WHERE n < 3;
EXPLAIN SELECT n FROM nums;
SET 'execution.runtime-mode' = 'batch';
SELECT n % 2 AS odd, SUM(n) AS s FROM nums GROUP BY n % 2;
INSERT INTO sink SELECT n FROM nums;
SET 'sql-client.verbose' = 'true';
SELECT nope
  FROM nums;
`

// startGateway serves a gateway (with token, when not empty) on a free loopback port until the test ends and
// returns its address.
func startGateway(t *testing.T, token string) string {
	t.Helper()
	l, err := gateway.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gateway.New(gateway.Config{Token: token, Stdout: io.Discard, Stderr: io.Discard}).Serve(ctx, l)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

// TestRemoteShellMatchesEmbedded runs one script with sql-client -f and with sql-client gateway -f against
// an in-process gateway: the outputs are the same.
func TestRemoteShellMatchesEmbedded(t *testing.T) {
	addr := startGateway(t, "tok")

	file := filepath.Join(t.TempDir(), "script.sql")
	if err := os.WriteFile(file, []byte(remoteScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		args = append(args, "-D", "table.local-time-zone=UTC", "-f", file)
		code := Main(Config{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: make(chan os.Signal)})
		// The batch INSERT may still run when the remote client ends: it then says the session stays open.
		errs := regexp.MustCompile(`\[INFO\] 1 job\(s\) keep running in the gateway; session \S+ stays open there.\n`).ReplaceAllString(errb.String(), "")
		return scrub(out.String(), errs, code, file)
	}
	embedded := run()
	remote := run("gateway", "--endpoint", addr, "--token", "tok")
	if embedded != remote {
		t.Fatalf("embedded:\n%s\nremote:\n%s", embedded, remote)
	}
	for _, want := range []string{"| +U |", "Received a total of", "nums", "<NULL>", "FALSE", "Job ID: <job-id>", ":14:8: ", "nope", "Caused by: ", "exit 1"} {
		if !strings.Contains(remote, want) {
			t.Errorf("output lacks %q:\n%s", want, remote)
		}
	}
	// A wrong token: a clear error, no session.
	var out, errb bytes.Buffer
	code := Main(Config{Args: []string{"gateway", "-e", addr, "-f", file}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: make(chan os.Signal)})
	if code != 1 || !strings.Contains(errb.String(), "Unauthorized") {
		t.Fatalf("without token: %d %q", code, errb.String())
	}
}

// TestRemoteShellReportsJobFailure: a job submitted from the remote shell fails in the gateway while the
// shell waits for input; the shell prints its root cause and statement position at once, as the embedded
// shell does, and only once (not again when the shell ends).
func TestRemoteShellReportsJobFailure(t *testing.T) {
	addr := startGateway(t, "")

	in, feed := io.Pipe()
	var out, errb syncBuf
	exited := make(chan int)
	go func() {
		exited <- Main(Config{Args: []string{"gateway", "--endpoint", addr}, Stdin: in, Stdout: &out, Stderr: &errb, Signals: make(chan os.Signal)})
	}()
	io.WriteString(feed, "CREATE TABLE hole (id INT) WITH ('connector' = 'blackhole');\nINSERT INTO hole\n  SELECT CAST(9999999999 AS INT);\n")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(errb.String(), "failed. Reason:") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msg := errb.String()
	if !strings.Contains(msg, "failed. Reason:") {
		t.Fatalf("no failure printed while the shell waits for input; stdout:\n%s\nstderr:\n%s", out.String(), msg)
	}
	feed.Close()
	if code := <-exited; code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	want := regexp.MustCompile(`\[ERROR\] Job \S+ \(insert-into_hole\) failed\. Reason:\nline 1, column 1: value 9999999999 is out of range for INT\nCaused by: .*out of range for INT\n`)
	if !want.MatchString(msg) {
		t.Fatalf("failure message:\n%s", msg)
	}
	if n := strings.Count(errb.String(), "failed. Reason:"); n != 1 {
		t.Fatalf("the failure was printed %d times:\n%s", n, errb.String())
	}
}
