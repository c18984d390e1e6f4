// Package proctest runs Sluice's sql-client as a real subprocess for tests that kill it with SIGKILL at
// random moments (crashtest, the filesystem and jdbc connectors): build the binary once, start it on a
// script, read what it printed, kill it, and tell whether it ended by itself.
package proctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildClient builds cmd/sql-client into dir with the go build flags given (e.g. -race) and returns the
// binary's path.
func BuildClient(dir string, flags ...string) (string, error) {
	bin := filepath.Join(dir, "sql-client")
	args := append(append([]string{"build"}, flags...), "-o", bin, "github.com/sluicesql/sluice/cmd/sql-client")
	build := exec.Command("go", args...)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build sql-client: %v\n%s", err, out)
	}
	return bin, nil
}

// Client is one sql-client process running a script.
type Client struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// raceReport is how the race detector of a binary built with -race starts a report (on stderr, when it
// finds the race: a process killed later has printed it already).
const raceReport = "WARNING: DATA RACE"

// Start writes script into a new file under dir and runs bin -f on it. When the test ends, it fails if the
// process reported a data race (a binary built with -race).
func Start(t testing.TB, bin, dir, script string) *Client {
	t.Helper()
	return StartEnv(t, bin, dir, script)
}

// StartEnv is Start with env ("NAME=value") added to the process's environment (the test process's).
func StartEnv(t testing.TB, bin, dir, script string, env ...string) *Client {
	t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("script-%d.sql", time.Now().UnixNano()))
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Client{done: make(chan struct{})}
	c.cmd = exec.Command(bin, "-f", f)
	if len(env) > 0 {
		c.cmd.Env = append(os.Environ(), env...)
	}
	c.cmd.Stdout, c.cmd.Stderr = (*writer)(c), (*writer)(c)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out := c.Output(); strings.Contains(out, raceReport) {
			t.Errorf("sql-client (%s) reported a data race:\n%s", f, out[strings.Index(out, raceReport):])
		}
	})
	go func() {
		err := c.cmd.Wait()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	return c
}

type writer Client

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (c *Client) Kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Exited reports whether the process has ended (by itself, unless Kill was called).
func (c *Client) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end by itself and returns its exit error; ended is false (and
// the process is killed) when it did not end in time.
func (c *Client) Wait(timeout time.Duration) (ended bool, err error) {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return true, c.err
	case <-time.After(timeout):
		c.Kill()
		return false, nil
	}
}

// Output returns what the process printed so far (stdout and stderr).
func (c *Client) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Dump sends SIGQUIT (the Go runtime prints every goroutine's stack and exits), waits up to 10 s for the
// process to end, kills it otherwise, and returns its output: for a test to show where a stalled client was.
func (c *Client) Dump() string {
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.Kill()
	}
	return c.Output()
}
