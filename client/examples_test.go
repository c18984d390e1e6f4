package client

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestExamples runs every script under examples/ the way the README says (sql-client --embedded -f), on
// free ports without editing them, and checks that it succeeds and prints a changelog: the README's commands stay true.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// The examples run unedited on moved ports: their addresses are ${SLUICE_...} variables (vars.go).
			kafka, registry := freeAddr(t), freeAddr(t)
			file := f
			var out, errb bytes.Buffer
			code := Main(Config{Args: []string{"--embedded", "--embedded-kafka", kafka, "--embedded-registry", registry, "-f", file},
				Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: make(chan os.Signal)})
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
			}
			t.Logf("%d lines of output", strings.Count(out.String(), "\n"))
			if !strings.Contains(out.String(), "+I[") && !strings.Contains(out.String(), "rows in set") {
				t.Fatalf("no changelog or result printed:\n%s", out.String())
			}
		})
	}
}
