package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDevServicesRunsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"dev-services", "--kafka", "127.0.0.1:0", "--registry", "127.0.0.1:0", "--data-dir", t.TempDir()}, &stdout, &stderr)
	}()
	var addr, registry string
	deadline := time.Now().Add(10 * time.Second)
	for (addr == "" || registry == "") && time.Now().Before(deadline) {
		for _, l := range strings.Split(stdout.String(), "\n") {
			if a, ok := strings.CutPrefix(l, "kafka: "); ok {
				addr = a
			}
			if a, ok := strings.CutPrefix(l, "schema-registry: "); ok {
				registry = a
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if registry == "" {
		t.Fatalf("no registry address printed; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	resp, err := http.Get(registry + "/subjects")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("registry at %s: %v %v", registry, resp, err)
	}
	resp.Body.Close()
	if addr == "" {
		t.Fatalf("no address printed; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := cl.Ping(pctx); err != nil {
		t.Fatalf("broker at %s not reachable: %v", addr, err)
	}
	cl.Close()
	cancel() // as SIGTERM does
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dev-services did not stop")
	}
	if !strings.HasSuffix(stdout.String(), "stopped\n") {
		t.Fatalf("stdout %q", stdout.String())
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "unknown command 'nope'") {
		t.Fatalf("code %d stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"dev-services", "--kafka", "nonsense"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not host:port") {
		t.Fatalf("code %d stderr %q", code, stderr.String())
	}
}

func TestDevServicesHelpStatesTheGuarantee(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"dev-services", "-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{"There is no flush interval", "every\nacknowledged record is there exactly once", "-fsync"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dev-services -h lacks %q:\n%s", want, stderr.String())
		}
	}
}
