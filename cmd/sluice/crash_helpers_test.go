package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildSluice compiles this command once per test run into a temporary directory and returns the binary's
// path, so that tests can run `sluice dev-services` as a real process and kill it with SIGKILL.
func buildSluice(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if buildDir, buildErr = os.MkdirTemp("", "sluice-build-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "sluice")
		if out, err := exec.Command(goBin, "build", "-o", buildBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// devProcess is a running `sluice dev-services` process.
type devProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
}

// startDev starts `sluice dev-services` on 127.0.0.1:port with dataDir and waits until it prints "ready".
func startDev(t *testing.T, bin string, port int, dataDir string, partitions int) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev-services",
		"--kafka", "127.0.0.1:"+strconv.Itoa(port),
		"--registry", "",
		"--data-dir", dataDir,
		"--partitions", strconv.Itoa(partitions))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.done
				t.Fatalf("dev-services exited before ready: %v; stderr %q", cmd.ProcessState, p.stderr.String())
			}
			if a, ok := strings.CutPrefix(l, "kafka: "); ok {
				p.addr = a
			}
			if strings.HasPrefix(l, "ready") {
				if p.addr == "" {
					t.Fatal("dev-services printed no kafka address")
				}
				go func() {
					for range lines {
					}
				}()
				return p
			}
		case <-timeout:
			t.Fatalf("dev-services not ready after 15s; stderr %q", p.stderr.String())
		}
	}
}

// kill sends SIGKILL (as `kill -9` does) and waits for the process to be gone. It is a no-op once the process
// has exited.
func (p *devProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && err != os.ErrProcessDone {
		t.Errorf("kill -9: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("dev-services did not die after SIGKILL")
	}
}

// consumed is one record read back, with where it was found.
type consumed struct {
	partition int32
	offset    int64
	key       string
	value     string
	headers   string
	timestamp time.Time
}

// readAll reads every record of topic from the start up to the high watermarks listed when it begins.
func readAll(t *testing.T, addr, topic string) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets of %s: %v %v", topic, err, ends.Error())
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []consumed
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s after %d records (waiting for %v): %v", topic, len(out), remaining, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, toConsumed(r))
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

func toConsumed(r *kgo.Record) consumed {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return consumed{
		partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value),
		headers: strings.Join(hs, ","), timestamp: r.Timestamp,
	}
}

// readCommitted reads topic with isolation read_committed until it has want records, then polls a little longer
// to catch any record beyond them.
func readCommitted(t *testing.T, addr, topic string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read_committed %s after %d of %d records %v: %v", topic, len(out), want, out, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	extra, cancelExtra := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelExtra()
	cl.PollFetches(extra).EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	return out
}

func (c consumed) String() string {
	return fmt.Sprintf("%d@%d key=%s value=%s headers=%s ts=%d", c.partition, c.offset, c.key, c.value, c.headers,
		c.timestamp.UnixMilli())
}
