// Package kfakeproc starts franz-go's kfake broker as a separate process (kfaked), so that a benchmark's
// CPU time of its own process (getrusage RUSAGE_SELF) is Sluice's alone, not the broker's.
package kfakeproc

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start builds kfaked into dir, runs it with topics of partitions partitions each, and returns the broker's
// address (127.0.0.1). The process ends when tb's cleanup closes its stdin (or kills it).
func Start(tb testing.TB, dir string, partitions int, topics ...string) string {
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		tb.Fatalf("kfaked printed %q (%v), want its address on 127.0.0.1", line, err)
	}
	return addr
}
