// Package kfakeproc starts franz-go's kfake broker as a separate process (kfaked), so that a benchmark's
// CPU time of its own process (getrusage RUSAGE_SELF) is Sluice's alone, not the broker's. The broker's
// own CPU time is asked of it (Broker.CPU), so a benchmark can say where the machine's cores went.
package kfakeproc

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Broker is a running kfaked process.
type Broker struct {
	Addr string // 127.0.0.1:port

	mu  sync.Mutex
	in  io.Writer
	out *bufio.Reader
}

// Start builds kfaked into dir, runs it with topics of partitions partitions each, and returns the broker's
// address (127.0.0.1). The process ends when tb's cleanup closes its stdin (or kills it).
func Start(tb testing.TB, dir string, partitions int, topics ...string) string {
	tb.Helper()
	return StartBroker(tb, dir, partitions, topics...).Addr
}

// StartBroker is Start, returning the broker so that its CPU time can be read.
func StartBroker(tb testing.TB, dir string, partitions int, topics ...string) *Broker {
	tb.Helper()
	bin := filepath.Join(dir, "kfaked")
	build := exec.Command("go", "build", "-o", bin, "github.com/sluicesql/sluice/internal/kfakeproc/kfaked")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build kfaked: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-partitions", fmt.Sprint(partitions), "-topics", strings.Join(topics, ","))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start kfaked: %v", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	b := &Broker{in: stdin, out: bufio.NewReader(stdout)}
	line, err := b.out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		tb.Fatalf("kfaked printed %q (%v), want its address on 127.0.0.1", line, err)
	}
	b.Addr = addr
	return b
}

// CPU returns the user+system CPU time the broker's process used so far.
func (b *Broker) CPU() (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := io.WriteString(b.in, "cpu\n"); err != nil {
		return 0, fmt.Errorf("ask kfaked for its CPU time: %w", err)
	}
	line, err := b.out.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("read kfaked's CPU time: %w", err)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(line), "cpu ")
	if !ok {
		return 0, fmt.Errorf("kfaked answered %q, want \"cpu <nanoseconds>\"", strings.TrimSpace(line))
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("kfaked answered %q: %w", strings.TrimSpace(line), err)
	}
	return time.Duration(ns), nil
}
