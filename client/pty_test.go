package client

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// TestMain lets the pty tests run the client in a child process (the test binary itself) whose standard
// streams are a pseudo-terminal, as `sql-client` on a terminal: liner reads the terminal directly.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_CLIENT") == "1" {
		// As cmd/sql-client configures the client.
		given := strings.Fields(os.Getenv("SLUICE_TEST_ARGS"))
		var args []string
		if len(given) > 0 && (given[0] == "gateway" || given[0] == "embedded") {
			args, given = []string{given[0]}, given[1:] // the mode comes first
		}
		args = append(append(args, "-D", "table.local-time-zone=UTC"), given...)
		os.Exit(Main(Config{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			Interactive: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())),
			Progress:    term.IsTerminal(int(os.Stderr.Fd()))}))
	}
	os.Exit(m.Run())
}

// ptyShell is the interactive shell running on a pseudo-terminal.
type ptyShell struct {
	t    *testing.T
	tty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func startPtyShell(t *testing.T) *ptyShell {
	p := startPty(t, "")
	p.expect("Sluice SQL> ")
	return p
}

// startPty runs the client with args on a pseudo-terminal.
func startPty(t *testing.T, args string) *ptyShell {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_CLIENT=1", "SLUICE_TEST_ARGS="+args, "HOME="+t.TempDir(), "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyShell{t: t, tty: tty, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tty.Close()
	})
	return p
}

func (p *ptyShell) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// send types a line.
func (p *ptyShell) send(line string) {
	if _, err := io.WriteString(p.tty, line+"\r"); err != nil {
		p.t.Fatal(err)
	}
}

// expect waits until the output (since the start) contains s n times or more.
func (p *ptyShell) expectN(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.output(), s) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("no %q (x%d) on the terminal after 20s; it shows:\n%s", s, n, p.output())
}

func (p *ptyShell) expect(s string) { p.t.Helper(); p.expectN(s, 1) }

// A background job that fails while the shell waits at its prompt: the failure and its root cause appear at
// once, without any further input.
func TestShellPrintsBackgroundJobFailure(t *testing.T) {
	p := startPtyShell(t)
	p.send(`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000');`)
	p.expectN("Execute statement succeed.", 1)
	p.send(`CREATE TABLE hole (n INT) WITH ('connector' = 'blackhole');`)
	p.expectN("Execute statement succeed.", 2)
	// id = 3 (after about 0.2 s) overflows INT: the job fails in the background.
	p.send(`INSERT INTO hole SELECT CAST(id * 1000000000 AS INT) FROM src;`)
	p.expect("Job ID: ")
	p.expect("failed. Reason:")
	p.expect("line 1, column 1: value 3000000000 is out of range for INT")
	p.expect("DESCRIBE JOB '")
	out := p.output()
	if !strings.Contains(out, "(insert-into_hole) failed") {
		t.Fatalf("the failure does not name the job:\n%s", out)
	}
	// The shell still works, and DESCRIBE JOB shows the cause.
	id := out[strings.Index(out, "Job ID: ")+len("Job ID: "):]
	id = id[:32]
	p.send("DESCRIBE JOB '" + id + "';")
	p.expect("Root cause: value 3000000000 is out of range for INT")
	p.send("QUIT;")
	p.expect("Shutting down the session...")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell did not exit after QUIT:\n%s", p.output())
	}
	if strings.Contains(p.output(), "still running") {
		t.Fatalf("QUIT asked although no job runs:\n%s", p.output())
	}
}

// QUIT with a running job asks first; "n" keeps the job and the shell, "y" stops the job and quits.
func TestShellQuitAsksAboutRunningJobs(t *testing.T) {
	p := startPtyShell(t)
	p.send(`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');`)
	p.expectN("Execute statement succeed.", 1)
	p.send(`CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole');`)
	p.expectN("Execute statement succeed.", 2)
	p.send(`INSERT INTO hole SELECT id FROM src;`)
	p.expect("Job ID: ")
	p.send("QUIT;")
	p.expect("1 job(s) still running: ")
	p.expect("Stop them and quit? [y/N] ")
	p.send("n")
	p.expect("Not quitting; the jobs keep running.")
	p.send("SHOW JOBS;")
	p.expect("RUNNING")
	p.send("QUIT;")
	p.expectN("Stop them and quit? [y/N] ", 2)
	p.send("y")
	p.expect("QUIT: job ")
	p.expect("(insert-into_hole) stopped.")
	p.expect("Shutting down the session...")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell did not exit:\n%s", p.output())
	}
}

// A script waiting for an unbounded job shows a progress line on a terminal, and nothing when piped.
func TestScriptProgressLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "script.sql")
	script := `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');
CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id FROM src;
`
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tty := range []bool{true, false} {
		sigs := make(chan os.Signal, 1)
		var out, errb syncBuf
		done := make(chan int)
		go func() {
			done <- Main(Config{Args: []string{"-f", file}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: sigs, Progress: tty})
		}()
		time.Sleep(2500 * time.Millisecond)
		sigs <- os.Interrupt
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the client did not stop after the interrupt")
		}
		got := errb.String()
		has := strings.Contains(got, "\r\033[K[INFO] 1 job(s) running: ") && strings.Contains(got, " rows in, ") && strings.Contains(got, " rows/s")
		if tty && !has {
			t.Fatalf("no progress line on a terminal; stderr %q", got)
		}
		if !tty && (strings.Contains(got, "running:") || strings.ContainsAny(got, "\r\033")) {
			t.Fatalf("progress output when piped; stderr %q", got)
		}
		if !strings.Contains(got, "Interrupted: job ") {
			t.Fatalf("the interrupt does not say which job it stops; stderr %q", got)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sql-client -f on a terminal shows the progress line while it waits for an unbounded job; Ctrl-C stops the
// job and says so.
func TestScriptProgressOnTerminal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "script.sql")
	script := `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');
CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id FROM src;
`
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPty(t, "-f "+file)
	p.expect("[INFO] 1 job(s) running: ")
	p.expect(" rows/s (Ctrl-C stops)")
	if _, err := p.tty.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	p.expect("Interrupted: job ")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the client did not exit after Ctrl-C:\n%s", p.output())
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.output())
	}
	// Piped, the same script prints no progress.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_CLIENT=1", "SLUICE_TEST_ARGS=-f "+file)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if strings.Contains(errb.String(), "running:") || !strings.Contains(errb.String(), "Interrupted: job ") {
		t.Fatalf("piped stderr: %q", errb.String())
	}
}
