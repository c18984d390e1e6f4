package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestBenchNexmarkProfiles: --cpuprofile and --memprofile write one gzipped pprof file per query.
func TestBenchNexmarkProfiles(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "nexmark", "--events", "20000", "--queries", "q0,q17", "--cpuprofile", dir, "--memprofile", filepath.Join(dir, "heap")}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, f := range []string{"q0.cpu.pprof", "q17.cpu.pprof", "heap/q0.heap.pprof", "heap/q17.heap.pprof"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: %d bytes, not a gzipped profile", f, len(b))
		}
	}
}
